"""Ctrl-C that a finalizer swallowed: remembered, and raised again at the next safe point.

A SIGINT that arrives while Python runs a ``__del__`` (z3 frees its terms that way, often)
raises KeyboardInterrupt inside it, and Python prints "Exception ignored" and goes on: the
run did not stop (a CI run of ``prove --jobs 2`` timed out so).  ``install`` makes SIGINT
also set a flag, and the long loops call ``check`` (Houdini's questions, the encoding's
workers), which raises it again where it cannot be lost.
"""

from __future__ import annotations

import signal
import threading

_pending = threading.Event()


def _handler(signum, frame) -> None:  # noqa: ARG001
    _pending.set()
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT through ``_handler`` (from the main thread; a command calls it first)."""
    _pending.clear()
    signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if a Ctrl-C came and may have been swallowed."""
    if _pending.is_set():
        _pending.clear()
        raise KeyboardInterrupt
