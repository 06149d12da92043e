"""xray-anomalib: unsupervised anomaly detection on X-ray films, built on anomalib.

Importing the package declines OpenVINO's usage telemetry (:mod:`xray_anomalib.utils.telemetry`).
"""

from xray_anomalib.utils.telemetry import decline_openvino_telemetry

decline_openvino_telemetry()
