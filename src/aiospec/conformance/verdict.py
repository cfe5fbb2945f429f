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

A run whose results are allowed is then checked on its effects and side channels, each in its own
module: ``integrity`` (cancel honesty, data integrity of writes and of reads), ``notify``
(notifications delivered against the spec's posts); ``relax`` holds the profiles' relaxations.
Their public names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from ..spec.observe import ObservationLimit, allowed_observations
from ..spec.scenario import Scenario
from .integrity import cancel_honesty, data_integrity, fill_byte, read_integrity
from .notify import notification_problem, requested
from .observation import Observation, RunOutcome, errno_name, format_observation, format_result
from .relax import (
    ANY,
    PROFILE_RELAXATIONS,
    PROFILE_SPEC,
    PROFILES,
    RELAXATIONS,
    RTEMS_NO_RESULT,
    Acceptable,
    _relax_thread,
    _ok,
    _thread_matches,
)


_ALLOWED_CACHE: dict[tuple, tuple[frozenset, frozenset]] = {}


def _allowed(sc: Scenario) -> tuple[frozenset, frozenset]:
    key = (sc.name, sc.source, sc.profile, sc.daemons, repr(sc.threads), repr(sorted(sc.aiocbs.items())), repr(sc.files),
           repr(sc.limits))
    if key not in _ALLOWED_CACHE:
        notified = frozenset(allowed_observations(sc, notifications=True))
        _ALLOWED_CACHE[key] = (frozenset(o for o, _j, _l in notified), notified)
    return _ALLOWED_CACHE[key]


def spec_allowed(sc: Scenario) -> frozenset:
    """``allowed_observations`` of ``sc``, cached: the spec is deterministic and the same scenario
    is judged once per run and per implementation."""
    return _allowed(sc)[0]


def spec_allowed_notified(sc: Scenario) -> frozenset:
    """``allowed_observations(sc, notifications=True)``, cached: each allowed observation with the
    notifications posted per job slot and per lio slot by the end of that interleaving."""
    return _allowed(sc)[1]


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
    for prefix, problems in (("cancel not honest", cancel_honesty), ("data not written", data_integrity),
                             ("data read wrong", read_integrity)):
        found = problems(sc, outcome)
        if found:
            why = "; ".join(found)
            return RunVerdict("deviation", f"{prefix}: {why}", f"{why}\nobserved:\n{seen}", outcome.observation)
    wanted = any(requested(sc))
    if wanted and outcome.notifications is None:
        why = "the adapter reported no notification counts, but the scenario asks for notifications"
        return RunVerdict("error", why, why, outcome.observation)
    late = notification_problem(sc, outcome, spec_allowed_notified(spec_scenario(sc, profile)), profile) \
        if wanted else None
    if late:
        return RunVerdict("deviation", "notifications: " + late, f"{late}\nobserved:\n{seen}\n{_notes(sc, outcome)}",
                          outcome.observation)
    return RunVerdict("pass", "allowed", observation=outcome.observation)


def _notes(sc: Scenario, outcome: RunOutcome) -> str:
    got = outcome.notifications
    if got is None:
        return "notifications: not observed"
    parts = [f"{x}: {got.aiocbs.get(x, 0)}" for x in requested(sc)[0]] + \
            [f"list {k}: {got.lists.get(k, 0)}" for k in requested(sc)[1]]
    return "notifications delivered: " + ", ".join(parts)


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


__all__ = ["data_integrity", "fill_byte", "read_integrity", "spec_allowed_notified", "ANY", "PROFILES", "PROFILE_RELAXATIONS", "RELAXATIONS", "RunVerdict", "Verdict", "acceptable", "aggregate", "cancel_honesty",
           "errno_name", "explain", "is_allowed", "judge_run", "spec_allowed", "spec_scenario"]
