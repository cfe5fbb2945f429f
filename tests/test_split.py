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
         "rtems-lio", "lio-wait", "lio-signal")


def _load(name: str):
    return load(RACE_N, {"T": 2}) if name == "race-n" else load(name)


@pytest.mark.parametrize("name", [*SMALL, "race-n", "default"])
def test_the_same_states_between_walks_and_the_same_verdicts(name):
    """Every state the atomic model reaches is a state of the split one with no step suspended, and
    the other way round: the walker's lock keeps out every step that could tell the difference."""
    sc = _load(name)
    coarse, split = Model(sc), SplitModel(sc)
    a = set(reachable_states(coarse))
    b = reachable_states(split)
    quiet = {s[:-1] for s in b if not any(s[-1])}
    assert quiet == a
    assert len(b) > len(a) or name in ("errors", "rtems-lio")  # mid-walk states exist
    r1, _ = check(coarse)
    r2, _ = check(split)
    assert set(r1.violations) == set(r2.violations)


def test_a_suspended_walk_holds_its_lock():
    m = SplitModel(load("cancel-race"))
    mid = [s for s in reachable_states(m) if any(s[-1])]
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
