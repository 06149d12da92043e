"""anomalib's post-processor with the image threshold at an operating point of the validation films.

anomalib fits the image threshold that maximises F1 on the validation items. With a weak detector and few
anomalous validation films that threshold is low (the main job's CAE labelled 109 of 110 validation films
anomalous). A clinical reader wants a threshold that means something: "at most 5% of normal films flagged"
(``policy: specificity, target: 0.95``, which needs normal validation films only), or "at least 95% of anomalous
films flagged" (``policy: sensitivity``). The threshold is fitted at the end of each validation epoch, kept in the
checkpoint and written into the deployment settings, so ``predict``'s labels mean what the policy says. The pixel
threshold stays anomalib's F1-adaptive one.

Example (any model of ours, in its YAML)::

    model:
      init_args:
        post_processor:
          class_path: xray_anomalib.post_processing.OperatingPointPostProcessor
          init_args: {policy: specificity, target: 0.95}
"""

from __future__ import annotations

from typing import Any

from anomalib.post_processing import PostProcessor

from xray_anomalib.metrics.operating_points import OperatingPointThreshold, ThresholdPolicy

F1_ADAPTIVE = "F1-adaptive on the validation films (anomalib's default)"
"""How anomalib's own post-processor chooses the image threshold."""


class OperatingPointPostProcessor(PostProcessor):
    """anomalib's post-processor whose image threshold is chosen by ``policy`` on the validation items.

    Args:
        policy: ``specificity`` (at least ``target`` of the normal validation items at or below the threshold) or
            ``sensitivity`` (at least ``target`` of the anomalous ones above it).
        target: The share, in ``(0, 1]``.
        **kwargs: Passed to anomalib's ``PostProcessor``.
    """

    def __init__(self, policy: str = ThresholdPolicy.SPECIFICITY.value, target: float = 0.95, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = ThresholdPolicy(policy).value
        self.target = float(target)
        threshold = OperatingPointThreshold(self.policy, self.target, strict=False)
        self._image_threshold_metric = threshold  # type: ignore[assignment]  # anomalib types it as its F1 one

    @property
    def _checkpoint_config_keys(self) -> tuple[str, ...]:
        """The settings a checkpoint keeps: anomalib's, the policy and its target."""
        return (*super()._checkpoint_config_keys, "policy", "target")

    @property
    def threshold_policy(self) -> str:
        """The policy in words, e.g. ``specificity >= 0.95 on the validation films``."""
        return f"{self.policy} >= {self.target:g} on the validation films"
