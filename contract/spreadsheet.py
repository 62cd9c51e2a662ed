"""CSV cells a spreadsheet will not run: text from outside (store names, product or member ids) quoted when it
would start a formula. Shared by central's CSV exports and the kiosk's evaluation dump."""
from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """`value`, or text that starts like a formula (= + - @, tab, CR) behind a leading ' (shown, never run)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
