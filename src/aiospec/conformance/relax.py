"""The profiles' relaxations: what each conformance profile accepts beyond the spec's own results.

Each relaxation adds results accepted for one call kind given what the same thread saw before
(the spec's result for that call stays accepted), so each is local and can be read on its own
(``RELAXATIONS``, ``PROFILE_RELAXATIONS``, docs/conformance.md).  ``_relax_thread`` turns one
allowed thread history into its relaxed variants: per call, the set of results accepted there.
"""

from __future__ import annotations

from collections import defaultdict

from ..spec.constants import AIO_CANCELED, AIO_NOTCANCELED, Errno, Op
from ..spec.scenario import BADFD, Call, Scenario
from .observation import CallResult

class _Any:
    """Wildcard result: POSIX says the result is undefined, so anything is accepted."""

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
Result = tuple[int, object]  # (result errno, retval)
Acceptable = tuple[tuple[frozenset, ...], ...]  # per thread, per call: the results accepted there

PROFILES = ("freebsd", "posix", "glibc", "rtems")

RELAXATIONS: dict[str, str] = {
    "fd-wide-cancel": "aio_cancel(fd, NULL) may return AIO_CANCELED where the spec says AIO_NOTCANCELED: when "
                      "some requests were cancelled and one runs, implementations differ on which result wins.",
    "error-at-completion": "aio_read/aio_write/aio_fsync failing with EBADF or EINVAL (bad descriptor, negative "
                           "offset) may instead succeed and fail at completion: a later aio_error may also say "
                           "EINPROGRESS, and aio_return may reap the request with that error.",
    "return-again": "a second aio_return of a request that was already reaped may return the same value again "
                    "instead of EINVAL (POSIX: the result is undefined).",
    "error-after-return": "aio_error of a request after it was reaped may return anything (POSIX: undefined).",
    "error-after-rejected-submit": "aio_error of a request whose submission failed (it was never queued) may "
                                   "return anything: POSIX defines aio_error only for queued requests, FreeBSD "
                                   "happens to report the submission error.",
    "no-queue-limit": "aio_read/aio_write/aio_fsync failing with EAGAIN (a queue limit the scenario sets) may "
                      "succeed instead: the implementation has no such limit, or a larger one (POSIX: "
                      "{AIO_MAX} is the implementation's).  The request then runs: a later aio_error may say "
                      "EINPROGRESS or 0, aio_return may reap it with its byte count.",
    "lio-nowait-at-completion": "lio_listio(LIO_NOWAIT) failing with EIO because an entry was rejected at "
                                "submission (bad descriptor, negative offset) may instead return 0 and fail that "
                                "entry at completion: its aio_error may say EINPROGRESS or the error, aio_return "
                                "may reap it with the error.",
    "never-submitted": "aio_error and aio_return of an aiocb no thread of the scenario ever submits may return "
                       "anything: POSIX defines them only for a queued request (FreeBSD says EINVAL).",
    "suspend-nothing": "aio_suspend whose entries are all NULL may return 0 at once (nothing to wait for) "
                       "instead of waiting for the timeout (EAGAIN).  glibc does; POSIX says it suspends until "
                       "a listed request completes, so this is in the glibc profile only.",
}
_POSIX = ("fd-wide-cancel", "error-at-completion", "return-again", "error-after-return", "error-after-rejected-submit",
          "no-queue-limit", "lio-nowait-at-completion", "never-submitted")
PROFILE_RELAXATIONS: dict[str, tuple[str, ...]] = {
    "freebsd": (),
    "posix": _POSIX,
    # glibc's documented behaviours: a second aio_return repeats the value (return-again), aio_error after
    # aio_return gives the stored 0 (error-after-return), bad fd / negative offset fail at completion
    # (error-at-completion, lio-nowait-at-completion), aio_suspend on NULL entries returns 0 (suspend-nothing)
    "glibc": (*_POSIX, "suspend-nothing"),
    "rtems": (),
}
RTEMS_NO_RESULT = ("Under the rtems profile that is the spec's RTEMS-NULL-KI finding: the __rtems__ build never "
                   "creates the process's kaioinfo (aio_init_aioinfo), so the first submission's aio_aqueue "
                   "dereferences a NULL aio_proc_p_aioinfo (vfs_aio.c L1596).")
#: the spec profile each conformance profile judges against (the scenario is re-loaded with it)
PROFILE_SPEC = {"freebsd": None, "posix": None, "glibc": None, "rtems": "rtems"}

_DEFERRABLE = {int(Errno.EBADF), int(Errno.EINVAL)}
_SUBMIT = ("aio_read", "aio_write", "aio_fsync")


def _entry_error(sc: Scenario, x: str, op: Op) -> int | None:
    """The error FreeBSD's ``aio_aqueue`` rejects a lio_listio entry with, judged from the
    scenario: EBADF for a descriptor that is not open, EINVAL for a negative offset; else None."""
    acb = sc.aiocbs[x]
    if acb.fd == BADFD or acb.fd not in sc.files:
        return int(Errno.EBADF)
    if op in (Op.LIO_READ, Op.LIO_WRITE) and acb.offset < 0:
        return int(Errno.EINVAL)
    return None


def _submitted_anywhere(sc: Scenario) -> set[str]:
    out: set[str] = set()
    for th in sc.threads:
        for c in th.calls:
            if c.kind in _SUBMIT and c.aiocb:
                out.add(c.aiocb)
            elif c.kind == "lio_listio":
                out.update(e.aiocb for e in c.entries if e.aiocb is not None and e.op != Op.LIO_NOP)
    return out


def _relax_variant(sc: Scenario, calls: tuple[Call, ...], hist: tuple[CallResult, ...], rules: tuple[str, ...],
                   defer: set[int], accept: set[int], lio: set[int]) -> tuple[frozenset, ...]:
    """The results accepted at each call of one thread for one allowed history of it, where the
    submissions at positions ``defer`` failed at completion instead of at submission, those at
    ``accept`` (EAGAIN in the spec) were accepted and ran, and the lio_listio(LIO_NOWAIT) calls
    at ``lio`` queued their rejected entries and failed them at completion."""
    failed: dict[str, set[int]] = defaultdict(set)  # aiocb -> errors it may have failed with
    deferred: set[str] = set()  # aiocbs whose submission error is deferred to completion (in this variant)
    ran: dict[str, int] = {}  # aiocbs the spec rejected with EAGAIN that ran here -> their status
    rejected: set[str] = set()  # aiocbs whose last submission failed
    reaped: dict[str, set[Result]] = defaultdict(set)  # aiocb -> what reaping it returned
    never = {x for x in sc.aiocbs if x not in _submitted_anywhere(sc)} if "never-submitted" in rules else set()
    out = []
    for i, (call, (_text, res, ret)) in enumerate(zip(calls, hist)):
        acc: set = {(res, ret)}
        k, x = call.kind, call.aiocb
        if k in _SUBMIT:
            rejected.discard(x)
            deferred.discard(x)
            ran.pop(x, None)
            if i in defer:
                acc = {(0, None)}
                failed[x].add(res)
                deferred.add(x)
            elif i in accept:
                acc = {(0, None)}
                ran[x] = 0 if k == "aio_fsync" else sc.aiocbs[x].nbytes
            elif res != 0:
                rejected.add(x)
        elif k == "lio_listio" and i in lio:
            acc = {(0, None)}
            for e in call.entries:
                err = _entry_error(sc, e.aiocb, e.op) if e.aiocb is not None and e.op != Op.LIO_NOP else None
                if err is not None:
                    rejected.discard(e.aiocb)
                    failed[e.aiocb].add(err)
                    deferred.add(e.aiocb)
        elif k == "aio_error" and res == 0:
            if x in never:
                acc = {ANY}
            elif x in reaped and "error-after-return" in rules:
                acc = {ANY}
            elif x in ran:
                acc = {(0, int(Errno.EINPROGRESS)), (0, 0)}
            elif x in rejected and "error-after-rejected-submit" in rules:
                acc = {ANY}
            elif x in deferred:
                acc = {(0, int(Errno.EINPROGRESS))} | {(0, e) for e in failed[x]}
            if isinstance(ret, int) and ret not in (0, Errno.EINPROGRESS, Errno.EINVAL, Errno.ECANCELED):
                failed[x].add(ret)
        elif k == "aio_return":
            if x in never:
                acc = {ANY}
            elif (res, ret) == (int(Errno.EINVAL), None):
                if x in reaped and "return-again" in rules:
                    acc |= reaped[x]
                elif x in ran:
                    acc.add((0, (ran.pop(x), x)))
                elif failed.get(x) and ("error-at-completion" in rules or "lio-nowait-at-completion" in rules):
                    acc.update((e, (-1, x)) for e in failed[x])
            got = {r for r in acc if isinstance(r, tuple) and isinstance(r[1], tuple)}
            if got:
                reaped[x] |= got
        elif k == "aio_waitcomplete" and isinstance(ret, tuple):
            reaped[ret[1]].add((res, ret))
        elif k == "aio_cancel" and x is None and res == 0 and ret == AIO_NOTCANCELED and "fd-wide-cancel" in rules:
            acc.add((0, AIO_CANCELED))
        elif k == "aio_suspend" and "suspend-nothing" in rules and all(t is None for t in call.targets):
            acc.add((0, None))
        out.append(frozenset(acc))
    return tuple(out)


def _relax_thread(sc: Scenario, calls: tuple[Call, ...], hist: tuple[CallResult, ...],
                  rules: tuple[str, ...]) -> list[tuple[frozenset, ...]]:
    """Every relaxed variant of one allowed thread history: with ``error-at-completion``, each
    submission the spec fails with EBADF/EINVAL is either rejected (as the spec says) or accepted
    and failed at completion, and what later calls may say differs between the two; the same
    for ``no-queue-limit`` (EAGAIN, or accepted and run) and ``lio-nowait-at-completion``
    (lio_listio(LIO_NOWAIT) EIO, or 0 with the rejected entries failing at completion)."""
    pos: list[tuple[str, int]] = []
    for i, (c, h) in enumerate(zip(calls, hist)):
        if c.kind in _SUBMIT and h[1] in _DEFERRABLE and "error-at-completion" in rules:
            pos.append(("defer", i))
        elif c.kind in _SUBMIT and h[1] == Errno.EAGAIN and "no-queue-limit" in rules:
            pos.append(("accept", i))
        elif c.kind == "lio_listio" and c.mode == "LIO_NOWAIT" and h[1] == Errno.EIO \
                and "lio-nowait-at-completion" in rules:
            pos.append(("lio", i))
    pos = pos[:6]
    out = []
    for mask in range(1 << len(pos)):
        on = {"defer": set(), "accept": set(), "lio": set()}
        for j, (what, p) in enumerate(pos):
            if mask >> j & 1:
                on[what].add(p)
        out.append(_relax_variant(sc, calls, hist, rules, on["defer"], on["accept"], on["lio"]))
    return out


def _ok(accepted: frozenset, got: CallResult) -> bool:
    return ANY in accepted or (got[1], got[2]) in accepted


def _thread_matches(acc: tuple[frozenset, ...], hist: tuple[CallResult, ...]) -> bool:
    return len(acc) == len(hist) and all(_ok(a, h) for a, h in zip(acc, hist))
