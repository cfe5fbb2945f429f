"""Verdicts: is an observed run one the spec allows, and if not, why not, in plain words.

The judge is the spec itself: ``aiospec.spec.observe.allowed_observations`` enumerates every
observation some interleaving of the model produces.  A run passes when its observation is one
of them, *after* the profile's relaxations: the ``freebsd`` profile takes the spec as it is, the
``posix`` profile also accepts what POSIX leaves to the implementation, ``glibc`` is ``posix`` plus
glibc's documented behaviours, and ``rtems`` takes the spec's own ``rtems`` profile (the same
scenario with ``profile = "rtems"``: the ``__rtems__`` branches of vfs_aio.c) as it is.  Relaxations are written
per call kind, as extra results accepted for a call given what the same thread saw before (the
spec's own result for that call stays accepted), so each is small, local and documented in
``RELAXATIONS`` and docs/conformance.md.

A deviation is explained by the first call whose observed result no allowed interleaving
produces given the same earlier results, with the set of results the spec allows there.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from ..spec.constants import AIO_CANCELED, AIO_NOTCANCELED, Errno
from ..spec.observe import ObservationLimit, allowed_observations
from ..spec.constants import FileKind, Op
from ..spec.scenario import BADFD, Call, Scenario
from .observation import CallResult, Observation, RunOutcome, errno_name, format_observation, format_result


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


_ALLOWED_CACHE: dict[tuple, frozenset] = {}


def spec_allowed(sc: Scenario) -> frozenset:
    """``allowed_observations`` of ``sc``, cached: the spec is deterministic and the same scenario
    is judged once per run and per implementation."""
    key = (sc.name, sc.source, sc.profile, sc.daemons, repr(sc.threads), repr(sorted(sc.aiocbs.items())), repr(sc.files),
           repr(sc.limits))
    if key not in _ALLOWED_CACHE:
        _ALLOWED_CACHE[key] = frozenset(allowed_observations(sc))
    return _ALLOWED_CACHE[key]


def spec_scenario(sc: Scenario, profile: str) -> Scenario:
    """The scenario the spec judges ``sc`` with under a conformance ``profile``: ``rtems`` re-runs
    it with the spec's ``rtems`` profile (the ``__rtems__`` branches), the others as it is."""
    spec_profile = PROFILE_SPEC.get(profile)
    return sc if spec_profile in (None, sc.profile) else dataclasses.replace(sc, profile=spec_profile)


def acceptable(sc: Scenario, allowed: frozenset | set, profile: str = "freebsd") -> list[Acceptable]:
    """Every allowed observation as per-call sets of accepted results under ``profile``
    (``allowed`` is ``spec_allowed(spec_scenario(sc, profile))``)."""
    if profile not in PROFILE_RELAXATIONS:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    rules = PROFILE_RELAXATIONS[profile]
    out = set()
    for obs in allowed:
        per_thread = [_relax_thread(sc, th.calls, hist, rules) for th, hist in zip(sc.threads, obs)]
        out.update(itertools.product(*per_thread))
    return sorted(out, key=repr)


def _ok(accepted: frozenset, got: CallResult) -> bool:
    return ANY in accepted or (got[1], got[2]) in accepted


def _thread_matches(acc: tuple[frozenset, ...], hist: tuple[CallResult, ...]) -> bool:
    return len(acc) == len(hist) and all(_ok(a, h) for a, h in zip(acc, hist))


def is_allowed(sc: Scenario, obs: Observation, accs: list[Acceptable]) -> bool:
    """Some allowed interleaving, relaxed by the profile, gives exactly ``obs``."""
    return any(all(_thread_matches(a[t], obs[t]) for t in range(len(sc.threads))) for a in accs)


def _words(kind: str, results: set) -> str:
    if ANY in results:
        return "anything"
    return " | ".join(sorted(format_result(kind, r, v) for r, v in results))


def explain(sc: Scenario, obs: Observation, accs: list[Acceptable]) -> str:
    """Plain words: the first call whose result no allowed interleaving gives, given the same
    earlier results, and what the spec allows there.

    First each thread alone (its own earlier results as context): that blames a call no
    interleaving could return whatever the other threads did.  If every thread alone is
    possible, the threads are conditioned one after another (all of T1, then T2, ...): the
    blamed call is impossible together with what the earlier threads saw.
    """
    names = [th.name for th in sc.threads]

    def walk(cands: list[Acceptable], t: int) -> tuple[int, set, list[Acceptable]] | None:
        for i, got in enumerate(obs[t]):
            nxt = [a for a in cands if i < len(a[t]) and _ok(a[t][i], got)]
            if not nxt:
                return i, set().union(*(a[t][i] for a in cands if i < len(a[t]))), cands
            cands = nxt
        full = [a for a in cands if len(a[t]) == len(obs[t])]
        if not full:
            return len(obs[t]), set(), cands
        return None

    def say(t: int, i: int, allowed: set, context: str) -> str:
        calls = sc.threads[t].calls
        if i >= len(obs[t]):
            return f"{names[t]} stopped after {i} call(s), where the spec requires it to go on ({context})."
        text, res, ret = obs[t][i]
        kind = calls[i].kind
        spec = ("no result at all: every interleaving that reaches this call ends in a kernel panic, a NULL "
                "dereference or a use after free in the model, so nothing is promised here") if not allowed else (
            f"only {_words(kind, allowed)}" if len(allowed) == 1 else f"one of: {_words(kind, allowed)}")
        return f"{names[t]} call {i + 1} `{text}` returned {format_result(kind, res, ret)}, where the spec " \
               f"allows {spec} ({context})."

    for t in range(len(names)):
        hit = walk(accs, t)
        if hit is not None:
            i, allowed, _ = hit
            ctx = f"given {names[t]}'s earlier results" if i else f"it is {names[t]}'s first call"
            return say(t, i, allowed, ctx)
    cands = accs
    for t in range(len(names)):
        hit = walk(cands, t)
        if hit is not None:
            i, allowed, _ = hit
            return say(t, i, allowed, f"given what {', '.join(names[:t])} observed" + (
                f" and {names[t]}'s earlier results" if i else ""))
        cands = [a for a in cands if _thread_matches(a[t], obs[t])]
    return "no single interleaving gives all these results together"  # unreachable when obs is not allowed


def _pipe_honesty(sc: Scenario, outcome: RunOutcome, cancelled: dict[str, str]) -> list[str]:
    """Reads reported cancelled that consumed data from a pipe (and writes that filled it).

    A pipe has no offsets, so the check is conservation: the bytes left in the pipe at exit
    (``outcome.final[P]``, drained by the workspace) must be what the reaped, not cancelled
    writes put in minus what the reaped, not cancelled reads took out.  Fewer left means a read
    reported cancelled consumed them; more, that a cancelled write landed.  Judged only when
    every request on the pipe was reaped or reported cancelled (otherwise the byte counts are
    unknown), so it never raises a false alarm.
    """
    obs = outcome.observation
    reqs: dict[str, tuple[str, str]] = {}  # aiocb -> (fd, "read" / "write"): one submission each, else ambiguous
    ambiguous: set[str] = set()
    for th in sc.threads:
        for c in th.calls:
            items = [(c.aiocb, c.fd, c.kind[4:])] if c.kind in ("aio_read", "aio_write") else []
            if c.kind == "lio_listio":
                items = [(e.aiocb, sc.aiocbs[e.aiocb].fd, "read" if e.op == Op.LIO_READ else "write")
                         for e in c.entries if e.aiocb is not None and e.op in (Op.LIO_READ, Op.LIO_WRITE)]
            for x, fd, kind in items:
                if x in reqs:
                    ambiguous.add(x)
                reqs[x] = (fd, kind)
    status: dict[str, int] = {}
    for th, hist in zip(sc.threads, obs):
        for call, (_text, res, ret) in zip(th.calls, hist):
            if call.kind in ("aio_return", "aio_waitcomplete") and isinstance(ret, tuple) and res == 0:
                status[ret[1]] = ret[0]
    problems = []
    for fd, kind in set(reqs.values()):
        if sc.files.get(fd) != FileKind.PIPE or fd not in outcome.final:
            continue
        mine = [x for x, (f, _k) in reqs.items() if f == fd]
        cancel_reads = [x for x in mine if x in cancelled and reqs[x][1] == "read"]
        cancel_writes = [x for x in mine if x in cancelled and reqs[x][1] == "write"]
        if not (cancel_reads or cancel_writes) or any(x in ambiguous for x in mine):
            continue
        if any(x not in cancelled and x not in status for x in mine):
            continue  # a request's byte count is unknown
        put = sum(status[x] for x in mine if x not in cancelled and reqs[x][1] == "write")
        took = sum(status[x] for x in mine if x not in cancelled and reqs[x][1] == "read")
        left = len(outcome.final[fd])
        if left < put - took and cancel_reads:
            names = ", ".join(cancel_reads)
            problems.append(f"read {names} was reported cancelled ({cancelled[cancel_reads[0]]}) but "
                            f"{put - took - left} byte(s) written to pipe {fd} are neither in a completed read nor "
                            f"left in the pipe ({left} of {put - took} left): the cancelled read consumed them")
        elif left > put - took and cancel_writes:
            problems.append(f"write {', '.join(cancel_writes)} was reported cancelled "
                            f"({cancelled[cancel_writes[0]]}) but pipe {fd} holds {left - (put - took)} byte(s) "
                            f"more than the completed requests account for: the write landed")
    return problems


def cancel_honesty(sc: Scenario, outcome: RunOutcome) -> list[str]:
    """Writes reported cancelled whose bytes reached the file anyway, and (pipes) reads reported
    cancelled that consumed data (``_pipe_honesty``).

    A request the implementation says it cancelled (aio_cancel(fd, a) gave AIO_CANCELED, or an
    aio_error/aio_return/aio_waitcomplete reported ECANCELED) must have had no effect.  For a
    write on a regular file the bytes in its range must still be the initial ones; ranges that
    another, not cancelled write may cover are skipped (no false alarms).
    """
    obs = outcome.observation
    cancelled: dict[str, str] = {}
    for th, hist in zip(sc.threads, obs):
        for call, (text, res, ret) in zip(th.calls, hist):
            x = call.aiocb
            if call.kind == "aio_cancel" and x and res == 0 and ret == AIO_CANCELED:
                cancelled.setdefault(x, f"`{text}` returned AIO_CANCELED")
            elif call.kind == "aio_error" and res == 0 and ret == Errno.ECANCELED:
                cancelled.setdefault(x, f"`{text}` returned ECANCELED")
            elif call.kind in ("aio_return", "aio_waitcomplete") and res == Errno.ECANCELED and isinstance(ret, tuple):
                cancelled.setdefault(ret[1], f"`{text}` reaped it with ECANCELED")
    writes: dict[str, list[str]] = defaultdict(list)  # aiocb -> fds it was written to
    for th in sc.threads:
        for call in th.calls:
            if call.kind == "aio_write":
                writes[call.aiocb].append(call.fd)
            elif call.kind == "lio_listio":
                for e in call.entries:
                    if e.aiocb is not None and e.op.name == "LIO_WRITE":
                        writes[e.aiocb].append(sc.aiocbs[e.aiocb].fd)
    problems = _pipe_honesty(sc, outcome, cancelled)
    for x, why in cancelled.items():
        if len(writes.get(x, [])) != 1:
            continue  # not a write, or written twice: which submission was cancelled is ambiguous
        fd, spec = writes[x][0], sc.aiocbs[x]
        if fd not in outcome.initial or fd not in outcome.final or spec.offset < 0:
            continue
        lo, hi = spec.offset, spec.offset + spec.nbytes
        overlap = any(y != x and y not in cancelled and fds[0] == fd and sc.aiocbs[y].offset < hi
                      and sc.aiocbs[y].offset + sc.aiocbs[y].nbytes > lo for y, fds in writes.items() if fds)
        if overlap:
            continue
        before, after = outcome.initial[fd][lo:hi], outcome.final[fd][lo:hi]
        if before != after:
            changed = sum(1 for p, q in zip(before, after) if p != q) + abs(len(before) - len(after))
            problems.append(f"write {x} was reported cancelled ({why}) but {changed} of its {hi - lo} bytes "
                            f"at [{lo}, {hi}) in {fd} changed: the write landed")
    return problems


def fill_byte(sc: Scenario, aiocb: str) -> int:
    """The byte every adapter writes for ``aiocb`` (0xA0 + its index): what a write must leave."""
    return 0xA0 + sc.aiocb_index.get(aiocb, 0) % 64


def data_integrity(sc: Scenario, outcome: RunOutcome) -> list[str]:
    """Writes reported successful whose bytes are not in the file afterwards.

    A write counts as successful when aio_return or aio_waitcomplete handed out its full byte
    count.  Writes whose range another write may also cover are skipped (either could land last).
    """
    done: dict[str, str] = {}
    for th, hist in zip(sc.threads, outcome.observation):
        for call, (text, res, ret) in zip(th.calls, hist):
            if call.kind in ("aio_return", "aio_waitcomplete") and res == 0 and isinstance(ret, tuple):
                status, x = ret
                if x in sc.aiocbs and status == sc.aiocbs[x].nbytes:
                    done.setdefault(x, f"`{text}` returned {status}")
    writes: dict[str, list[str]] = defaultdict(list)
    read: set[str] = set()  # a read refills the buffer: a later write of it writes file data
    for th in sc.threads:
        for call in th.calls:
            if call.kind == "aio_write":
                writes[call.aiocb].append(call.fd)
            elif call.kind == "aio_read":
                read.add(call.aiocb)
            elif call.kind == "lio_listio":
                for e in call.entries:
                    if e.aiocb is not None and e.op.name == "LIO_WRITE":
                        writes[e.aiocb].append(sc.aiocbs[e.aiocb].fd)
                    elif e.aiocb is not None:
                        read.add(e.aiocb)
    problems = []
    for x, why in done.items():
        if len(writes.get(x, [])) != 1 or x in read:
            continue
        fd, spec = writes[x][0], sc.aiocbs[x]
        if fd not in outcome.initial or fd not in outcome.final or spec.offset < 0 or spec.nbytes <= 0:
            continue
        lo, hi = spec.offset, spec.offset + spec.nbytes
        if any(y != x and fds and fds[0] == fd and sc.aiocbs[y].offset < hi and
               sc.aiocbs[y].offset + sc.aiocbs[y].nbytes > lo for y, fds in writes.items()):
            continue
        got, want = outcome.final[fd][lo:hi], bytes([fill_byte(sc, x)]) * (hi - lo)
        if got != want:
            bad = sum(1 for p, q in zip(got, want) if p != q) + abs(len(got) - len(want))
            problems.append(f"write {x} was reported done ({why}) but {bad} of its {hi - lo} bytes at "
                            f"[{lo}, {hi}) in {fd} are not what it wrote")
    return problems


@dataclass
class RunVerdict:
    """The verdict on one run: ``kind`` is pass / deviation / timeout / crash / error / skipped."""

    kind: str
    detail: str
    explanation: str = ""
    observation: Observation = ()


@dataclass
class Verdict:
    """The verdict on a scenario over all its runs.

    ``kind``: "pass", "deviation", "flaky" (the per-run verdicts differ), "timeout", "crash",
    "error" (the harness or adapter failed) or "skipped" (the implementation lacks a call).
    ``detail`` is one line for a table; ``explanation`` says in plain words what happened.
    """

    scenario: str
    kind: str
    detail: str
    explanation: str = ""
    runs: list[RunVerdict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind in ("pass", "skipped")


def judge_run(sc: Scenario, outcome: RunOutcome, profile: str = "freebsd") -> RunVerdict:
    """One run against the spec under ``profile``; cancel honesty is checked for every
    completed run, whatever the profile (no profile lets a cancelled write land)."""
    names = [th.name for th in sc.threads]
    seen = format_observation(names, outcome.observation)
    if outcome.status == "unsupported":
        return RunVerdict("skipped", outcome.detail, outcome.detail, outcome.observation)
    if outcome.status in ("timeout", "crash", "error"):
        return RunVerdict(outcome.status, outcome.detail, f"{outcome.detail}\nreturned so far:\n{seen}",
                          outcome.observation)
    try:
        accs = acceptable(sc, spec_allowed(spec_scenario(sc, profile)), profile)
    except ObservationLimit as e:
        return RunVerdict("error", f"the spec cannot enumerate this scenario: {e}", observation=outcome.observation)
    if not is_allowed(sc, outcome.observation, accs):
        why = explain(sc, outcome.observation, accs)
        if profile == "rtems" and "no result at all" in why:
            why += " " + RTEMS_NO_RESULT
        return RunVerdict("deviation", why, f"{why}\nobserved:\n{seen}", outcome.observation)
    dishonest = cancel_honesty(sc, outcome)
    if dishonest:
        why = "; ".join(dishonest)
        return RunVerdict("deviation", "cancel not honest: " + why, f"{why}\nobserved:\n{seen}", outcome.observation)
    lost = data_integrity(sc, outcome)
    if lost:
        why = "; ".join(lost)
        return RunVerdict("deviation", "data not written: " + why, f"{why}\nobserved:\n{seen}", outcome.observation)
    return RunVerdict("pass", "allowed", observation=outcome.observation)


def aggregate(name: str, runs: list[RunVerdict], seconds: float = 0.0) -> Verdict:
    """Several runs of one scenario: one verdict when they agree, "flaky" when they do not
    (real concurrency: a race the implementation loses only sometimes is still a deviation,
    and the explanation shows the failing run)."""
    kinds = [r.kind for r in runs]
    if len(set(kinds)) == 1:
        r = runs[0]
        distinct = len({v.observation for v in runs})
        extra = f" ({distinct} distinct observations in {len(runs)} runs)" if distinct > 1 else ""
        return Verdict(name, r.kind, r.detail + (extra if r.kind == "pass" else ""), r.explanation, runs, seconds)
    bad = next(r for r in runs if r.kind != "pass") if "pass" in kinds else runs[0]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    return Verdict(name, "flaky", f"{counts}: {bad.detail}", f"runs: {counts}\n{bad.kind}: {bad.explanation}",
                   runs, seconds)


__all__ = ["data_integrity", "fill_byte", "ANY", "PROFILES", "PROFILE_RELAXATIONS", "RELAXATIONS", "RunVerdict", "Verdict", "acceptable", "aggregate", "cancel_honesty",
           "errno_name", "explain", "is_allowed", "judge_run", "spec_allowed", "spec_scenario"]
