"""Emitting Qt signals without the reference PySide6 6.12.0 drops on every `emit()`.

PySide6 6.12.0's `SignalInstance.emit()` returns True without taking a reference to it (measured: one emit
lowers `sys.getrefcount(True)` by one). On Python 3.11, where True is not immortal, the count reaches zero
after some 10,000 emits (11 minutes of camera frames at 15 fps, or fewer plus the references released at
exit) and the interpreter aborts with "Fatal Python error: bool_dealloc". Whether the running PySide6 does
this is measured once, on a private signal; only then does `emit()` hand the reference back.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    fired = Signal()


def _emit_drops_a_reference(rounds: int = 8) -> bool:
    """Emit a private signal `rounds` times and count True's references: a correct emit returns a new one."""
    if sys.version_info >= (3, 12):  # True and False are immortal there: a dropped reference cannot kill them
        return False
    probe = _Probe()
    before = sys.getrefcount(True)
    results = [probe.fired.emit() for _ in range(rounds)]
    held = sum(1 for result in results if result is True)
    lost = before + held - sys.getrefcount(True)
    if held != rounds or lost < rounds:
        return False
    for result in results:  # the list will release these references: give back what the emits took
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
    return True


EMIT_DROPS_REFERENCE = _emit_drops_a_reference()


def emit(signal: Any, *args: Any) -> None:
    """`signal.emit(*args)`, paying back the reference a buggy PySide6 takes from the returned bool."""
    result = signal.emit(*args)
    if EMIT_DROPS_REFERENCE and (result is True or result is False):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))
