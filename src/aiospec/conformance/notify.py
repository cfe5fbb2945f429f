"""Notifications: did every request and list that asked for one get what the spec posts?

A scenario asks for notifications with an aiocb's ``sigev = "SIGNAL"`` / ``"KEVENT"`` (one per
request submitted with it) and with ``lio_listio(LIO_NOWAIT, [...], SIGNAL|KEVENT)`` (one for the
list, when its last entry completes).  The spec counts what it posts in the ghost ``G_POSTS`` of
every job and lio; ``allowed_observations(sc, notifications=True)`` pairs each allowed
observation with those counts at the end of the interleaving.  What FreeBSD does, and so what the
spec allows: one notification when the request completes, **cancelled or not** (every completion,
``ECANCELED`` included, goes through ``aio_bio_done_notify``), none for a request that was never
queued (a submission that failed), none for one that completes during process exit
(``KAIO_RUNDOWN``: P-NOTIFY-EXACT's exception), none for ``LIO_WAIT`` lists (the sigevent is only
registered for ``LIO_NOWAIT``).

Adapters count what their implementation delivered by the end of the run (process exit
included: ``RunOutcome.notifications``), per aiocb and per list.  The run passes this check when
some allowed interleaving that gives the observed results (after the profile's relaxations) also
gives exactly those counts.  A request that a relaxation lets run where the spec rejected it at
submission (``error-at-completion``, ``no-queue-limit``, ``lio-nowait-at-completion``) may have
posted 0 or 1.
"""

from __future__ import annotations

from functools import lru_cache

from ..spec.constants import Errno, Sigev
from ..spec.scenario import Scenario
from .observation import Notifications, RunOutcome
from .relax import _DEFERRABLE, _SUBMIT, PROFILE_RELAXATIONS, _relax_thread, _thread_matches

NOTIFY_KINDS = (Sigev.SIGNAL, Sigev.KEVENT)
_NAMES = {Sigev.SIGNAL: "SIGEV_SIGNAL", Sigev.KEVENT: "SIGEV_KEVENT"}

__all__ = ["NOTIFY_KINDS", "notification_problem", "requested"]


def requested(sc: Scenario) -> tuple[list[str], list[int]]:
    """The aiocbs whose ``sigev`` asks for a notification, and the lio slots of the
    ``lio_listio`` calls that pass a list sigevent (LIO_WAIT included: the spec posts none there)."""
    aiocbs = [x for x, a in sc.aiocbs.items() if a.sigev in NOTIFY_KINDS]
    lists = [c.lio for th in sc.threads for c in th.calls if c.kind == "lio_listio" and c.sig in NOTIFY_KINDS]
    return aiocbs, lists


def _relaxed(sc: Scenario, obs: tuple, rules: tuple[str, ...]) -> tuple[set[int], set[int]]:
    """Job slots and lio slots whose submission the spec rejects in ``obs`` but a relaxation of
    ``rules`` lets run: their posts may be 0 or 1."""
    jobs: set[int] = set()
    lios: set[int] = set()
    for slot in sc.slots:
        hist = obs[slot.thread]
        if slot.call >= len(hist):
            continue
        call, res = sc.threads[slot.thread].calls[slot.call], hist[slot.call][1]
        if call.kind in _SUBMIT and ((res in _DEFERRABLE and "error-at-completion" in rules)
                                     or (res == Errno.EAGAIN and "no-queue-limit" in rules)):
            jobs.add(slot.index)
        elif call.kind == "lio_listio" and res == Errno.EIO and "lio-nowait-at-completion" in rules:
            jobs.add(slot.index)
            lios.add(call.lio)
    return jobs, lios


def _sums(sets: list[set[int]]) -> set[int]:
    out = {0}
    for s in sets:
        out = {a + b for a in out for b in s}
    return out


def _words(counts: set[int]) -> str:
    c = sorted(counts)
    if c == [0]:
        return "none"
    if len(c) == 1:
        return f"exactly {c[0]}"
    return " or ".join(map(str, c))


def notification_problem(sc: Scenario, outcome: RunOutcome, allowed: frozenset | set, profile: str) -> str | None:
    """None when the notifications delivered are what some allowed interleaving with the same
    results posts; else a plain-words explanation.  ``allowed`` holds ``(observation, job posts,
    lio posts)`` triples (``verdict.spec_allowed_notified``)."""
    want_a, want_l = requested(sc)
    if not (want_a or want_l):
        return None
    got = outcome.notifications if outcome.notifications is not None else Notifications()
    rules = PROFILE_RELAXATIONS[profile]
    obs = outcome.observation
    threads = sc.threads

    @lru_cache(maxsize=None)
    def matches(o: tuple) -> bool:
        return all(any(_thread_matches(v, obs[t]) for v in _relax_thread(sc, th.calls, o[t], rules))
                   for t, th in enumerate(threads))

    per_a: dict[str, set[int]] = {x: set() for x in want_a}
    per_l: dict[int, set[int]] = {k: set() for k in want_l}
    seen = 0
    for o, jp, lp in allowed:
        if not matches(o):
            continue
        seen += 1
        loose_j, loose_l = _relaxed(sc, o, rules)
        ok = True
        for x in want_a:
            counts = _sums([{0, 1} if j.index in loose_j else {jp[j.index]} for j in sc.slots if j.aiocb == x])
            per_a[x] |= counts
            ok = ok and got.aiocbs.get(x, 0) in counts
        for k in want_l:
            counts = {0, 1} if k in loose_l else {lp[k]}
            per_l[k] |= counts
            ok = ok and got.lists.get(k, 0) in counts
        if ok:
            return None
    if not seen:
        return None  # the results themselves are not allowed: the observation check says why
    for x in want_a:
        n = got.aiocbs.get(x, 0)
        if n not in per_a[x]:
            kind = _NAMES.get(sc.aiocbs[x].sigev, sc.aiocbs[x].sigev.name)
            return (f"aiocb {x} asked for a {kind} notification and got {n} by the end of the run, where the spec "
                    f"allows {_words(per_a[x])} given these results (FreeBSD posts one when a request completes, "
                    "cancelled or not; none for a request never queued or completing during process exit)")
    for k in want_l:
        n = got.lists.get(k, 0)
        if n not in per_l[k]:
            call = next(c for th in threads for c in th.calls if c.kind == "lio_listio" and c.lio == k)
            return (f"`{call.text}` asked for a {_NAMES.get(call.sig, str(call.sig))} list notification and got {n} "
                    f"by the end of the run, where the spec allows {_words(per_l[k])} given these results (FreeBSD "
                    "posts it once, when the last entry of a LIO_NOWAIT list completes; LIO_WAIT ignores it)")
    said = ", ".join([f"{x}: {got.aiocbs.get(x, 0)}" for x in want_a] +
                     [f"list {k}: {got.lists.get(k, 0)}" for k in want_l])
    return (f"the notification counts ({said}) are each possible but not together: no interleaving that gives "
            "these results posts exactly these")
