"""Steps split at their cuts (``spec/split.py``): the same states outside a walk, the same verdicts,
one job a step for the walks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aiospec.checker.explore import check
from aiospec.checker.footprint import measure
from aiospec.checker.symbolic.lemmas import reachable_states
from aiospec.cli import main
from aiospec.spec.model import KIND_DAEMON, Model
from aiospec.spec.scenario import load
from aiospec.spec.split import CONTINUE, SplitModel, mutexes

RACE_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "race-n.toml")
SMALL = ("cancel-race", "double-cancel", "return-twice", "suspend-early", "disk-bio", "errors", "rtems-calls",
         "rtems-lio", "rtems-write", "lio-wait", "lio-signal")


def _load(name: str):
    return load(RACE_N, {"T": 2}) if name == "race-n" else load(name)


@pytest.mark.parametrize("name", [*SMALL, "race-n", pytest.param("default", marks=pytest.mark.slow)])
def test_the_same_states_between_walks_and_the_same_verdicts(name):
    """Every state the atomic model reaches is a state of the split one with no step suspended, and
    the other way round: the walker's lock keeps out every step that could tell the difference."""
    sc = _load(name)
    coarse, split = Model(sc), SplitModel(sc)
    a = set(reachable_states(coarse))
    b = reachable_states(split)
    quiet = {s[:-1] for s in b if not any(r[0] for r in s[-1])}
    assert quiet == a
    assert len(b) > len(a) or name in ("rtems-lio", "rtems-write")  # mid-walk states exist (no walk there)
    r1, _ = check(coarse)
    r2, _ = check(split)
    assert set(r1.violations) == set(r2.violations)


def test_a_suspended_walk_holds_its_lock():
    m = SplitModel(load("cancel-race"))
    mid = [s for s in reachable_states(m) if any(r[0] for r in s[-1])]
    assert mid
    lock_free_daemon_step = False
    for s in mid:
        (a, lb), = m.suspended(s)
        held = mutexes(lb.lock)
        assert held == {"kaio"}
        steps = list(m.enabled(s))
        assert [(x.index, c) for x, _lb, c in steps if c == CONTINUE] == [(a, CONTINUE)]
        for actor, other, _c in steps:
            if not (actor.kind == 0 and actor.index == a):
                assert not mutexes(other.lock) & held, other.name
                lock_free_daemon_step |= actor.kind == KIND_DAEMON and other.name == "D_RUN"
        # the atomic model's guard alone would let the daemon select or complete here
        coarse = [lb2.name for x, lb2, _ in Model.enabled(m, s) if x.kind == KIND_DAEMON]
        if any(n in ("D_SELECT", "D_COMPLETE") for n in coarse):
            assert not any(x.kind == KIND_DAEMON and lb2.name in ("D_SELECT", "D_COMPLETE") for x, lb2, _ in steps)
    assert lock_free_daemon_step  # the daemon's unlocked I/O does come in between


def test_split_walks_touch_one_job_a_step():
    m = SplitModel(load(RACE_N, {"T": 2}))
    fp = measure(m, reachable_states(m))
    for w in ("CANCEL", "CAN_END", "RUN_MARK", "RUN_SLEEP"):
        assert fp.labels[w].most_jobs == 1, w
    assert fp.t == 2 and {k for k, f in fp.labels.items() if f.most_jobs == 2} == {"D_SELECT"}


def test_cli_check_and_footprint_split():
    r = CliRunner().invoke(main, ["check", "cancel-race", "--split-cuts", "--no-progress"], catch_exceptions=False)
    assert r.exit_code == 1  # P-RETURN, as without the split
    assert "steps split at their cuts" in r.output and "[CANCEL] [continue]" in r.output
    assert "T2.resumes = the walk of kaio_jobqueue at job a (in CANCEL, kaio held)" in r.output
    r = CliRunner().invoke(main, ["footprint", RACE_N, "--repeat", "T=2", "--split-cuts"], catch_exceptions=False)
    assert r.exit_code == 0 and "12,767 states" in r.output and "t = 2:" in r.output
    r = CliRunner().invoke(main, ["check", "cancel-race", "--split-cuts", "--trace-out", "x"])
    assert r.exit_code == 2 and "--trace-out with --split-cuts" in r.output


def test_the_layout_reads_split_states_back():
    from aiospec.checker.symbolic.layout import Layout

    m = SplitModel(load(RACE_N, {"T": 2}))
    lay = Layout(m)
    states = reachable_states(m)
    mid = [s for s in states if any(r[0] for r in s[-1])]
    assert mid and any(r[0] == 1 and r[1] >= 0 and r[2] > 0 for s in mid for r in s[-1])  # a walk past its first job
    for s in states[::7]:
        assert lay.state_of(lay.values(s)) == s


def test_bmc_on_the_split_model_agrees_with_the_explicit_one():
    """P-RETURN takes one step more when the cancel's walk is a step of its own (10, not 9);
    BMC finds it at 10 and not sooner, and its trace replays on the split model."""
    from aiospec.checker.symbolic.strengthen import bmc_exact
    from aiospec.checker.trace import replay
    from aiospec.spec.properties import PROPERTIES

    m = SplitModel(load("cancel-race"))
    r, ex = check(m)
    assert {k: len(ex.witness_path(w)) for k, w in r.violations.items()} == {"P-RETURN": 10}
    res = bmc_exact(m, 10, [p for p in PROPERTIES if p.name == "P-RETURN"])
    assert {k: v.depth for k, v in res.violations.items()} == {"P-RETURN": 10}
    tr = replay(m, res.violations["P-RETURN"].path)
    assert any(st.choice == CONTINUE for st in tr.steps)


def test_prove_on_the_split_model():
    """return-twice: the exit thread's rundown walk is split (107 states, not 99)."""
    r = CliRunner().invoke(main, ["prove", "return-twice", "--split-cuts", "--no-progress", "--jobs", "1"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "steps split at their cuts" in r.output and "mined from the 107 reachable states" in r.output
    rows = [ln.split("│")[:3] for ln in r.output.splitlines() if ln.count("│") >= 4]
    assert len(rows) == 11 and all("proved" in c[2] for c in rows)


def test_renaming_copies_moves_where_a_walk_resumes():
    """Mining renames the copies of a thread (``family.py``): on split states it must rename the
    job a suspended walk resumes at, and an exit thread in mid-walk has started."""
    from aiospec.checker.symbolic.family import Transport, thread_maps

    m2, m1 = SplitModel(load(RACE_N, {"T": 2})), SplitModel(load(RACE_N, {"T": 1}))
    states = reachable_states(m2)
    seen = set(states)
    swap = Transport(m2, m2, thread_maps(m2.sc, m2.sc)[1])
    assert {swap(s) for s in states} == seen
    grow = [Transport(m1, m2, tm) for tm in thread_maps(m1.sc, m2.sc)]
    small = reachable_states(m1)
    moved = [t(s) for t in grow for s in small if t.fits(s)]
    assert moved and all(s in seen for s in moved)
    assert any(not t.fits(s) for t in grow for s in small if s[-1][2][0])  # the exit thread walking


@pytest.mark.slow
def test_prove_race_n_two_requests_on_the_split_model():
    r = CliRunner().invoke(main, ["prove", RACE_N, "--repeat", "T=2", "--split-cuts", "--no-progress"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rows = [ln.split("│")[:3] for ln in r.output.splitlines() if ln.count("│") >= 4]
    assert len(rows) == 11 and all("proved" in c[2] for c in rows)
