"""The offer build's operator-facing error (one line: file, row, column, problem)."""
from __future__ import annotations

from central.errors import CentralError


class BuildInputError(CentralError):
    """An input of `offers-build` is unusable; nothing was written."""
