"""The one safe-callback helper, and that the places which call foreign code use it."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from vision.callbacks import call_safely

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("test.callbacks")


def test_a_failing_callback_is_logged_with_its_name_and_the_caller_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[int] = []

    def broken_listener(value: int) -> None:
        seen.append(value)
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="test.callbacks"):
        assert call_safely(broken_listener, 7, log, "state listener") is False
    assert seen == [7]
    record = caplog.records[-1]
    assert "state listener failed" in record.getMessage() and "broken_listener" in record.getMessage()
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])
    assert call_safely(seen.append, 8, log, "x") is True and seen == [7, 8]
    assert call_safely(None, 9, log, "absent listener") is True


def test_a_keyboard_interrupt_is_not_swallowed() -> None:
    def interrupted(_: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_safely(interrupted, None, log, "x")


@pytest.mark.parametrize("path", ["kiosk/session.py", "kiosk/services/telemetry.py", "kiosk/services/peripheral.py",
                                  "kiosk/services/serial_cards.py", "vision/sources.py", "vision/pipeline.py"])
def test_no_hand_written_copy_is_left(path: str) -> None:
    """A `try: <callback>(value) except Exception: log` copy: a call of a stored `_on_*` or listener inside a try."""
    code = (ROOT / path).read_text(encoding="utf-8")
    copies = re.findall(r"try:\n\s+(?:self\._on_\w+|listener|callback)\(\w+\)\n\s+except Exception", code)
    assert copies == []
