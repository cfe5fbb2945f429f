"""Liveness: fair cycles found from the SCCs of the state graph, as lasso traces."""

from __future__ import annotations

import pytest

from aiospec.checker.explore import Explorer
from aiospec.checker.liveness import TooLarge, build_graph, check_liveness
from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.checker.trace import replay
from aiospec.spec import Model, load


@pytest.mark.parametrize("name", ["cancel-race", "lio-wait", "default", "lio-signal", "double-cancel", "return-twice"])
def test_faithful_scenarios_are_live(name):
    res = check_liveness(Model(load(name)))
    assert res.lassos == {}
    assert res.states == Explorer(Model(load(name))).run().states


def test_lost_sync_task_is_caught_by_liveness_only():
    mu = MUTANTS["sync-task-never-enqueued"]
    sc = load("default")
    faithful = Explorer(Model(sc)).run()
    with applied(mu):
        model = model_for(sc, mu)
        mutated = Explorer(model).run()
        live = check_liveness(model)
        assert set(mutated.violations) == set(faithful.violations)  # safety is blind to it
        assert set(live.lassos) == {"LIVE-JOB", "LIVE-RETURN"}
        lasso = live.lassos["LIVE-JOB"]
        assert "job s" in lasso.message
        # the lasso is real: replaying the cycle comes back to the state where it started
        tr = replay(model, lasso.prefix + lasso.cycle)
        start, end = tr.states[len(lasso.prefix)], tr.states[-1]
        assert model.canonical(start) == model.canonical(end)
        assert lasso.cycle


def test_graph_too_large_is_refused():
    with pytest.raises(TooLarge):
        build_graph(Model(load("lio-fsync")), max_states=1000)
