"""The jobs one atomic step touches (``checker/footprint.py``): what the any-size argument's t is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiospec.checker.footprint import _guard_reads, measure, states_of, step_footprint
from aiospec.cli import main
from aiospec.spec.constants import CLEARED
from aiospec.spec.model import KIND_BIO, Actor, Model
from aiospec.spec.scenario import load
from aiospec.spec.state import S_JOBS, S_LIOS
from aiospec.spec.variables import J

RACE_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "race-n.toml")
WALKS = ("CANCEL", "CAN_END", "RUN_MARK", "RUN_SLEEP")


@pytest.fixture(scope="module")
def race():
    out = {}
    for n in (1, 2):
        m = Model(load(RACE_N, {"T": n}))
        states, complete = states_of(m, 100_000)
        assert complete
        out[n] = (m, states, measure(m, states))
    return out


def test_the_walks_touch_every_request_but_one_per_stretch(race):
    for n in (1, 2):
        fp = race[n][2]
        assert max(fp.labels[w].most_jobs for w in WALKS) == n  # the fd-wide cancel and the rundown
        assert all(fp.labels[w].most_between_cuts == 1 for w in WALKS)
        assert fp.t == n
    assert race[2][2].labels["CAN_END"].loops and not race[1][2].labels["CAN_END"].loops


def _steps_at(m: Model, states, label: str):
    """(state, actor, footprint) of every enabled step of ``label`` in ``states``."""
    for s in states:
        for a, lb, c in m.enabled(s):
            if lb.name == label:
                yield s, a, step_footprint(m, s, a, lb, c)


def test_aio_selectjob_restarts_without_a_cut(race):
    """Two requests, one CANCELLING: the daemon takes the first, fails to clear its cancel
    function, marks it CLEARED and rescans (L741-771), in one stretch."""
    m, states, fp = race[2]
    assert fp.labels["D_SELECT"].most_between_cuts == 2
    seen = 0
    for s, _a, f in _steps_at(m, states, "D_SELECT"):
        if len(f.jobs) == 2:
            seen += 1
            assert len(f.stretches) == 1
            assert any(f.target[S_JOBS][j][J.FLAGS] & CLEARED and not s[S_JOBS][j][J.FLAGS] & CLEARED
                       for j in f.jobs)
    assert seen


def test_the_ghost_snapshot_is_read_alike_and_not_counted(race):
    cancel = race[2][2].labels["CANCEL"]
    assert cancel.alike == 2  # bit j from job j's own record (View.alike)
    assert cancel.most_between_cuts == 1


def test_a_guard_read_counts():
    m = Model(load("disk-bio"))
    s = m.initial()
    assert _guard_reads(m, s, Actor(KIND_BIO, 0)) == ({0}, set())  # is its bio done?
    assert _guard_reads(m, s, m.exit_actor) == (set(), set())  # waits for the threads only


SCENARIOS = ("default", "lio-signal", "lio-wait", "rtems-calls", "errors")
_states: dict[str, tuple[Model, list]] = {}


def _model_and_states(name: str):
    if name not in _states:
        m = Model(load(name))
        _states[name] = (m, states_of(m, 30_000)[0])
    return _states[name]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SCENARIOS), st.integers(min_value=0))
def test_every_record_a_step_changes_is_in_its_footprint(name, k):
    """The recording View runs the spec unchanged, and misses no record the step writes."""
    m, states = _model_and_states(name)
    s = states[k % len(states)]
    for a, lb, c in m.enabled(s):
        f = step_footprint(m, s, a, lb, c)
        t = m.step(s, a, lb, c, canonical=False).target
        assert f.target == t
        assert {j for j, (x, y) in enumerate(zip(s[S_JOBS], t[S_JOBS])) if x != y} <= f.jobs
        assert {i for i, (x, y) in enumerate(zip(s[S_LIOS], t[S_LIOS])) if x != y} <= f.lios
        assert f.jobs == frozenset().union(*f.stretches)


def test_cli_prints_the_table_and_t():
    r = CliRunner().invoke(main, ["footprint", RACE_N, "--repeat", "T=2"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "2 jobs, 9,238 states (all reachable)" in r.output
    line = next(ln for ln in r.output.splitlines() if ln.split()[:1] == ["D_SELECT"])
    assert re.search(r"\)\s+[\d,]+\s+2\s+2\s+0\s+aiod0: a1, a2$", line), line  # both in one stretch
    assert "t = 2:" in r.output and "2 between two cuts" in r.output
    r = CliRunner().invoke(main, ["footprint", "cancel-race", "--states", "50"], catch_exceptions=False)
    assert r.exit_code == 0 and "(a sample)" in r.output and "t = 1:" in r.output


@pytest.mark.parametrize("args", [["nope"], ["cancel-race", "--states", "0"], [RACE_N, "--repeat", "T"]])
def test_cli_bad_input_exits_2(args):
    r = CliRunner().invoke(main, ["footprint", *args])
    assert r.exit_code == 2 and r.exception is None or isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output


FSYNC_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "fsync-n.toml")


def test_reading_a_jobs_opcode_from_the_scenario_reads_that_job():
    """SUB_SYNC passes another copy's fsync by its opcode alone (L1873-1898: a LIO_SYNC is not
    counted into ``pending``), reading none of its record: the footprint has it all the same."""
    from aiospec.spec.constants import Op
    from aiospec.spec.state import S_LISTS
    from aiospec.spec.variables import Q

    m = Model(load(FSYNC_N, {"T": 2}))
    states, _ = states_of(m, 20_000)
    passed = 0
    for s, a, f in _steps_at(m, states, "SUB_SYNC"):
        slots = m.sc.slots
        others = {j for j in s[S_LISTS][Q.JOBQ] if slots[j].op == Op.LIO_SYNC and slots[j].thread != a.index}
        assert others <= f.jobs
        passed += bool(others)
    assert passed


def test_comparing_user_pointers_reads_no_job(race):
    """aio_return's search of kaio_done (L1975-2006) compares each entry's aiocb with its own:
    copies never share one, so the entries it passes are not read (the found one is)."""
    from aiospec.spec.state import S_LISTS
    from aiospec.spec.variables import Q

    m, states, _ = race[2]
    both = 0
    for s, _a, f in _steps_at(m, states, "RETURN_FIND"):
        assert len(f.jobs) <= 1
        both += len(s[S_LISTS][Q.DONE]) == 2
    assert both


def test_taking_a_job_off_a_list_touches_it():
    """The sync task pops the head of kaio_syncready (L1026) and keeps it, reading none of its
    record: TAILQ_REMOVE writes the job's links all the same, and on a projection a marker
    popped off could stand for several jobs.  So the popped job is in the footprint."""
    from aiospec.spec.state import S_LISTS
    from aiospec.spec.variables import Q

    m = Model(load(FSYNC_N, {"T": 2}))
    states, _ = states_of(m, 20_000)
    popped = 0
    for s, _a, f in _steps_at(m, states, "TASK_START"):
        ready = s[S_LISTS][Q.SYNCREADY]
        if ready:
            assert ready[0] in f.jobs
            popped += 1
    assert popped
