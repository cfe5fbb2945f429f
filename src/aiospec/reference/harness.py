"""Run a scenario of the spec on the engine, with real threads and real temporary files.

Each scenario thread runs its calls on its own Python thread bound to the spec's thread
index; fd names map to real descriptors (``regular``: a temporary file, ``pipe``: a
non-blocking FIFO, ``BADFD``: a descriptor number that is not open); aiocb names map to ``Aiocb`` objects.
Thread indices, job slots (one per call site) and labels then line up with the model by
construction, so the recorded trace can be checked against the same scenario.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field

from ..spec.constants import IOSIZE_MAX, FileKind, Op, Sigev
from ..spec.model import Actor, Model
from ..spec.scenario import Scenario, load, load_text
from .engine import Engine
from .sched import EXIT_INDEX, Scheduler, ScheduleError
from .trace import Recorder
from .tracecheck import Verdict, check_trace
from .types import LIO_NOWAIT, LIO_WAIT, AioError, Aiocb, KeventFd

BADFD_NUMBER = 1 << 20  # above any open descriptor
TIMED = 0.05  # the scenario's "timed" timeout, in seconds
FILE_SIZE = 1 << 16


@dataclass
class RunResult:
    scenario: Scenario
    recorder: Recorder
    engine: Engine
    results: dict[int, list] = field(default_factory=dict)  # thread -> [(call text, outcome)]
    error: str | None = None  # a stuck schedule or an exception in a thread
    posts: list = field(default_factory=list)  # notifications delivered (callbacks and kevents)
    schedule_left: int = 0

    def check(self, results: bool = True) -> Verdict:
        """The recorded trace against the scenario's model."""
        v = check_trace(list(self.recorder.steps), self.scenario, self.recorder.calls if results else None)
        if self.error and (v or "ends before" in v.message):
            return Verdict(False, v.steps, f"the run failed: {self.error}", v.state)
        return v  # a rejection of the steps so far says more than the crash that followed


def _files(sc: Scenario, tmpdir: str) -> tuple[dict[str, int], list[int]]:
    fds: dict[str, int] = {"BADFD": BADFD_NUMBER}
    opened: list[int] = []
    for name, kind in sc.files.items():
        if kind == FileKind.REGULAR:
            fd = os.open(os.path.join(tmpdir, name), os.O_RDWR | os.O_CREAT, 0o600)
            os.pwrite(fd, bytes(range(256)) * (FILE_SIZE // 256), 0)
            opened.append(fd)
        elif kind == FileKind.PIPE:
            # A FIFO opened read-write (both directions pass fget) and non-blocking, as the
            # conformance workspace opens it: the engines read() it (no offset), and a read on the
            # empty pipe fails with EAGAIN rather than blocking its daemon, which with one daemon
            # would also hold the write meant to fill it, and rundown (close) waits for a running
            # read.  The model's pipe read does not block on an empty pipe either.
            path = os.path.join(tmpdir, name)
            os.mkfifo(path, 0o600)
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            opened.append(fd)
        else:
            raise ValueError(f"file {name}: kind {kind.name.lower()} has no userland equivalent here")
        fds[name] = fd
    return fds, opened


def run_scenario(sc: Scenario | str, mode: str = "free", seed: int = 0, schedule: list | None = None,
                 engine_cls: type[Engine] = Engine, timeout: float = 5.0, then: str = "lowest") -> RunResult:
    """Run ``sc`` on a fresh engine with tracing on; ``mode`` is "free" (real concurrency),
    "lowest", "random" or "schedule" (controlled, see ``sched.Scheduler``)."""
    if isinstance(sc, str):
        sc = load(sc) if "\n" not in sc else load_text(sc)
    if sc.rtems:
        raise ValueError("the engine implements the FreeBSD profile only")
    if sc.daemons < 1:
        raise ValueError("the engine needs at least one daemon (nothing would ever run)")
    rec = Recorder()
    sched = None
    if mode != "free":
        sched = Scheduler("schedule" if mode == "schedule" else mode, seed=seed, schedule=schedule,
                          model=Model(sc) if mode == "schedule" else None, then=then, timeout=timeout,
                          start=False)
    with tempfile.TemporaryDirectory(prefix="aiospec-ref-") as tmpdir:
        fds, opened = _files(sc, tmpdir)
        for name, fd in fds.items():
            if name != "BADFD":
                rec.name_fd(fd, name)
        posts: list = []
        plock = threading.Lock()

        def on_signal(ident: object) -> None:
            with plock:
                posts.append(("signal", getattr(ident, "name", ident)))

        kq = KeventFd()
        acbs: dict[str, Aiocb] = {}
        for name, spec in sc.aiocbs.items():
            nb = IOSIZE_MAX + 1 if spec.nbytes_too_big else spec.nbytes
            notify = {Sigev.NONE: None, Sigev.SIGNAL: on_signal, Sigev.KEVENT: kq}.get(spec.sigev, "invalid")
            # the fill byte every conformance adapter writes, so data integrity can be checked
            fill = 0xA0 + sc.aiocb_index.get(name, 0) % 64
            buf = bytearray([fill]) * max(0, spec.nbytes) if not spec.nbytes_too_big else bytearray(16)
            acbs[name] = Aiocb(fds.get(spec.fd, BADFD_NUMBER), buf, nb, spec.offset, notify=notify, name=name)
        eng = engine_cls(daemons=sc.daemons, limits=sc.limits, recorder=rec, scheduler=sched)
        res = RunResult(sc, rec, eng)
        errors: list[str] = []
        n = len(sc.threads)
        if sched is not None:
            for t in range(n):
                sched.register(Actor(0, t))
            sched.register(Actor(0, EXIT_INDEX))
            sched.begin()

        def body(t: int) -> None:
            eng.bind_thread(t, sc.threads[t].name)
            out = res.results.setdefault(t, [])
            try:
                for call in sc.threads[t].calls:
                    out.append((call.text, _do(eng, call, acbs, fds, kq, on_signal)))
            except ScheduleError as e:
                errors.append(f"thread {sc.threads[t].name}: {e}")
            except Exception as e:  # an engine bug: report, do not hang
                errors.append(f"thread {sc.threads[t].name}: {type(e).__name__}: {e}")
            finally:
                eng.unbind_thread()

        threads = [threading.Thread(target=body, args=(t,), name=sc.threads[t].name, daemon=True) for t in range(n)]
        for th in threads:
            th.start()
        try:
            if sched is None:
                for th in threads:
                    th.join(timeout)
                if any(th.is_alive() for th in threads):
                    errors.append(f"a thread did not finish within {timeout}s (blocked forever?)")
            eng.close()  # under a scheduler RUN_MARK waits until every user thread returned
        except ScheduleError as e:
            errors.append(f"exit: {e}")
            eng._stop_threads(timeout=1.0)
        for th in threads:
            th.join(timeout)
        if sched is not None and sched.error and not errors:
            errors.append(sched.error)
        res.error = "; ".join(errors) or None
        res.schedule_left = sched.remaining if sched is not None else 0
        posts.extend(("kevent", getattr(x, "name", x)) for x in kq.events())
        res.posts = posts
        kq.close()
        for fd in opened:
            os.close(fd)
    return res


def _do(eng: Engine, call, acbs: dict[str, Aiocb], fds: dict[str, int], kq: KeventFd, on_signal) -> object:
    """One scenario call on the engine; returns its result or the errno it failed with."""
    try:
        k = call.kind
        if k in ("aio_read", "aio_write", "aio_fsync", "aio_mlock"):
            cb = acbs[call.aiocb]
            if call.fd is not None:
                cb.fd = fds.get(call.fd, BADFD_NUMBER)
            if k == "aio_read":
                return eng.aio_read(cb)
            if k == "aio_write":
                return eng.aio_write(cb)
            if k == "aio_mlock":
                return eng.aio_mlock(cb)
            return eng.aio_fsync(call.fsync_op, cb)
        if k == "lio_listio":
            lst = []
            for e in call.entries:
                if e.aiocb is None:
                    lst.append(None)
                    continue
                cb = acbs[e.aiocb]
                cb.opcode = e.op if e.op != Op.LIO_INVALID else 99
                lst.append(cb)
            mode = {"LIO_WAIT": LIO_WAIT, "LIO_NOWAIT": LIO_NOWAIT}.get(call.mode, 7)
            sig = {None: None, Sigev.NONE: None, Sigev.SIGNAL: on_signal, Sigev.KEVENT: kq}.get(call.sig, "invalid")
            return eng.lio_listio(mode, lst, sig)
        if k == "aio_cancel":
            return eng.aio_cancel(fds.get(call.fd, BADFD_NUMBER), acbs[call.aiocb] if call.aiocb else None)
        if k == "aio_error":
            return eng.aio_error(acbs[call.aiocb])
        if k == "aio_return":
            return eng.aio_return(acbs[call.aiocb])
        tmo = {"none": None, "poll": 0, "timed": TIMED, "invalid": -1}[call.timeout]
        if k == "aio_suspend":
            return eng.aio_suspend([acbs[x] if x else None for x in call.targets], tmo)
        if k == "aio_waitcomplete":
            cb, status = eng.aio_waitcomplete(tmo)
            return (cb.name, status)
        raise ValueError(f"unsupported call {call.text}")
    except AioError as e:
        return ("errno", e.errno)
