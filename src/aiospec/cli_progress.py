"""Progress of long runs (``check``, ``bmc``, ``prove``): a live status line on a terminal, and
timestamped lines on stderr when the output goes to a log, so that a redirected run of an hour
is not silent."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape


@contextmanager
def reporter(err: Console, what: str, every: float = 30.0, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A ``say(message)`` for ``what``: on a terminal it updates one status line; otherwise (a log
    file, CI) it prints a timestamped line on stderr, one per phase and at most one every
    ``every`` seconds within a phase (messages of one phase differ only in their numbers).
    ``err`` is the stderr console: whether it is a terminal decides which.  ``enabled=False``
    (``--no-progress``) gives a ``say`` that prints nothing."""
    if not enabled:
        yield lambda msg: None
        return
    if err.is_terminal:
        with err.status(f"{what} ...") as status:
            yield lambda msg: status.update(escape(f"{what}: {msg}"))
        return
    t0 = time.monotonic()
    last = {"phase": None, "at": -every}

    def say(msg: str) -> None:
        now = time.monotonic()
        phase = re.sub(r"\d[\d,.]*", "", msg)
        if phase != last["phase"] or now - last["at"] >= every:
            last["phase"], last["at"] = phase, now
            print(f"[{now - t0:7.1f}s] {what}: {msg}", file=sys.stderr, flush=True)

    yield say
