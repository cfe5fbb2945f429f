"""Engine traces against the spec: every scenario in every mode, the checker's own
counterexamples replayed on real files, injected I/O failures, broken engines rejected."""

from __future__ import annotations

import functools
import os

import pytest

from aiospec.checker.explore import Explorer
from aiospec.reference.engine import AioError, Aiocb, Engine, Errno
from aiospec.reference.harness import run_scenario
from aiospec.reference.kernel import KernelMixin
from aiospec.reference.sched import ScheduleError
from aiospec.reference.trace import Recorder
from aiospec.reference.tracecheck import SEED_FINDINGS, check_recorder, check_trace
from aiospec.reference.types import CANCELLING, FINISHED, QUEUEING
from aiospec.spec import Model, builtin_names, load
from aiospec.spec.actions import BY_NAME
from aiospec.spec.model import Actor

F1_SCENARIOS = {"default", "lio-fsync", "full"}
RUNNABLE = [n for n in builtin_names() if not load(n).rtems and "D" not in load(n).files]


@pytest.mark.parametrize("mode", ["free", "lowest", "random"])
@pytest.mark.parametrize("name", RUNNABLE)
def test_every_scenario_trace_is_accepted(name, mode):
    for seed in range(3 if mode == "random" else 1):
        r = run_scenario(name, mode=mode, seed=seed)
        v = r.check()
        if not v and name in F1_SCENARIOS and "halts" in v.message:
            # the run hit finding F1 (a cancel walk follows a freed successor): the engine is
            # faithful to the seed there, and both the engine and the spec say so
            assert any(f.startswith(("UAF", "STALE")) for f in r.engine.stats.faults)
            continue
        assert v, f"{name}/{mode}/{seed}: {v}"
        assert all(x == 0 for x in r.engine.leaks().values())


@functools.cache
def _witnesses(name: str):
    m = Model(load(name))
    ex = Explorer(m)
    res = ex.run()
    return {p: (ex.witness_path(w), p in res.violations) for p, w in {**res.violations, **res.reached}.items()}


@pytest.mark.parametrize("name", ["cancel-race", "double-cancel", "lio-wait"])
def test_checker_witnesses_replay_on_the_engine(name):
    """Each shortest witness of the checker runs on real files under the explicit scheduler."""
    for prop, (path, violated) in _witnesses(name).items():
        r = run_scenario(name, mode="schedule", schedule=path)
        assert r.error is None and r.schedule_left == 0, (prop, r.error)
        v = r.check()
        if prop in ("UAF", "STALE"):  # finding F1: the engine reaches the seed's use after free
            assert not v and "halts" in v.message and r.engine.stats.faults, (prop, v)
        elif violated:  # a finding about the seed: the faithful engine shows it too
            assert v or prop in SEED_FINDINGS, (prop, str(v))
        else:
            assert v, (prop, str(v))
        # the first steps of the trace are exactly the schedule
        got = [(a, lb) for a, lb, _c in r.recorder.steps[:len(path)]]
        assert [lb for _a, lb in got] == [BY_NAME_IDX[li] for _a, li, _c in path]


BY_NAME_IDX = {lb.index: lb.name for lb in BY_NAME.values()}


def test_schedule_injects_an_io_failure():
    sc = load("cancel-race")
    a0, d0 = Actor(0, 0), Actor(1, 0)
    path = [(a0, "SUB_CHECK", None), (a0, "SUB_NUMBER", None), (a0, "SUB_SCHED", None), (a0, "SUB_COMMIT", None),
            (d0, "D_SELECT", None), (d0, "D_RUN", (-1, int(Errno.EIO)))]
    r = run_scenario(sc, mode="schedule", schedule=path)
    assert r.check()
    assert ("aio_return(a)", ("errno", Errno.EIO)) in r.results[0]
    assert not any(lb == "CANCEL" for a, lb, c in r.recorder.steps[:6])


def test_a_wrong_schedule_is_reported_not_hung():
    d0 = Actor(1, 0)
    r = run_scenario("cancel-race", mode="schedule", schedule=[(d0, "D_RUN", (1, 0))], timeout=2.0)
    assert r.error and "D_SELECT" in r.error
    assert all(not t.is_alive() for t in r.engine._threads)


def test_direct_use_builds_its_own_scenario(tmp_path):
    """Without the harness: the recorder names fds and aiocbs and rebuilds the scenario."""
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    rec = Recorder()
    eng = Engine(daemons=2, recorder=rec)
    a = Aiocb(fd, bytearray(b"x" * 100), name="a")
    b = Aiocb(fd, bytearray(100), name="b")
    eng.aio_write(a)
    eng.aio_suspend([a])
    eng.aio_read(b)
    eng.aio_cancel(fd, None)
    eng.aio_waitcomplete(1.0)
    eng.close()
    os.close(fd)
    sc = rec.scenario(daemons=2)
    assert [c.text for c in sc.threads[0].calls][:2] == ["aio_write(a, F)", "aio_suspend([a])"]
    assert check_recorder(rec, 2)


# --- deliberately broken engines: the checker must reject their traces -------------------

class _NoCancellingDeferral(Engine):
    """Mutation: aio_complete ignores CANCELLING and finishes the job itself."""

    def aio_complete_locked(self, job):
        job.jobflags |= FINISHED
        self.stats.completes += 1
        if not job.jobflags & QUEUEING:
            if job in self.ki.jobqueue:
                self.ki.jobqueue.remove(job)
            self.aio_bio_done_notify(job)


class _FsyncDoesNotWait(Engine):
    """Mutation: aio_queue_file's LIO_SYNC branch counts no predecessor (no fsync ordering)."""

    def _queue_sync(self, job):
        return "SUB_SCHED"


FSYNC_SC = """
name = "fsync-order"
daemons = 1
[files]
F = "regular"
[[threads]]
name = "T1"
calls = ["aio_write(a, F)", "aio_fsync(O_SYNC, s, F)", "aio_waitcomplete()", "aio_waitcomplete()"]
"""


def test_fsync_mutant_is_rejected():
    assert run_scenario(FSYNC_SC, mode="lowest").check()
    v = run_scenario(FSYNC_SC, mode="lowest", engine_cls=_FsyncDoesNotWait).check()
    assert not v and "SUB_SCHED is not enabled" in v.message, str(v)
    assert "kaio_jobqueue = [a]" in str(v)


def _cancelling_path():
    return _witnesses("cancel-race")["R-DEFER-CANCELLING"][0]


@pytest.mark.parametrize("cls", [_NoCancellingDeferral])
def test_broken_engines_are_rejected(cls):
    r = run_scenario("cancel-race", mode="schedule", schedule=_cancelling_path(), engine_cls=cls)
    v = r.check()
    assert not v, "the mutant's trace was accepted"
    assert "not enabled" in v.message or "halts" in v.message or "property" in v.message
    assert v.state  # the spec state where it diverged


def test_the_checker_rejects_a_reordered_trace():
    r = run_scenario("cancel-race", mode="lowest")
    steps = list(r.recorder.steps)
    steps[1], steps[2] = steps[2], steps[1]
    v = check_trace(steps, r.scenario)
    assert not v and v.steps == 1


def test_unbound_controlled_thread_deadlock_is_reported(tmp_path):
    from aiospec.reference.sched import Scheduler

    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    eng = Engine(daemons=1, scheduler=Scheduler("lowest", timeout=2.0))
    with pytest.raises((ScheduleError, AioError)):
        eng.aio_waitcomplete()  # nothing submitted, waits forever: a deadlock in the spec too
    eng._stop_threads(1.0)
    os.close(fd)
    assert all(not t.is_alive() for t in eng._threads)
