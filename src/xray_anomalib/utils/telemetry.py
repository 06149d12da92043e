"""OpenVINO's usage telemetry, declined: importing ``openvino`` would otherwise write ``~/intel`` and phone home.

``import openvino`` (and NNCF) configure OpenVINO's telemetry (``openvino_telemetry``), which, without a consent
file, writes a client id and statistics under ``~/intel`` and sends events to Google Analytics from a background
thread. This toolkit runs next to patient data: :func:`decline_openvino_telemetry`, called when ``xray_anomalib``
is imported, makes the telemetry's consent check answer "declined" in this process, the answer a consent file
saying no gives (``opt_in_out --opt_out``), without writing one. If OpenVINO was imported first, its telemetry is
switched off from then on (the files it wrote at import stay).
"""

from __future__ import annotations

from typing import Any


def decline_openvino_telemetry() -> None:
    """Make OpenVINO's telemetry consent check answer "declined" in this process; nothing is sent or written."""
    try:
        from openvino_telemetry import Telemetry
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:  # no telemetry package, no telemetry
        return

    def declined(self: OptInChecker, *args: Any, **kwargs: Any) -> ConsentCheckResult:
        del self, args, kwargs
        return ConsentCheckResult.DECLINED

    OptInChecker.check = declined  # type: ignore[method-assign]
    configured = getattr(Telemetry, "_SingletonMetaClass__single_instance", None)  # set by an earlier import
    if configured is not None:
        configured.consent = False
