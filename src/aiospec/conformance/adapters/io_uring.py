"""Linux io_uring as an AIO implementation, through the ``liburing`` Python binding.

``liburing`` (PyPI ``liburing``, a Cython binding of the C liburing, manylinux wheels) gives
``io_uring_prep_read/write/fsync/cancel64`` with explicit offsets.  The mapping:

- ``aio_read`` / ``aio_write`` / ``aio_fsync``: one SQE each (``user_data`` = a job id),
  submitted at once.  A **negative offset is rejected by the adapter** with EINVAL at submission
  (as FreeBSD's ``aio_aqueue`` does): io_uring reads offset -1 as "the file's current position",
  so passing it on would turn an error into I/O somewhere else.  A bad descriptor is the kernel's
  business: io_uring fails the request at completion (CQE ``res = -EBADF``).
- a completion thread waits on an eventfd registered with the ring, then drains the CQEs and records ``res`` per job (``res >= 0``: status, error 0;
  ``res < 0``: status -1, error ``-res``).  The binding raises ``OSError`` when reading a negative
  ``res``; the adapter turns it back into the errno.
- ``aio_cancel``: an ``IORING_OP_ASYNC_CANCEL`` per in-flight target, waited for: 0 (found and
  cancelled; the adapter then waits for the target's CQE, -ECANCELED) -> AIO_CANCELED,
  -EALREADY (running) -> AIO_NOTCANCELED, -ENOENT (already completed) -> AIO_ALLDONE; fd-wide with
  FreeBSD's precedence.  EBADF if ``fstat`` fails on the fd.
- ``aio_error`` / ``aio_return`` / ``aio_suspend`` / ``aio_waitcomplete`` / ``lio_listio``: as the
  futures adapter (``aio_return`` reaps; ``lio_listio(LIO_WAIT)`` fails with EIO if an entry
  failed; an entry with a negative offset is failed with EINVAL by the adapter).
- process exit: waits for every in-flight request, then stops the completion thread with a NOP.
- notifications: the CQE is io_uring's completion notification.  For an aiocb with ``sigev =
  "SIGNAL"`` the adapter counts the CQEs of its requests (one each, ``-ECANCELED`` included; a
  request the adapter rejected at submission has none); ``lio_listio(LIO_NOWAIT, ..., SIGNAL)``
  is notified once, at the CQE of its last entry.  KEVENT: unsupported.
- a reaped read hands back the bytes of its buffer.

Needs the ``liburing`` module and a kernel that lets this process create a ring (seccomp or
``kernel.io_uring_disabled`` can forbid it): ``available()`` says why not.
"""

from __future__ import annotations

import errno as _errno
import functools
import importlib.util
import itertools
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field

from ...spec.constants import AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, Errno, Op, Sigev
from ...spec.scenario import Call, Scenario
from ..observation import Notifications, combine_cancel, spec_errno
from .base import TIMED, Driver, DriverAdapter, Workspace, cancel_targets, waitcomplete_fifo
from .notes import ListNote, Notes

_EINVAL, _EINPROGRESS, _ECANCELED = int(Errno.EINVAL), int(Errno.EINPROGRESS), int(Errno.ECANCELED)
_STOP = (1 << 63) + 1  # user_data of the NOP that stops the completion thread
_CANCEL_BIT = 1 << 62  # user_data of a cancel SQE: the bit plus a sequence number


_PROBE = """
import liburing as L
ring = L.Ring()
try:
    L.io_uring_queue_init(4, ring, 0)
except OSError as e:
    raise SystemExit(f"io_uring_queue_init failed: {e} (io_uring disabled or forbidden here)")
L.io_uring_queue_exit(ring)
"""


_MISSING = "the liburing module is not installed"


@functools.cache
def available() -> str | None:
    """None when io_uring works here, else why not (the module, the binding or the ring).

    The ring is made in a child process: a binding built for another CPU dies of SIGILL in
    ``Ring()`` (seen on a virtual machine whose CPU lacks what the wheel was compiled for), and
    that must cost a skipped adapter, not the process that asked."""
    if importlib.util.find_spec("liburing") is None:
        return f"{_MISSING} (pip install 'aiospec[conform]')"
    try:
        p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"the io_uring probe did not finish: {e}"
    if p.returncode < 0:
        sig = signal.Signals(-p.returncode).name if -p.returncode in signal.valid_signals() else -p.returncode
        return f"the liburing binding crashed with {sig} when it made a ring (built for another CPU?)"
    if p.returncode:
        return (p.stderr.strip().splitlines() or [f"the io_uring probe exited {p.returncode}"])[-1]
    return None


@dataclass(eq=False)
class _Job:
    ident: int
    name: str
    fd: int
    buf: bytearray
    done: bool = False
    status: int = 0
    error: int = 0
    seen: list = field(default_factory=list)
    op: Op = Op.LIO_NOP
    note: ListNote | None = None  # the list notification it counts towards


def _cqe(L, cqe) -> tuple[int, int]:  # noqa: N803
    """(user_data, res) of the first CQE; the binding raises OSError for a negative res."""
    ud = cqe[0].user_data
    try:
        res = cqe[0].res
    except OSError as e:
        res = -(e.errno or _errno.EIO)
    return ud, res


class IoUringDriver(Driver):
    """One run on a fresh ring, with a completion thread."""

    supported_calls = frozenset({"aio_read", "aio_write", "aio_fsync", "lio_listio", "aio_cancel", "aio_error",
                                 "aio_return", "aio_suspend", "aio_waitcomplete"})

    def __init__(self, sc: Scenario, ws: Workspace) -> None:
        super().__init__(sc, ws)
        import liburing as L  # noqa: N812

        self.L = L
        self.ring = L.Ring()
        L.io_uring_queue_init(64, self.ring, 0)
        self.efd = os.eventfd(0)
        L.io_uring_register_eventfd(self.ring, self.efd)
        self.sub_lock = threading.Lock()  # one submitter at a time (liburing's SQ is not thread-safe)
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.ids = itertools.count(1)
        self.by_id: dict[int, _Job] = {}
        self.jobs: dict[str, list[_Job]] = {}  # aiocb -> submitted, not yet reaped
        self.done: deque[_Job] = deque()
        self.cancel_res: dict[int, int] = {}
        self.notes = Notes(sc)
        self.reaper = threading.Thread(target=self._reap_loop, name="io_uring-cq", daemon=True)
        self.reaper.start()

    # -- the ring ---------------------------------------------------------------------------
    def _push(self, prep, user_data: int) -> None:
        with self.sub_lock:
            sqe = self.L.io_uring_get_sqe(self.ring)
            prep(sqe)
            sqe.user_data = user_data
            self.L.io_uring_submit(self.ring)

    def _reap_loop(self) -> None:
        """Wait on the ring's eventfd (``os.read`` releases the GIL; the binding's
        ``io_uring_wait_cqe`` does not, so it would freeze every other thread), then drain the
        ready CQEs."""
        L, cqe = self.L, self.L.Cqe()
        while True:
            os.read(self.efd, 8)
            while L.io_uring_cq_ready(self.ring):
                try:
                    L.io_uring_peek_cqe(self.ring, cqe)
                except OSError:
                    pass  # a negative res is raised here too; the CQE is there
                ud, res = _cqe(L, cqe)
                L.io_uring_cqe_seen(self.ring, cqe[0])
                with self.cv:
                    if ud == _STOP:
                        return
                    if ud & _CANCEL_BIT:
                        self.cancel_res[ud] = res
                    else:
                        job = self.by_id.get(ud)
                        if job is not None:
                            job.done = True
                            job.status, job.error = (res, 0) if res >= 0 else (-1, spec_errno(-res) or _EINVAL)
                            if job in self.jobs.get(job.name, []):
                                self.done.append(job)
                            if self.notes.wants(job.name):
                                self.notes.job(job.name)  # this CQE is the request's notification
                            if job.note is not None:
                                job.note.done()
                    self.cv.notify_all()

    def _data(self, name: str) -> bytearray:
        return bytearray([0xA0 + self.sc.aiocb_index.get(name, 0) % 64]) * max(0, self.sc.aiocbs[name].nbytes)

    def _submit(self, name: str, op: Op, fd: int, note: ListNote | None = None) -> _Job | None:
        """Queue one request; None when the adapter rejects it (negative offset)."""
        acb = self.sc.aiocbs[name]
        if op in (Op.LIO_READ, Op.LIO_WRITE) and acb.offset < 0:
            return None
        buf = self._data(name) if op == Op.LIO_WRITE else bytearray(max(0, acb.nbytes))
        job = _Job(next(self.ids), name, fd, buf, op=op, note=note)
        if note is not None:
            note.add()
        with self.lock:
            self.by_id[job.ident] = job
            self.jobs.setdefault(name, []).append(job)
        L, off = self.L, acb.offset
        if op == Op.LIO_READ:
            self._push(lambda s: L.io_uring_prep_read(s, fd, buf, off), job.ident)
        elif op == Op.LIO_WRITE:
            self._push(lambda s: L.io_uring_prep_write(s, fd, buf, off), job.ident)
        else:
            self._push(lambda s: L.io_uring_prep_fsync(s, fd, 0), job.ident)
        return job

    def _failed_entry(self, name: str, fd: int, error: int) -> _Job:
        """A lio_listio entry the adapter rejected: a finished job with ``error`` (aqueue_fail)."""
        job = _Job(next(self.ids), name, fd, bytearray(), True, -1, error)
        with self.lock:
            self.jobs.setdefault(name, []).append(job)
            self.done.append(job)
        return job

    def _reap(self, job: _Job) -> tuple:
        self.jobs[job.name].remove(job)
        if job in self.done:
            self.done.remove(job)
        data = bytes(job.buf[:job.status]) if job.op == Op.LIO_READ and job.status >= 0 else None
        return job.error, (job.status, job.name), data

    def notifications(self) -> Notifications:
        return self.notes.result()

    # -- calls ------------------------------------------------------------------------------
    def call(self, call: Call) -> tuple[int, object]:
        k = call.kind
        if k in ("aio_read", "aio_write", "aio_fsync"):
            return (0, None) if self._submit(call.aiocb, call.op, self.ws.fd(call.fd)) else (_EINVAL, None)
        if k == "lio_listio":
            return self._lio(call)
        if k == "aio_cancel":
            return self._cancel(call)
        if k == "aio_error":
            with self.lock:
                jobs = self.jobs.get(call.aiocb)
                if not jobs:
                    return 0, _EINVAL
                job = jobs[-1]
                return 0, (job.error if job.done else _EINPROGRESS)
        if k == "aio_return":
            with self.lock:
                job = next((j for j in self.jobs.get(call.aiocb, []) if j.done), None)
                return (_EINVAL, None) if job is None else self._reap(job)
        if k == "aio_suspend":
            return self._suspend(call)
        if k == "aio_waitcomplete":
            return self._waitcomplete(call)
        raise ValueError(f"unsupported call {call.text}")

    def _lio(self, call: Call) -> tuple[int, object]:
        if call.mode not in ("LIO_WAIT", "LIO_NOWAIT"):
            return _EINVAL, None
        jobs, failed = [], False
        note = self.notes.open_list(call)
        for e in call.entries:
            if e.aiocb is None or e.op == Op.LIO_NOP:
                continue
            fd = self.ws.fd(self.sc.aiocbs[e.aiocb].fd)
            job = self._submit(e.aiocb, e.op, fd, note)
            if job is None:
                failed = True
                job = self._failed_entry(e.aiocb, fd, _EINVAL)
            jobs.append(job)
        if note is not None:
            note.close()
        if call.mode == "LIO_WAIT":
            with self.cv:
                self.cv.wait_for(lambda: all(j.done for j in jobs))
            if any(j.error for j in jobs):
                return int(Errno.EIO), None
        elif failed:
            return int(Errno.EIO), None
        return 0, None

    def _cancel_one(self, job: _Job) -> int:
        ud = _CANCEL_BIT | next(self.ids)
        self._push(lambda s: self.L.io_uring_prep_cancel64(s, job.ident, 0), ud)
        with self.cv:
            self.cv.wait_for(lambda: ud in self.cancel_res, 5.0)
            res = self.cancel_res.pop(ud, -_errno.ETIME)
            if res == 0:  # found and cancelled: its CQE (-ECANCELED) follows
                self.cv.wait_for(lambda: job.done, 5.0)
                return AIO_CANCELED if job.done and job.error == _ECANCELED else AIO_NOTCANCELED
            if res == -_errno.EALREADY:
                return AIO_NOTCANCELED
            return AIO_ALLDONE if job.done or res == -_errno.ENOENT else AIO_NOTCANCELED

    def _cancel(self, call: Call) -> tuple[int, object]:
        targets = cancel_targets(self.ws, self.lock, self.jobs, call)
        if targets is None:
            return int(Errno.EBADF), None
        return 0, combine_cancel([AIO_ALLDONE if j.done else self._cancel_one(j) for j in targets])

    def _suspend(self, call: Call) -> tuple[int, object]:
        if call.timeout == "invalid":
            return _EINVAL, None
        with self.cv:
            jobs = [j for x in call.targets if x for j in self.jobs.get(x, [])]
            if not jobs:
                return 0, None
            ok = self.cv.wait_for(lambda: any(j.done for j in jobs), TIMED if call.timeout == "timed" else None)
        return (0, None) if ok else (int(Errno.EAGAIN), None)

    def _waitcomplete(self, call: Call) -> tuple[int, object]:
        return waitcomplete_fifo(self.cv, self.done, call, self._reap)

    def close(self, timeout: float) -> None:
        """Process exit: wait for every in-flight request, then stop the completion thread."""
        with self.cv:
            ok = self.cv.wait_for(lambda: all(j.done for j in self.by_id.values()), timeout)
        if not ok:  # a read on an empty pipe: cancel what is left, as aio_proc_rundown does
            for j in [j for j in self.by_id.values() if not j.done]:
                self._cancel_one(j)
        self._push(lambda s: self.L.io_uring_prep_nop(s), _STOP)
        self.reaper.join(timeout)
        if self.reaper.is_alive():
            raise TimeoutError(f"the io_uring completion thread did not stop within {timeout:g}s")
        self.L.io_uring_queue_exit(self.ring)
        os.close(self.efd)


class IoUringAdapter(DriverAdapter):
    """io_uring through ``liburing``, in-process (the binding owns its buffers)."""

    name = "io_uring"
    description = "Linux io_uring through the liburing Python binding (read/write/fsync/async-cancel), in-process"
    driver_cls = IoUringDriver
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})  # SIGNAL: the request's CQE

    def __init__(self) -> None:
        why = available()
        if why:
            raise (ModuleNotFoundError if why.startswith(_MISSING) else ImportError)(why)
