"""Numbers on the command line are checked where argparse reads them: nan, inf, huge or negative seconds get
one line naming the option and exit 2 (before: a traceback from Qt's timer, or a run that quit at once)."""
from __future__ import annotations

import pytest

from kiosk.cli import main


@pytest.mark.parametrize("argv", [
    ["demo", "--no-camera", "--duration"], ["run", "--no-camera", "--duration"],
    ["peripheral", "--port", "/dev/null", "--seconds"], ["privacy-zones", "--seconds"],
    ["analyze", "demo", "--seconds"], ["analyze", "demo", "--open-timeout"],
])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e300", "-1", "0", "ten"])
def test_seconds_must_be_finite_and_positive(argv: list[str], value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*argv[:-1], f"{argv[-1]}={value}"])  # the = form: argparse would take "-inf" for an option
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith(f"moodkiosk {argv[0]}: error: argument {argv[-1]}: ")
    assert "seconds" in err[-1]
