"""The native engine (aiospec.reference._native, vfs_aio.c in C) against the Python engine's
behaviours: data, results and errnos, cancel, lio, fsync ordering, limits, bad input, close
with requests in flight; its traces checked by the spec; random call sequences compared with
the Python engine on real files."""

from __future__ import annotations

import os
import tempfile
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiospec.reference import native_engine
from aiospec.reference.engine import (
    AIO_ALLDONE,
    AIO_CANCELED,
    AIO_NOTCANCELED,
    LIO_NOWAIT,
    LIO_WAIT,
    O_SYNC,
    AioError,
    Aiocb,
    Engine,
    Errno,
    Op,
)
from aiospec.reference.harness import run_scenario
from aiospec.reference.native_engine import NativeEngine, NativeUnavailable, native_available
from aiospec.reference.trace import Recorder
from aiospec.reference.tracecheck import check_recorder
from aiospec.reference.types import Limits
from aiospec.spec import builtin_names, load
from engine_helpers import no_leaks, reap  # tests/engine_helpers.py

needs_native = pytest.mark.skipif(not native_available(), reason=str(native_engine.NATIVE_ERROR))
BASELINE = threading.active_count()
F1_SCENARIOS = {"default", "lio-fsync", "full"}


def test_unavailable_is_reported(monkeypatch):
    monkeypatch.setattr(native_engine, "_native", None)
    monkeypatch.setattr(native_engine, "NATIVE_ERROR", "not built (test)")
    with pytest.raises(NativeUnavailable, match="not built"):
        NativeEngine()
    with pytest.raises(NativeUnavailable):
        Engine(native=True)


@needs_native
def test_write_then_read_back(tmpfd):
    with Engine(daemons=2, native=True) as eng:
        assert isinstance(eng, NativeEngine)
        data = os.urandom(8192)
        w = Aiocb(tmpfd, bytearray(data), offset=4096)
        eng.aio_write(w)
        assert w.error == Errno.EINPROGRESS and w.kernelinfo > 0  # the submission's user-memory stores
        assert reap(eng, w) == 8192
        assert (w.status, w.error) == (8192, 0)
        r = Aiocb(tmpfd, memoryview(bytearray(8192)), offset=4096)
        eng.aio_read(r)
        assert reap(eng, r) == 8192
        assert bytes(r.buffer) == data == os.pread(tmpfd, 8192, 4096)
        with pytest.raises(AioError) as ei:  # reaped: aio_return a second time is EINVAL
            eng.aio_return(r)
        assert ei.value.errno == Errno.EINVAL
    no_leaks(eng)
    assert threading.active_count() == BASELINE
    with pytest.raises(RuntimeError):
        eng.aio_read(r)
    with pytest.raises(ValueError):
        NativeEngine(scheduler=object())


@needs_native
def test_waitcomplete_reaps_everything_and_polls(tmpfd):
    with NativeEngine(daemons=1) as eng:
        with pytest.raises(AioError) as ei:
            eng.aio_waitcomplete(0)
        assert ei.value.errno == Errno.EAGAIN
        cbs = [Aiocb(tmpfd, bytearray(b"x" * 100), offset=100 * i, name=f"w{i}") for i in range(5)]
        for cb in cbs:
            eng.aio_write(cb)
        got = [eng.aio_waitcomplete(5.0) for _ in cbs]
        assert [cb.name for cb, _ in got] == [cb.name for cb in cbs]  # one daemon: FIFO
        assert all(st == 100 for _, st in got)
        for timeout in (0.01, 0):
            with pytest.raises(AioError) as ei:
                eng.aio_waitcomplete(timeout)
            assert ei.value.errno == Errno.EAGAIN
        for bad in (-1, "1", True):
            with pytest.raises(AioError) as ei:
                eng.aio_waitcomplete(bad)
            assert ei.value.errno == Errno.EINVAL
    no_leaks(eng)


@needs_native
def test_suspend_semantics(tmpfd):
    with NativeEngine(daemons=1) as eng:
        os.pwrite(tmpfd, b"0123456789", 0)
        cb = Aiocb(tmpfd, bytearray(10))
        with pytest.raises(AioError) as ei:
            eng.aio_suspend([cb], 0.01)  # the process never used AIO: EAGAIN (OBS-13)
        assert ei.value.errno == Errno.EAGAIN
        assert eng.aio_error(cb) == Errno.EINVAL  # no kaioinfo yet
        eng.aio_read(cb)
        eng.aio_suspend([None, cb], 5.0)
        assert eng.aio_error(cb) == 0
        assert eng.aio_return(cb) == 10 and bytes(cb.buffer) == b"0123456789"
        eng.aio_suspend([cb])  # unknown now: "all finished" returns at once
        eng.aio_suspend([])
        with pytest.raises(AioError) as ei:
            eng.aio_suspend([cb], -1)
        assert ei.value.errno == Errno.EINVAL
    no_leaks(eng)


@needs_native
def test_in_progress_while_queued(tmpfd):
    """With max_aio_per_proc = 0 no daemon may take a job: it stays queued (EINPROGRESS,
    aio_return EINVAL, timed waits time out) until aio_cancel or the rundown cancels it."""
    with NativeEngine(daemons=1, limits=Limits(max_aio_per_proc=0)) as eng:
        a = Aiocb(tmpfd, bytearray(5), name="a")
        eng.aio_read(a)
        assert eng.aio_error(a) == Errno.EINPROGRESS
        with pytest.raises(AioError) as ei:
            eng.aio_return(a)
        assert ei.value.errno == Errno.EINVAL
        for call in (lambda: eng.aio_suspend([a], 0.02), lambda: eng.aio_waitcomplete(0.02)):
            with pytest.raises(AioError) as ei:
                call()
            assert ei.value.errno == Errno.EAGAIN
        assert eng.aio_cancel(tmpfd, a) == AIO_CANCELED
        with pytest.raises(AioError) as ei:
            reap(eng, a)
        assert (ei.value.errno, ei.value.status, a.error, a.status) == (Errno.ECANCELED, -1, Errno.ECANCELED, -1)
        eng.aio_write(Aiocb(tmpfd, bytearray(5)))  # still queued at close: the rundown cancels it
    no_leaks(eng)
    assert eng.stats.completes == 2


@needs_native
def test_cancel_of_a_running_job_is_notcancelled(tmpfd):
    """A job a daemon has taken has no cancel function: aio_cancel leaves it (AIO_NOTCANCELED)
    and it completes normally.  A 64 MiB write keeps the daemon busy long enough to see it."""
    with NativeEngine(daemons=1) as eng:
        for _attempt in range(3):
            big = Aiocb(tmpfd, bytearray(64 << 20))
            eng.aio_write(big)
            deadline = time.monotonic() + 5
            while eng.leaks()["kaio_active_count"] == 0 and time.monotonic() < deadline:
                pass
            res = eng.aio_cancel(tmpfd, big)
            assert reap(eng, big) == 64 << 20
            if res != AIO_ALLDONE:  # else it finished before the cancel: try again
                break
        assert res == AIO_NOTCANCELED
    no_leaks(eng)


@needs_native
def test_callback_notification_and_a_failing_callback(tmpfd):
    got = []
    ev = threading.Event()
    with NativeEngine(daemons=1) as eng:
        cb = Aiocb(tmpfd, bytearray(4), notify=lambda x: (got.append(x), ev.set()))
        eng.aio_write(cb)
        assert ev.wait(5)
        assert got == [cb]
        reap(eng, cb)
        boom = Aiocb(tmpfd, bytearray(4), notify=lambda x: 1 / 0)
        eng.aio_write(boom)
        reap(eng, boom)
    assert any("ZeroDivisionError" in f for f in eng.stats.faults)  # recorded, delivery survives
    assert eng.stats.completes == eng.stats.frees == 2
    assert threading.active_count() == BASELINE  # the notifier was joined


@needs_native
def test_fsync_waits_for_earlier_writes(tmpfd):
    with NativeEngine(daemons=4) as eng:
        ws = [Aiocb(tmpfd, bytearray(1 << 16), offset=(1 << 16) * i) for i in range(8)]
        for w in ws:
            eng.aio_write(w)
        s = Aiocb(tmpfd)
        eng.aio_fsync(O_SYNC, s)
        assert reap(eng, s) == 0
        assert all(eng.aio_error(w) == 0 for w in ws)  # D17: every counted write finished first
        for w in ws:
            assert reap(eng, w) == 1 << 16
        with pytest.raises(AioError) as ei:
            eng.aio_fsync("O_DSYNC", s)
        assert ei.value.errno == Errno.EINVAL
    no_leaks(eng)


# -- traces of native runs, checked by the spec ------------------------------------------------

RUNNABLE = [n for n in builtin_names() if not load(n).rtems and "D" not in load(n).files]


@needs_native
@pytest.mark.parametrize("name", RUNNABLE)
def test_every_scenario_trace_is_accepted(name):
    for _ in range(5):
        r = run_scenario(name, mode="free", engine_cls=NativeEngine)
        v = r.check()
        if not v and name in F1_SCENARIOS and "halts" in v.message:
            assert any(f.startswith(("UAF", "STALE")) for f in r.engine.stats.faults)
            continue
        assert v, f"{name}: {v}\n{r.recorder.scenario_text(r.scenario.daemons)}"
        assert r.error is None and all(x == 0 for x in r.engine.leaks().values())


CALLS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["aio_read", "aio_write"]), st.sampled_from(["a", "b", "c", "neg"])),
    st.tuples(st.just("aio_fsync"), st.just("s")),
    st.tuples(st.just("lio"), st.booleans()),
    st.tuples(st.sampled_from(["aio_error", "aio_return", "aio_cancel", "suspend"]), st.sampled_from(["a", "b", "s"])),
    st.tuples(st.just("cancel_all"), st.none()),
    st.tuples(st.just("waitcomplete"), st.none()),
), max_size=14)


@needs_native
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=CALLS)
def test_random_traced_runs_are_accepted(calls):
    with tempfile.TemporaryDirectory(prefix="aiospec-nat-") as d:
        fd = os.open(os.path.join(d, "F"), os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, bytes(range(256)) * 16, 0)
        rec = Recorder()
        rec.name_fd(fd, "F")
        eng = NativeEngine(daemons=2, recorder=rec)
        eng.bind_thread(0)
        cbs = {n: Aiocb(fd, bytearray(512), 512, 512 * i, name=n) for i, n in enumerate("abc")}
        cbs["s"] = Aiocb(fd, name="s")
        cbs["neg"] = Aiocb(fd, bytearray(8), offset=-1, name="neg")
        slots = 0
        for kind, arg in calls:
            try:
                if kind in ("aio_read", "aio_write", "aio_fsync", "lio") and slots >= 10:
                    continue
                if kind == "aio_fsync":
                    slots += 1
                    eng.aio_fsync(O_SYNC, cbs["s"])
                elif kind in ("aio_read", "aio_write"):
                    slots += 1
                    getattr(eng, kind)(cbs[arg])
                elif kind == "lio":
                    cbs["b"].opcode, cbs["c"].opcode = Op.LIO_WRITE, Op.LIO_READ
                    slots += 2
                    eng.lio_listio(LIO_WAIT if arg else LIO_NOWAIT, [cbs["b"], cbs["c"]])
                elif kind == "aio_cancel":
                    eng.aio_cancel(fd, cbs[arg])
                elif kind == "cancel_all":
                    eng.aio_cancel(fd, None)
                elif kind == "suspend":
                    eng.aio_suspend([cbs[arg]], 0.01)
                elif kind == "waitcomplete":
                    eng.aio_waitcomplete(0)
                else:
                    getattr(eng, kind)(cbs[arg])
            except AioError:
                pass
        eng.close()
        os.close(fd)
    assert all(v == 0 for v in eng.leaks().values()), eng.leaks()
    v = check_recorder(rec, daemons=2)
    if not v and "halts" in v.message:  # finding F1, reproduced
        assert any(f.startswith(("UAF", "STALE")) for f in eng.stats.faults)
    else:
        assert v, f"{v}\n{rec.scenario_text(2)}"


# -- the native engine and the Python engine give the same outcomes ------------------------------

NAMES = ("a", "b", "c")
OPS = st.lists(st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(NAMES), st.sampled_from(["read", "write", "badoff", "badfd", "ro"])),
    st.tuples(st.just("fsync"), st.sampled_from(NAMES + ("s",))),
    st.tuples(st.just("lio"), st.sampled_from([LIO_WAIT, LIO_NOWAIT, 7]),
              st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from([Op.LIO_READ, Op.LIO_WRITE, Op.LIO_NOP, 99])),
                       min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["error", "return", "suspend", "cancel"]), st.sampled_from(NAMES + ("s",))),
    st.tuples(st.sampled_from(["waitcomplete", "cancel_all", "suspend_none"])),
), max_size=25)


def _settle(eng) -> None:
    """Wait until every committed job finished (kaio_jobqueue empty): results are now determined."""
    deadline = time.monotonic() + 10
    while eng.leaks()["kaio_jobqueue"] and time.monotonic() < deadline:
        time.sleep(0.0002)


def _run_ops(ops, native: bool):
    """Run ops on a fresh engine (one daemon: FIFO, so data and completion order are determined);
    every query first waits for the jobs in flight.  Returns the outcomes, the file and the aiocbs."""
    with tempfile.TemporaryDirectory(prefix="aiospec-cmp-") as d:
        fd = os.open(os.path.join(d, "F"), os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(fd, bytes(range(256)) * 8, 0)
        cbs = {n: Aiocb(fd, bytearray([0x41 + i]) * 256, offset=256 * i, name=n) for i, n in enumerate(NAMES)}
        cbs["s"] = Aiocb(fd, name="s")
        special = {"badoff": Aiocb(fd, bytearray(8), offset=-8, name="badoff"),
                   "badfd": Aiocb(1 << 20, bytearray(8), name="badfd"),
                   "ro": Aiocb(fd, b"read-only", name="ro")}
        eng = (NativeEngine if native else Engine)(daemons=1, limits=Limits(max_aio_queue_per_proc=6))
        out = []

        def call(fn, *args):
            try:
                r = fn(*args)
                return ("ok", (r[0].name, r[1]) if isinstance(r, tuple) else r)
            except AioError as e:
                return ("errno", e.errno, e.status, getattr(e.aiocb, "name", None))

        for op in ops:
            kind = op[0]
            if kind == "submit":
                _n, how = op[1], op[2]
                cb = special.get(how, cbs[_n])
                out.append(call(eng.aio_write if how == "write" else eng.aio_read, cb))
            elif kind == "fsync":
                out.append(call(eng.aio_fsync, O_SYNC, cbs[op[1]]))
                _settle(eng)  # the fsync's place among later jobs depends on the task thread: settle
            elif kind == "lio":
                lst = []
                for name, opcode in op[2]:
                    cbs[name].opcode = opcode
                    lst.append(cbs[name])
                out.append(call(eng.lio_listio, op[1], lst))
            else:
                _settle(eng)
                if kind == "error":
                    out.append(call(eng.aio_error, cbs[op[1]]))
                elif kind == "return":
                    out.append(call(eng.aio_return, cbs[op[1]]))
                elif kind == "suspend":
                    out.append(call(eng.aio_suspend, [cbs[op[1]]], 0.001))
                elif kind == "cancel":
                    out.append(call(eng.aio_cancel, fd, cbs[op[1]]))
                elif kind == "waitcomplete":
                    out.append(call(eng.aio_waitcomplete, 0))
                elif kind == "cancel_all":
                    out.append(call(eng.aio_cancel, fd, None))
                else:
                    out.append(call(eng.aio_suspend, [None], None))
        _settle(eng)
        left = {n: call(eng.aio_error, cb) for n, cb in cbs.items()}
        eng.close()
        assert all(v == 0 for v in eng.leaks().values()), eng.leaks()
        data = os.pread(fd, 1 << 12, 0)
        os.close(fd)
    user = {n: (cb.status, cb.error, cb.kernelinfo, bytes(cb.buffer) if cb.buffer is not None else None)
            for n, cb in {**cbs, **special}.items()}
    return out, left, data, user, eng.stats.completes, eng.stats.frees


@needs_native
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_native_and_python_engines_agree(ops):
    py = _run_ops(ops, native=False)
    nat = _run_ops(ops, native=True)
    for what, a, b in zip(("outcomes", "aio_error at the end", "file", "aiocbs", "completes", "frees"), py, nat):
        assert a == b, f"{what} differ:\n python {a}\n native {b}"


@needs_native
def test_harness_runs_pipe_cancel_read_on_the_native_engine():
    """The library's pipe scenario through the harness: the trace checks, and whichever way the
    cancel raced the daemon, nothing hangs (the harness's FIFO is non-blocking)."""
    from aiospec.conformance.library import load_scenario

    r = run_scenario(load_scenario("pipe-cancel-read"), mode="free", engine_cls=NativeEngine)
    assert r.error is None
    assert r.check(), r.check().message
    assert r.results[0][-1][1] == 512
