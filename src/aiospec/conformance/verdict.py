"""Verdicts: is an observed run one the spec allows, and if not, why not, in plain words.

The judge is the spec itself: ``aiospec.spec.observe.allowed_observations`` enumerates every
observation some interleaving of the model produces.  A run passes when its observation is one
of them, *after* the profile's relaxations: the ``freebsd`` profile takes the spec as it is, the
``posix`` profile also accepts what POSIX leaves to the implementation.  Relaxations are written
per call kind, as extra results accepted for a call given what the same thread saw before (the
spec's own result for that call stays accepted), so each is small, local and documented in
``RELAXATIONS`` and docs/conformance.md.

A deviation is explained by the first call whose observed result no allowed interleaving
produces given the same earlier results, with the set of results the spec allows there.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from ..spec.constants import AIO_CANCELED, AIO_NOTCANCELED, Errno
from ..spec.observe import ObservationLimit, allowed_observations
from ..spec.scenario import Call, Scenario
from .observation import CallResult, Observation, RunOutcome, errno_name, format_observation, format_result


class _Any:
    """Wildcard result: POSIX says the result is undefined, so anything is accepted."""

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()
Result = tuple[int, object]  # (result errno, retval)
Acceptable = tuple[tuple[frozenset, ...], ...]  # per thread, per call: the results accepted there

PROFILES = ("freebsd", "posix")

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
}
PROFILE_RELAXATIONS = {"freebsd": (), "posix": tuple(RELAXATIONS)}

_DEFERRABLE = {int(Errno.EBADF), int(Errno.EINVAL)}
_SUBMIT = ("aio_read", "aio_write", "aio_fsync")


def _relax_variant(calls: tuple[Call, ...], hist: tuple[CallResult, ...], rules: tuple[str, ...],
                   defer: set[int]) -> tuple[frozenset, ...]:
    """The results accepted at each call of one thread for one allowed history of it, where the
    submissions at positions ``defer`` failed at completion instead of at submission."""
    failed: dict[str, set[int]] = defaultdict(set)  # aiocb -> errors it may have failed with
    deferred: set[str] = set()  # aiocbs whose submission error is deferred to completion (in this variant)
    rejected: set[str] = set()  # aiocbs whose last submission failed
    reaped: dict[str, set[Result]] = defaultdict(set)  # aiocb -> what reaping it returned
    out = []
    for i, (call, (_text, res, ret)) in enumerate(zip(calls, hist)):
        acc: set = {(res, ret)}
        k, x = call.kind, call.aiocb
        if k in _SUBMIT:
            rejected.discard(x)
            deferred.discard(x)
            if i in defer:
                acc = {(0, None)}
                failed[x].add(res)
                deferred.add(x)
            elif res != 0:
                rejected.add(x)
        elif k == "aio_error" and res == 0:
            if x in reaped and "error-after-return" in rules:
                acc = {ANY}
            elif x in rejected and "error-after-rejected-submit" in rules:
                acc = {ANY}
            elif x in deferred:
                acc = {(0, int(Errno.EINPROGRESS))} | {(0, e) for e in failed[x]}
            if isinstance(ret, int) and ret not in (0, Errno.EINPROGRESS, Errno.EINVAL, Errno.ECANCELED):
                failed[x].add(ret)
        elif k == "aio_return":
            if (res, ret) == (int(Errno.EINVAL), None):
                if x in reaped and "return-again" in rules:
                    acc |= reaped[x]
                elif failed.get(x) and "error-at-completion" in rules:
                    acc.update((e, (-1, x)) for e in failed[x])
            got = {r for r in acc if isinstance(r, tuple) and isinstance(r[1], tuple)}
            if got:
                reaped[x] |= got
        elif k == "aio_waitcomplete" and isinstance(ret, tuple):
            reaped[ret[1]].add((res, ret))
        elif k == "aio_cancel" and x is None and res == 0 and ret == AIO_NOTCANCELED and "fd-wide-cancel" in rules:
            acc.add((0, AIO_CANCELED))
        out.append(frozenset(acc))
    return tuple(out)


def _relax_thread(calls: tuple[Call, ...], hist: tuple[CallResult, ...], rules: tuple[str, ...]) -> list[tuple[frozenset, ...]]:
    """Every relaxed variant of one allowed thread history: with ``error-at-completion``, each
    submission the spec fails with EBADF/EINVAL is either rejected (as the spec says) or accepted
    and failed at completion, and what later calls may say differs between the two."""
    pos = []
    if "error-at-completion" in rules:
        pos = [i for i, (c, h) in enumerate(zip(calls, hist)) if c.kind in _SUBMIT and h[1] in _DEFERRABLE][:6]
    return [_relax_variant(calls, hist, rules, {p for j, p in enumerate(pos) if mask >> j & 1})
            for mask in range(1 << len(pos))]


_ALLOWED_CACHE: dict[tuple, frozenset] = {}


def spec_allowed(sc: Scenario) -> frozenset:
    """``allowed_observations`` of ``sc``, cached: the spec is deterministic and the same scenario
    is judged once per run and per implementation."""
    key = (sc.name, sc.source, sc.daemons, repr(sc.threads), repr(sorted(sc.aiocbs.items())), repr(sc.files),
           repr(sc.limits))
    if key not in _ALLOWED_CACHE:
        _ALLOWED_CACHE[key] = frozenset(allowed_observations(sc))
    return _ALLOWED_CACHE[key]


def acceptable(sc: Scenario, allowed: frozenset | set, profile: str = "freebsd") -> list[Acceptable]:
    """Every allowed observation as per-call sets of accepted results under ``profile``."""
    if profile not in PROFILE_RELAXATIONS:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    rules = PROFILE_RELAXATIONS[profile]
    out = set()
    for obs in allowed:
        per_thread = [_relax_thread(th.calls, hist, rules) for th, hist in zip(sc.threads, obs)]
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
        spec = "no result at all" if not allowed else (
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


def cancel_honesty(sc: Scenario, outcome: RunOutcome) -> list[str]:
    """Writes reported cancelled whose bytes reached the file anyway.

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
    problems = []
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
        accs = acceptable(sc, spec_allowed(sc), profile)
    except ObservationLimit as e:
        return RunVerdict("error", f"the spec cannot enumerate this scenario: {e}", observation=outcome.observation)
    if not is_allowed(sc, outcome.observation, accs):
        why = explain(sc, outcome.observation, accs)
        return RunVerdict("deviation", why, f"{why}\nobserved:\n{seen}", outcome.observation)
    dishonest = cancel_honesty(sc, outcome)
    if dishonest:
        why = "; ".join(dishonest)
        return RunVerdict("deviation", "cancel not honest: " + why, f"{why}\nobserved:\n{seen}", outcome.observation)
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


__all__ = ["ANY", "PROFILES", "RELAXATIONS", "RunVerdict", "Verdict", "acceptable", "aggregate", "cancel_honesty",
           "errno_name", "explain", "is_allowed", "judge_run", "spec_allowed"]
