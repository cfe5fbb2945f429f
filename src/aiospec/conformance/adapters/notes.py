"""Counting the completion notifications an implementation delivers (``RunOutcome.notifications``).

A scenario asks for a notification per request with an aiocb's ``sigev`` and for a list
notification with ``lio_listio(LIO_NOWAIT, [...], SIGNAL|KEVENT)``.  Each adapter delivers the
kinds its implementation has through its own mechanism (a real-time signal for glibc, a done
callback for futures and asyncio, a CQE for io_uring, ...) and counts them here; the verdict
compares the counts with what the spec posts (``conformance.notify``).
"""

from __future__ import annotations

import threading
from collections import Counter

from ...spec.constants import Sigev
from ...spec.scenario import Call, Scenario
from ..observation import Notifications

__all__ = ["ListNote", "Notes"]


class Notes:
    """Thread-safe counts per aiocb and per lio slot, for the notification ``kinds`` the
    implementation delivers (the spec's ``Sigev`` values)."""

    def __init__(self, sc: Scenario, kinds: frozenset[Sigev] = frozenset({Sigev.SIGNAL})) -> None:
        self.sc, self.kinds = sc, kinds
        self.lock = threading.Lock()
        self.aiocbs: Counter[str] = Counter()
        self.lists: Counter[int] = Counter()

    def wants(self, aiocb: str) -> bool:
        """Does a request submitted with ``aiocb`` ask for a notification?"""
        acb = self.sc.aiocbs.get(aiocb)
        return acb is not None and acb.sigev in self.kinds

    def job(self, aiocb: str) -> None:
        """A notification for a request of ``aiocb`` arrived."""
        with self.lock:
            self.aiocbs[aiocb] += 1

    def listed(self, slot: int) -> None:
        """A list notification for the lio_listio call of ``slot`` arrived."""
        with self.lock:
            self.lists[slot] += 1

    def open_list(self, call: Call) -> "ListNote | None":
        """A list notification to deliver for this lio_listio call, or None (LIO_WAIT, or no
        sigevent: the spec posts none)."""
        if call.kind == "lio_listio" and call.mode == "LIO_NOWAIT" and call.sig in self.kinds:
            return ListNote(self, call.lio)
        return None

    def result(self) -> Notifications:
        with self.lock:
            return Notifications(dict(self.aiocbs), dict(self.lists))


class ListNote:
    """A list notification for an implementation that has none of its own: FreeBSD's
    ``lioj_count`` with its extra reference.  ``add`` before submitting each entry, ``done``
    when an entry completes (cancelled or not), ``close`` once every entry is submitted; the
    notification fires once, when the count drops to zero (at ``close`` for a list with no
    entry, as ``kern_lio_listio`` posts it at once)."""

    def __init__(self, notes: Notes, slot: int) -> None:
        self.notes, self.slot = notes, slot
        self.count = 1
        self.lock = threading.Lock()

    def add(self) -> None:
        with self.lock:
            self.count += 1

    def done(self) -> None:
        with self.lock:
            self.count -= 1
            fire = self.count == 0
        if fire:
            self.notes.listed(self.slot)

    close = done
