"""argparse types for every command's values: a finite number in its range, a whole number in its range, a
list of either, an id; anything else is one line and exit 2 from argparse.

Why one module: each command had its own copies, with different messages and different gaps (`nan` passed
one of them; `1e300` seconds reached Qt's timers as a traceback)."""
from __future__ import annotations

import argparse
import math
from typing import Callable, TypeVar

from contract.errors import ContractError
from contract.topics import validate_id

T = TypeVar("T")


def number_between(low: float, high: float, unit: str = "", *, above_low: bool = False) -> Callable[[str], float]:
    """A finite number, `low` <= value <= `high` (`low` < value with `above_low`), for argparse's `type=`."""
    unit_text = f" {unit}" if unit else ""
    bound = f"more than {low:g} and at most {high:g}" if above_low else f"{low:g}..{high:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number{' of ' + unit if unit else ''}") from None
        inside = (low < value if above_low else low <= value) and value <= high
        if not math.isfinite(value) or not inside:
            raise argparse.ArgumentTypeError(f"must be {bound}{unit_text} (got {text})")
        return value

    return parse


def whole_between(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """A whole number, `low` <= value <= `high`, for argparse's `type=`."""
    unit_text = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low}..{high}{unit_text} (got {text})")
        return value

    return parse


def comma_list(parse: Callable[[str], T]) -> Callable[[str], tuple[T, ...]]:
    """`A,B,C`, each part read by `parse` (its message names the part that is wrong)."""

    def parse_all(text: str) -> tuple[T, ...]:
        return tuple(parse(part.strip()) for part in text.split(","))

    return parse_all


def identifier(kind: str) -> Callable[[str], str]:
    """A store, kiosk or group id as the contract allows it (`contract.validate_id`), for argparse's `type=`."""

    def parse(text: str) -> str:
        try:
            return validate_id(text, kind)
        except ContractError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse
