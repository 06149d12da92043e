"""Our errors reach an ``anomalib`` CLI user as one line, instead of last under 150-220 lines of traceback.

anomalib's CLI prints every uncaught exception as a rich traceback. An error raised by xray-anomalib on purpose
(a wrong MURA root, a bad CSV row, an impossible split) already says all the user needs, so under the
``anomalib`` command it is printed alone, with a note on how to get the traceback back
(``XRAY_ANOMALIB_TRACEBACK=1``). Any other exception, and every exception in other programs, is left to the hook
that was installed before.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

PACKAGE_FOLDER = Path(__file__).resolve().parents[1]
TRACEBACK_VARIABLE = "XRAY_ANOMALIB_TRACEBACK"
OUR_PACKAGES = ("xray_anomalib", "xray_anomalib_plugins")
OUR_ERROR_BASES = (ValueError, OSError, KeyError)
"""Exceptions we raise with a message for the user; a bug raises others (``TypeError``, ``AttributeError``...)."""


def raised_on_purpose(error: BaseException, trace: TracebackType | None) -> bool:
    """Whether xray-anomalib raised ``error`` itself: its own error class, or a plain one raised in its code."""
    if type(error).__module__.split(".")[0] in OUR_PACKAGES:
        return True
    if not isinstance(error, OUR_ERROR_BASES) or trace is None:
        return False
    while trace.tb_next is not None:
        trace = trace.tb_next
    return Path(trace.tb_frame.f_code.co_filename).resolve().is_relative_to(PACKAGE_FOLDER)


def shorten_our_errors_under_anomalib_cli() -> None:
    """Under the ``anomalib`` command, print an error xray-anomalib raised on purpose as one line."""
    if Path(sys.argv[0]).name != "anomalib" or os.environ.get(TRACEBACK_VARIABLE) == "1":
        return
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if not raised_on_purpose(error, trace):
            previous(kind, error, trace)
            return
        print(f"anomalib: error: {error}", file=sys.stderr)
        print(f"(raised by xray-anomalib; {TRACEBACK_VARIABLE}=1 shows the traceback)", file=sys.stderr)

    sys.excepthook = hook
