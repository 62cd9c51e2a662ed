"""Third-party telemetry off before the inference libraries start: the kiosk sends nothing but its own
anonymous aggregates to its own broker.

onnxruntime's Linux builds carry Microsoft's 1DS telemetry: `import onnxruntime` alone writes a device id and
an event database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime. ORT_DISABLE_TELEMETRY=1 before the
import stops that (measured: no files), and `disable_telemetry_events()` turns the events off for the process.
MediaPipe 1.2.2 posts usage logs from a background thread with its built-in libcurl
(tasks::core::logging::google_internal::HttpAsyncClient, seen with `strace -k`: a DNS lookup, then HTTPS to
Google) and documents no switch for it. libcurl honours the proxy variables, so the kiosk process points
them at a closed loopback port: the client fails locally, with no DNS lookup and nothing leaving the host.
The kiosk itself makes no HTTP requests (MQTT does not use these variables), so nothing else is affected.
tests/qt/test_kiosk_keeps_to_itself.py records every connect() of the kiosk under strace to prove it."""
from __future__ import annotations

import logging
import os
from types import ModuleType

log = logging.getLogger(__name__)


BLACKHOLE_PROXY = "http://127.0.0.1:9"  # the discard port, closed on a kiosk


def quiet_mediapipe_env() -> None:
    """Call before `import mediapipe`: its libcurl usage-log client goes to a closed local port. Set even
    when the machine has a proxy configured (that proxy would carry the logs out), and no host is exempt."""
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ[name] = BLACKHOLE_PROXY
    for name in ("no_proxy", "NO_PROXY"):
        os.environ.pop(name, None)


def quiet_onnxruntime_env() -> None:
    """Call before the first `import onnxruntime` (an operator's explicit setting wins)."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def quiet_onnxruntime(ort: ModuleType) -> None:
    """Telemetry events off (idempotent); builds without telemetry lack the switch and need nothing."""
    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()
    else:
        log.debug("onnxruntime %s has no telemetry switch", getattr(ort, "__version__", "?"))
