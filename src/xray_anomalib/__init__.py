"""xray-anomalib: unsupervised anomaly detection on X-ray films, built on anomalib.

Importing the package declines OpenVINO's usage telemetry (:mod:`xray_anomalib.utils.telemetry`) and, under the
``anomalib`` command, prints the errors it raises on purpose as one line (:mod:`xray_anomalib.utils.cli_errors`).
"""

from xray_anomalib.utils.cli_errors import shorten_our_errors_under_anomalib_cli
from xray_anomalib.utils.telemetry import decline_openvino_telemetry

decline_openvino_telemetry()
shorten_our_errors_under_anomalib_cli()
