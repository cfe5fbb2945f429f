"""The expected verdict of every property on every shipped scenario.

Violations here are findings about vfs_aio.c (docs/findings.md), not model bugs: the model
follows the C source, and these tests pin what the checker says about it.  A change to the
spec that changes a verdict must change this table and the findings document with it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from aiospec.checker.explore import Explorer
from aiospec.checker.trace import replay
from aiospec.spec import Model, builtin_names, load
from aiospec.spec.scenario import load_text
from aiospec.spec.properties import PROPERTIES
from aiospec.spec.state import HALTING

ALL_REACH = {p.name for p in PROPERTIES if p.kind == "reach"}

# scenario -> (violated property -> shortest counterexample length, reachability properties reached)
EXPECTED: dict[str, tuple[dict[str, int], set[str]]] = {
    "cancel-race": ({"P-RETURN": 9}, {"R-CANCEL-NO-FN", "R-CLEARED", "R-DEFER-CANCELLING", "R-DEFER-QUEUEING"}),
    "lio-wait": ({}, {"R-CANCEL-NO-FN", "R-CLEARED", "R-DEFER-CANCELLING", "R-DEFER-QUEUEING",
                      "R-LIO-FREE-ENTRY", "R-WALK-DIVERTED"}),
    "lio-fsync": ({"STALE": 22, "P-CANCEL": 22, "UAF": 23}, ALL_REACH - {"R-LIO-FREE-LISTIO"}),
    "default": ({"P-CANCEL": 21, "STALE": 22, "UAF": 23}, ALL_REACH),
    "suspend-early": ({"P-SUSPEND": 2, "P-ERROR": 4}, {"R-DEFER-QUEUEING"}),
    "disk-bio": ({"P-CANCEL": 2, "P-ERROR": 4}, {"R-DEFER-QUEUEING"}),
    "errors": ({"P-ERROR": 11}, set()),
    "lio-signal": ({}, {"R-CANCEL-NO-FN", "R-CLEARED", "R-DEFER-CANCELLING", "R-DEFER-QUEUEING",
                        "R-LIO-FREE-ENTRY", "R-WALK-DIVERTED"}),
    "rtems-lio": ({"D13": 4, "DEADLOCK": 4}, set()),
    "rtems-calls": ({"D14": 9, "END": 14}, {"R-LIO-FREE-LISTIO"}),
    "rtems-write": ({"RTEMS-NULL-KI": 1}, set()),
    "double-cancel": ({"P-CANCEL": 8}, {"R-CANCEL-NO-FN", "R-CLEARED", "R-DEFER-CANCELLING", "R-DEFER-QUEUEING"}),
    "return-twice": ({}, {"R-DEFER-QUEUEING"}),
}

# `full` is too large to explore in CI: 15,924,494 states, 54,945,763 transitions, depth 50,
# about half an hour on one core (benchmarks/bench_checker.py); its only violation, P-CANCEL,
# has a 20-step shortest counterexample, which a bounded search (the first levels) finds.
FULL_VIOLATIONS_WITHIN_BOUND = {"P-CANCEL": 20}


@functools.cache
def run(name: str):
    model = Model(load(name))
    ex = Explorer(model)
    return model, ex, ex.run()


def test_every_builtin_scenario_has_an_expectation():
    assert set(builtin_names()) - {"full"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_verdicts(name):
    model, ex, res = run(name)
    want_violated, want_reached = EXPECTED[name]
    assert res.complete
    got = {k: len(ex.witness_path(w)) for k, w in res.violations.items()}
    assert got == want_violated
    assert set(res.reached) == want_reached


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if EXPECTED[n][0]))
def test_counterexamples_replay_to_the_violation(name):
    """Every counterexample re-runs from the initial state and ends where the property fails."""
    model, ex, res = run(name)
    by_name = {p.name: p for p in PROPERTIES}
    for prop, w in res.violations.items():
        tr = replay(model, ex.witness_path(w), prop, w.message)
        last = tr.steps[-1] if tr.steps else None
        p = by_name[prop]
        if p.kind == "event":
            assert last is not None and any(e.kind in HALTING for e in last.events)
        elif p.kind == "invariant":
            assert p.check(ex.ctx, tr.states[-1])
        elif p.kind == "deadlock":
            assert model.successors(tr.states[-1]) == [] and not model.finished(tr.states[-1])
        elif p.kind == "end":
            assert model.successors(tr.states[-1]) == [] and p.check(ex.ctx, tr.states[-1])
        else:  # step property: the last transition violates it
            from aiospec.spec.model import Transition

            s = tr.states[-2]
            t = Transition(w.final[0], last.label, last.choice, last.events, model.step(s, w.final[0], last.label,
                                                                                        last.choice).target)
            assert p.check(ex.ctx, s, t)


def test_every_reachability_property_is_reached_by_some_scenario():
    reached = set()
    for name in EXPECTED:
        reached |= set(run(name)[2].reached)
    assert reached == ALL_REACH


@pytest.mark.heavy
def test_full_scenario_bounded():
    model = Model(load("full"))
    ex = Explorer(model, max_states=120_000)  # P-CANCEL (20 steps) is found within 120,000 states (16 s)
    res = ex.run()
    assert not res.complete
    got = {k: len(ex.witness_path(w)) for k, w in res.violations.items()}
    assert got == FULL_VIOLATIONS_WITHIN_BOUND


@pytest.mark.slow
def test_full_scenario_exhaustive():
    model, ex, res = run("full")
    assert res.complete
    got = {k: len(ex.witness_path(w)) for k, w in res.violations.items()}
    assert got == FULL_VIOLATIONS_WITHIN_BOUND
    assert set(res.reached) == ALL_REACH - {"R-LIO-FREE-LISTIO"}


RACE_N = (Path(__file__).parent.parent / "docs" / "examples" / "race-n.toml").read_text()


def test_a_family_shows_why_one_job_is_not_enough():
    """n requests racing one fd-wide cancel (`repeat`): with one request only P-RETURN fails; the
    saved-successor findings of the cancel walk (STALE, then UAF) need a second request."""
    def shortest(n: int) -> dict[str, int]:
        ex = Explorer(Model(load_text(RACE_N.replace("repeat = 2", f"repeat = {n}"))))
        res = ex.run()
        assert res.complete
        return {k: len(ex.witness_path(w)) for k, w in res.violations.items()}
    assert shortest(1) == {"P-RETURN": 8}
    assert shortest(2) == {"P-RETURN": 8, "STALE": 16, "UAF": 17}


@pytest.mark.slow
def test_a_third_request_adds_p_cancel():
    """1.2 million states: P-CANCEL (AIO_NOTCANCELED with nothing still in progress) needs three."""
    ex = Explorer(Model(load_text(RACE_N.replace("repeat = 2", "repeat = 3"))))
    res = ex.run()
    got = {k: len(ex.witness_path(w)) for k, w in res.violations.items()}
    assert got == {"P-RETURN": 8, "STALE": 16, "UAF": 17, "P-CANCEL": 20}
