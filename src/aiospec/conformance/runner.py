"""Run scenarios on an implementation and judge them: the loop behind ``aiospec conform``."""

from __future__ import annotations

import time
from typing import Callable, Iterable

from ..spec.scenario import Scenario
from .adapters.base import Adapter
from .verdict import PROFILES, RunVerdict, Verdict, aggregate, judge_run

DEFAULT_TIMEOUT = 10.0

Progress = Callable[[int, int, Scenario, "Verdict | None"], None]


def conform_one(adapter: Adapter, sc: Scenario, profile: str = "freebsd", runs: int = 1,
                timeout: float = DEFAULT_TIMEOUT) -> Verdict:
    """``runs`` runs of ``sc`` on ``adapter``, each judged by the spec, as one verdict.

    A skipped scenario is not repeated.  Several runs matter for real concurrency: an
    implementation that loses a race only sometimes is reported "flaky" with the failing run.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    t0 = time.monotonic()
    verdicts: list[RunVerdict] = []
    for _ in range(max(1, runs)):
        rv = judge_run(sc, adapter.run(sc, timeout), profile)
        verdicts.append(rv)
        if rv.kind == "skipped":
            break
    return aggregate(sc.name, verdicts, time.monotonic() - t0)


def conform(adapter: Adapter, scenarios: Iterable[Scenario], profile: str = "freebsd", runs: int = 1,
            timeout: float = DEFAULT_TIMEOUT, progress: Progress | None = None) -> list[Verdict]:
    """Every scenario on ``adapter``; ``progress(i, n, scenario, verdict)`` is called before
    (verdict None) and after each one."""
    scs = list(scenarios)
    out = []
    for i, sc in enumerate(scs):
        if progress:
            progress(i, len(scs), sc, None)
        v = conform_one(adapter, sc, profile, runs, timeout)
        out.append(v)
        if progress:
            progress(i, len(scs), sc, v)
    return out


def summary(verdicts: list[Verdict]) -> dict[str, int]:
    """How many scenarios got each verdict kind, in a fixed order."""
    kinds = ("pass", "deviation", "flaky", "timeout", "crash", "error", "skipped")
    return {k: sum(1 for v in verdicts if v.kind == k) for k in kinds if any(v.kind == k for v in verdicts)}
