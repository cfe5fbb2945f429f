"""Python's ``concurrent.futures`` thread pool, used as an AIO implementation.

Many Python programs do "async file I/O" this way, so it is worth knowing which AIO promises it
keeps.  The mapping:

- ``aio_read`` / ``aio_write`` / ``aio_fsync``: ``executor.submit`` of ``os.pread`` /
  ``os.pwrite`` / ``os.fsync``; the pool has ``daemons`` workers (one worker keeps FIFO order,
  so an fsync follows earlier writes; more workers do not promise that).  Nothing is checked at
  submission: a bad descriptor or a negative offset fails when the job runs.
- ``lio_listio``: submit each entry (NULL and LIO_NOP skipped); LIO_WAIT waits for all of them
  and fails with EIO if one failed, like the spec.
- ``aio_cancel``: ``future.cancel()``: True -> AIO_CANCELED, False while running ->
  AIO_NOTCANCELED, False because done -> AIO_ALLDONE; an fd-wide cancel combines them with
  FreeBSD's precedence.  EBADF if ``fstat`` fails on the fd.
- ``aio_error`` / ``aio_return``: from the future (EINPROGRESS while not done, ECANCELED if
  cancelled); ``aio_return`` reaps, so a second one gives EINVAL.
- ``aio_suspend``: ``concurrent.futures.wait(FIRST_COMPLETED)``; 0 at once if none of the listed
  requests is known; the timeout gives EAGAIN.
- ``aio_waitcomplete``: the head of a queue of finished jobs fed by ``add_done_callback``.
- notifications: ``add_done_callback`` is futures' completion notification.  An aiocb with
  ``sigev = "SIGNAL"`` gets a done callback on each of its futures (it also runs when the
  future is cancelled, as FreeBSD posts on ECANCELED); a ``lio_listio(LIO_NOWAIT, ..., SIGNAL)``
  fires one list callback when its last entry's future is done (``notes.ListNote``).  KEVENT:
  unsupported.
- a reaped read hands back the bytes ``os.pread`` returned.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
from collections import deque
from dataclasses import dataclass

from ...spec.constants import Errno, Op, Sigev
from ...spec.scenario import Call, Scenario
from ..observation import Notifications, cancel_from_future, combine_cancel, spec_errno
from .base import TIMED, Driver, DriverAdapter, Workspace, cancel_targets, waitcomplete_fifo
from .notes import ListNote, Notes

_EINVAL, _EINPROGRESS, _ECANCELED = int(Errno.EINVAL), int(Errno.EINPROGRESS), int(Errno.ECANCELED)


@dataclass(eq=False)
class _Job:
    name: str
    fd: int
    future: cf.Future


IoResult = tuple[int, int, "bytes | None"]  # (status, error, the bytes a read returned)


def _io(op: Op, fd: int, n: int, off: int, data: bytes) -> IoResult:
    """The job body: (status, error, data read) in the spec's numbering, never an exception."""
    try:
        if op == Op.LIO_READ:
            got = os.pread(fd, n, off)
            return len(got), 0, got
        if op == Op.LIO_WRITE:
            return os.pwrite(fd, data, off), 0, None
        if op == Op.LIO_SYNC:
            os.fsync(fd)
            return 0, 0, None
        return -1, _EINVAL, None
    except OSError as e:
        return -1, spec_errno(e.errno or 0) or _EINVAL, None
    except (ValueError, OverflowError):
        return -1, _EINVAL, None


class FutureJobs:
    """Result and reaping of jobs backed by a future (concurrent.futures, asyncio and friends)."""

    def _outcome(self, job) -> IoResult:
        if job.future.cancelled():
            return -1, _ECANCELED, None
        return job.future.result()

    def _result(self, job) -> tuple[int, int]:
        status, error, _data = self._outcome(job)
        return status, error

    def _reap(self, job) -> tuple:
        """Called with the lock held: the job leaves the implementation, its result goes out
        (with the bytes, for a read)."""
        self.jobs[job.name].remove(job)
        if job in self.done:
            self.done.remove(job)
        status, error, data = self._outcome(job)
        return error, (status, job.name), data


class FuturesDriver(FutureJobs, Driver):
    """One run on a fresh ``ThreadPoolExecutor`` with the scenario's number of daemons."""

    supported_calls = frozenset({"aio_read", "aio_write", "aio_fsync", "lio_listio", "aio_cancel", "aio_error",
                                 "aio_return", "aio_suspend", "aio_waitcomplete"})
    #: what a pool thread runs for a request (the fakes swap it)
    job_body = staticmethod(_io)

    def __init__(self, sc: Scenario, ws: Workspace) -> None:
        super().__init__(sc, ws)
        self.pool = cf.ThreadPoolExecutor(max_workers=max(1, sc.daemons), thread_name_prefix="futures-aio")
        self.lock = threading.Lock()
        self.done_cv = threading.Condition(self.lock)
        self.jobs: dict[str, list[_Job]] = {}  # aiocb -> submitted, not yet reaped
        self.done: deque[_Job] = deque()  # finished, not yet reaped, in completion order
        self.notes = Notes(sc)

    # -- helpers --------------------------------------------------------------------------
    def _data(self, name: str) -> bytes:
        return bytes([0xA0 + self.sc.aiocb_index.get(name, 0) % 64]) * max(0, self.sc.aiocbs[name].nbytes)

    def _finished(self, job: _Job) -> None:
        with self.lock:
            if job in self.jobs.get(job.name, []):
                self.done.append(job)
                self.done_cv.notify_all()

    def _submit(self, name: str, op: Op, fd: int, note: ListNote | None = None) -> _Job:
        acb = self.sc.aiocbs[name]
        if note is not None:
            note.add()
        # the job gets the aiocb's buffer (the fill bytes: what a write writes; a read replaces it)
        fut = self.pool.submit(self.job_body, op, fd, acb.nbytes, acb.offset, self._data(name))
        job = _Job(name, fd, fut)
        with self.lock:
            self.jobs.setdefault(name, []).append(job)
        fut.add_done_callback(lambda _f: self._finished(job))
        if self.notes.wants(name):  # the request's notification: a done callback, cancelled or not
            fut.add_done_callback(lambda _f: self.notes.job(name))
        if note is not None:
            fut.add_done_callback(lambda _f: note.done())
        return job

    def notifications(self) -> Notifications:
        return self.notes.result()

    # -- calls ------------------------------------------------------------------------------
    def call(self, call: Call) -> tuple[int, object]:
        k = call.kind
        if k in ("aio_read", "aio_write", "aio_fsync"):
            self._submit(call.aiocb, call.op, self.ws.fd(call.fd))
            return 0, None
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
            if not job.future.done():
                return 0, _EINPROGRESS
            return 0, self._result(job)[1]
        if k == "aio_return":
            with self.lock:
                job = next((j for j in self.jobs.get(call.aiocb, []) if j.future.done()), None)
                if job is None:
                    return _EINVAL, None
                return self._reap(job)
        if k == "aio_suspend":
            return self._suspend(call)
        if k == "aio_waitcomplete":
            return self._waitcomplete(call)
        raise ValueError(f"unsupported call {call.text}")

    def _lio(self, call: Call) -> tuple[int, object]:
        if call.mode not in ("LIO_WAIT", "LIO_NOWAIT"):
            return _EINVAL, None
        jobs = []
        note = self.notes.open_list(call)
        for e in call.entries:
            if e.aiocb is None or e.op == Op.LIO_NOP:
                continue
            jobs.append(self._submit(e.aiocb, e.op, self.ws.fd(self.sc.aiocbs[e.aiocb].fd), note))
        if note is not None:
            note.close()
        if call.mode == "LIO_WAIT":
            cf.wait([j.future for j in jobs])
            if any(self._result(j)[1] for j in jobs):
                return int(Errno.EIO), None
        return 0, None

    def _cancel(self, call: Call) -> tuple[int, object]:
        targets = cancel_targets(self.ws, self.lock, self.jobs, call)
        if targets is None:
            return int(Errno.EBADF), None
        results = []
        for j in targets:
            cancelled = j.future.cancel()
            results.append(cancel_from_future(cancelled, not j.future.done()))
        return 0, combine_cancel(results)

    def _suspend(self, call: Call) -> tuple[int, object]:
        if call.timeout == "invalid":
            return _EINVAL, None
        with self.lock:
            futs = [j.future for x in call.targets if x for j in self.jobs.get(x, [])]
        if not futs:
            return 0, None  # none of them is known: "all finished"
        done, _ = cf.wait(futs, timeout=TIMED if call.timeout == "timed" else None, return_when=cf.FIRST_COMPLETED)
        return (0, None) if done else (int(Errno.EAGAIN), None)

    def _waitcomplete(self, call: Call) -> tuple[int, object]:
        return waitcomplete_fifo(self.done_cv, self.done, call, self._reap)

    def close(self, timeout: float) -> None:
        """Process exit: queued jobs are cancelled (as ``aio_proc_rundown`` does), running ones
        finish."""
        t = threading.Thread(target=self.pool.shutdown, kwargs={"wait": True, "cancel_futures": True}, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError(f"the thread pool did not shut down within {timeout:g}s")


class FuturesAdapter(DriverAdapter):
    """``concurrent.futures.ThreadPoolExecutor``, in-process (pure Python cannot crash the process)."""

    name = "futures"
    description = "Python concurrent.futures.ThreadPoolExecutor (os.pread/os.pwrite/os.fsync), in-process"
    driver_cls = FuturesDriver
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})  # SIGNAL: a done callback per request / list
