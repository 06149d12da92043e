"""The offline film pipeline of the paper (hand crop, segmentation, splitting) and its on-disk cache.

It runs once per film before training, unlike anomalib's ``PreProcessor`` inside each model and the online
film transforms of :mod:`xray_anomalib.data.transforms`.
"""

from xray_anomalib.film_pipeline.pipeline import HandCrop, OfflinePipeline, PreprocessingSettings, Variant

__all__ = ["HandCrop", "OfflinePipeline", "PreprocessingSettings", "Variant"]
