"""Python's async I/O as AIO implementations: asyncio's executor, aiofiles, anyio.

All three run an asyncio event loop on a background thread; every scenario call becomes a
coroutine on that loop (``run_coroutine_threadsafe``), so the scenario threads call in
concurrently, as they would call a C library.  A request is a future (or task) on the loop:

- ``asyncio``: ``loop.run_in_executor(pool, os.pread / os.pwrite / os.fsync)`` on a pool of
  ``daemons`` threads.  ``aio_cancel`` = ``future.cancel()``: True -> AIO_CANCELED, False (it is
  done) -> AIO_ALLDONE.  An asyncio future has no "running" state: ``cancel()`` returns True even
  when the pool thread already runs the I/O (the wrapper is cancelled, the work is not), which is
  what cancel honesty checks.
- ``aiofiles``: ``aiofiles.open(fd, "r+b", buffering=0, closefd=False, executor=pool)`` per
  descriptor; a request is a task doing ``seek`` + ``read``/``write`` under a per-file
  ``asyncio.Lock`` (aiofiles has no positional I/O), ``fsync`` through ``aiofiles.os.wrap``.
  ``aio_cancel`` = ``task.cancel()``, mapped as for asyncio.
- ``anyio``: a request is a task running ``anyio.to_thread.run_sync`` with a
  ``CapacityLimiter(daemons)`` inside its own ``CancelScope``.  ``aio_cancel`` cancels the scope
  only while the request waits for the limiter (AIO_CANCELED); once its thread runs it is
  AIO_NOTCANCELED, and a finished one AIO_ALLDONE.  The worker checks a cancelled flag before it
  touches the file, so a cancel that wins the race against the thread start is honest.

Nothing is checked at submission (errors are reported at completion, as with futures).
``aio_suspend`` is ``asyncio.wait(FIRST_COMPLETED)``, ``lio_listio(LIO_WAIT)`` waits for every
entry and fails with EIO if one failed, ``aio_waitcomplete`` takes the oldest finished request.
Process exit waits for every request and for the pool (a "cancelled" write that still runs
lands before the files are read).

Notifications: the request's asyncio future (task) done callback, for an aiocb with ``sigev =
"SIGNAL"`` (it runs when the future is cancelled too); ``lio_listio(LIO_NOWAIT, ..., SIGNAL)``
fires once when its last entry's future is done.  KEVENT: unsupported.  A reaped read hands back
the bytes it read.  aiofiles on a pipe: the workspace's FIFO is non-blocking, so a read with
nothing in the pipe gets ``None`` from the raw file object (and a write to a full pipe too): the
adapter reports EAGAIN, as ``read(2)`` says and as glibc's fallback to ``read`` reports it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import threading
from collections import deque
from dataclasses import dataclass, field

from ...spec.constants import AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, Errno, FileKind, Op, Sigev
from ...spec.scenario import Call, Scenario
from ..observation import Notifications, combine_cancel, spec_errno
from .base import TIMED, Driver, DriverAdapter, Workspace
from .futures import FutureJobs, IoResult, _io
from .notes import ListNote, Notes

_EINVAL, _EINPROGRESS, _ECANCELED = int(Errno.EINVAL), int(Errno.EINPROGRESS), int(Errno.ECANCELED)


@dataclass(eq=False)
class _Job:
    name: str
    fd: int
    future: asyncio.Future
    started: threading.Event = field(default_factory=threading.Event)  # its thread touched the file
    cancelled: bool = False  # anyio: the cancel won, the worker must not run the I/O
    scope: object = None  # anyio: the request's CancelScope


class _AsyncDriver(FutureJobs, Driver):
    """One run: an event loop on its own thread, a thread pool of ``daemons`` workers."""

    supported_calls = frozenset({"aio_read", "aio_write", "aio_fsync", "lio_listio", "aio_cancel", "aio_error",
                                 "aio_return", "aio_suspend", "aio_waitcomplete"})

    def __init__(self, sc: Scenario, ws: Workspace) -> None:
        super().__init__(sc, ws)
        self.pool = cf.ThreadPoolExecutor(max_workers=max(1, sc.daemons), thread_name_prefix=f"{self.lib}-aio")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name=f"{self.lib}-loop")
        self.thread.start()
        self.jobs: dict[str, list[_Job]] = {}  # aiocb -> submitted, not yet reaped (touched on the loop only)
        self.done: deque[_Job] = deque()
        self.all: list[_Job] = []
        self.notes = Notes(sc)
        self._on_loop(self._setup())

    lib = "asyncio"

    async def _setup(self) -> None:
        pass

    def _on_loop(self, coro) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    # -- per library ----------------------------------------------------------------------
    def _start(self, job: _Job, op: Op, n: int, off: int, data: bytes) -> asyncio.Future:
        return self.loop.run_in_executor(self.pool, _io, op, job.fd, n, off, data)

    def _cancel_one(self, job: _Job) -> int:
        return AIO_CANCELED if job.future.cancel() else AIO_ALLDONE

    def _done(self, job: _Job) -> bool:
        return job.future.done()

    # -- calls ------------------------------------------------------------------------------
    def call(self, call: Call) -> tuple[int, object]:
        return self._on_loop(self._call(call))  # type: ignore[return-value]

    def _submit(self, name: str, op: Op, fd: int, note: ListNote | None = None) -> _Job:
        acb = self.sc.aiocbs[name]
        data = bytes([0xA0 + self.sc.aiocb_index.get(name, 0) % 64]) * max(0, acb.nbytes) if op == Op.LIO_WRITE else b""
        job = _Job(name, fd, None)  # type: ignore[arg-type]
        if note is not None:
            note.add()
        job.future = self._start(job, op, acb.nbytes, acb.offset, data)
        job.future.add_done_callback(lambda _f: self._finished(job))
        if self.notes.wants(name):  # the request's notification: its future's done callback
            job.future.add_done_callback(lambda _f: self.notes.job(name))
        if note is not None:
            job.future.add_done_callback(lambda _f: note.done())
        self.jobs.setdefault(name, []).append(job)
        self.all.append(job)
        return job

    def notifications(self) -> Notifications:
        return self.notes.result()

    def _finished(self, job: _Job) -> None:
        if job in self.jobs.get(job.name, []):
            self.done.append(job)


    async def _call(self, call: Call) -> tuple[int, object]:
        k = call.kind
        if k in ("aio_read", "aio_write", "aio_fsync"):
            self._submit(call.aiocb, call.op, self.ws.fd(call.fd))
            return 0, None
        if k == "lio_listio":
            if call.mode not in ("LIO_WAIT", "LIO_NOWAIT"):
                return _EINVAL, None
            note = self.notes.open_list(call)
            jobs = [self._submit(e.aiocb, e.op, self.ws.fd(self.sc.aiocbs[e.aiocb].fd), note)
                    for e in call.entries if e.aiocb is not None and e.op != Op.LIO_NOP]
            if note is not None:
                note.close()
            if call.mode == "LIO_WAIT" and jobs:
                await asyncio.wait([j.future for j in jobs])
                if any(self._result(j)[1] for j in jobs):
                    return int(Errno.EIO), None
            return 0, None
        if k == "aio_cancel":
            fd = self.ws.fd(call.fd)
            try:
                os.fstat(fd)
            except OSError:
                return int(Errno.EBADF), None
            if call.aiocb is None:
                targets = [j for js in self.jobs.values() for j in js if j.fd == fd]
            else:
                targets = [j for j in self.jobs.get(call.aiocb, []) if j.fd == fd][:1]
            return 0, combine_cancel([AIO_ALLDONE if self._done(j) else self._cancel_one(j) for j in targets])
        if k == "aio_error":
            jobs = self.jobs.get(call.aiocb)
            if not jobs:
                return 0, _EINVAL
            job = jobs[-1]
            return 0, self._result(job)[1] if self._done(job) else _EINPROGRESS
        if k == "aio_return":
            job = next((j for j in self.jobs.get(call.aiocb, []) if self._done(j)), None)
            return self._reap(job) if job is not None else (_EINVAL, None)
        if k == "aio_suspend":
            if call.timeout == "invalid":
                return _EINVAL, None
            jobs = [j for x in call.targets if x for j in self.jobs.get(x, [])]
            if any(self._done(j) for j in jobs):
                return 0, None
            futs = [j.future for j in jobs]
            if not futs:
                return 0, None
            done, _ = await asyncio.wait(futs, timeout=TIMED if call.timeout == "timed" else None,
                                         return_when=asyncio.FIRST_COMPLETED)
            return (0, None) if done else (int(Errno.EAGAIN), None)
        if k == "aio_waitcomplete":
            if call.timeout == "invalid":
                return _EINVAL, None
            limit = {"poll": 0.0, "timed": TIMED}.get(call.timeout)
            t0 = self.loop.time()
            while not self.done:
                if limit is not None and self.loop.time() - t0 >= limit:
                    return int(Errno.EAGAIN), None
                await asyncio.sleep(0.001)
            return self._reap(self.done[0])
        raise ValueError(f"unsupported call {call.text}")

    def close(self, timeout: float) -> None:
        """Process exit: wait for every request, then for the pool (work whose future was
        cancelled may still run and land), then stop the loop."""
        async def drain() -> None:
            futs = [j.future for j in self.all]
            if futs:
                await asyncio.wait(futs, timeout=timeout)
            await asyncio.sleep(0)  # done callbacks (notifications) scheduled by the last completions
            await self._teardown()

        try:
            asyncio.run_coroutine_threadsafe(drain(), self.loop).result(timeout + 1.0)
        except cf.TimeoutError:
            raise TimeoutError(f"requests still running after {timeout:g}s") from None
        finally:
            t = threading.Thread(target=self.pool.shutdown, kwargs={"wait": True}, daemon=True)
            t.start()
            t.join(timeout)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
            if not self.thread.is_alive():
                self.loop.close()
        if t.is_alive():
            raise TimeoutError(f"the thread pool did not finish within {timeout:g}s")

    async def _teardown(self) -> None:
        pass


class AsyncioDriver(_AsyncDriver):
    lib = "asyncio"


class AiofilesDriver(_AsyncDriver):
    lib = "aiofiles"

    async def _setup(self) -> None:
        import aiofiles
        import aiofiles.os

        self._aiofiles = aiofiles
        self._fsync = aiofiles.os.wrap(os.fsync)
        self.files: dict[int, object] = {}
        self.locks: dict[int, asyncio.Lock] = {}
        self.pipes = {self.ws.fd(n) for n, k in self.sc.files.items() if k == FileKind.PIPE}

    async def _job(self, fd: int, op: Op, n: int, off: int, data: bytes) -> IoResult:
        try:
            if op == Op.LIO_SYNC:
                await self._fsync(fd, loop=self.loop, executor=self.pool)
                return 0, 0, None
            lock = self.locks.setdefault(fd, asyncio.Lock())
            async with lock:
                f = self.files.get(fd)
                if f is None:
                    f = await self._aiofiles.open(fd, "r+b", buffering=0, closefd=False, executor=self.pool)
                    self.files[fd] = f
                if fd not in self.pipes:
                    await f.seek(off)
                if op == Op.LIO_READ:
                    got = await f.read(n)
                    # a raw file object on a non-blocking descriptor returns None for EAGAIN (empty FIFO)
                    return (-1, int(Errno.EAGAIN), None) if got is None else (len(got), 0, got)
                if op == Op.LIO_WRITE:
                    put = await f.write(data)
                    return (-1, int(Errno.EAGAIN), None) if put is None else (put, 0, None)
            return -1, _EINVAL, None
        except OSError as e:
            return -1, spec_errno(e.errno or 0) or _EINVAL, None
        except (ValueError, OverflowError):
            return -1, _EINVAL, None

    def _start(self, job: _Job, op: Op, n: int, off: int, data: bytes) -> asyncio.Future:
        return self.loop.create_task(self._job(job.fd, op, n, off, data))

    async def _teardown(self) -> None:
        for f in self.files.values():
            try:
                await f.close()
            except OSError:
                pass


class AnyioDriver(_AsyncDriver):
    lib = "anyio"

    async def _setup(self) -> None:
        import anyio
        import anyio.to_thread

        self._anyio = anyio
        self.limiter = anyio.CapacityLimiter(max(1, self.sc.daemons))
        self.flag = threading.Lock()

    def _work(self, job: _Job, op: Op, n: int, off: int, data: bytes) -> IoResult | None:
        with self.flag:
            if job.cancelled:
                return None  # the cancel won the race against the thread start
            job.started.set()
        return _io(op, job.fd, n, off, data)

    async def _job(self, job: _Job, op: Op, n: int, off: int, data: bytes) -> IoResult:
        with job.scope:  # type: ignore[attr-defined]
            res = await self._anyio.to_thread.run_sync(self._work, job, op, n, off, data, limiter=self.limiter)
            if res is not None:
                return res
        return -1, _ECANCELED, None  # cancelled while waiting for a thread, or before its I/O started

    def _start(self, job: _Job, op: Op, n: int, off: int, data: bytes) -> asyncio.Future:
        job.scope = self._anyio.CancelScope()
        return self.loop.create_task(self._job(job, op, n, off, data))

    def _cancel_one(self, job: _Job) -> int:
        with self.flag:
            if job.started.is_set():
                return AIO_NOTCANCELED
            job.cancelled = True
        job.scope.cancel()  # type: ignore[attr-defined]
        return AIO_CANCELED

    def _done(self, job: _Job) -> bool:
        return job.cancelled or job.future.done()  # cancelled: final at once, its task just has not ended yet

    def _outcome(self, job: _Job) -> IoResult:  # type: ignore[override]
        return (-1, _ECANCELED, None) if job.cancelled else job.future.result()


class AsyncioAdapter(DriverAdapter):
    name = "asyncio"
    description = "asyncio loop.run_in_executor (os.pread/os.pwrite/os.fsync), future.cancel(), in-process"
    driver_cls = AsyncioDriver
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})  # SIGNAL: the future's done callback


class AiofilesAdapter(DriverAdapter):
    name = "aiofiles"
    description = "aiofiles file objects (seek + read/write on the executor), task.cancel(), in-process"
    driver_cls = AiofilesDriver
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})

    def __init__(self) -> None:
        import aiofiles  # noqa: F401 - ImportError: not installed (pip install 'aiospec[conform]')


class AnyioAdapter(DriverAdapter):
    name = "anyio"
    description = "anyio.to_thread.run_sync with a CapacityLimiter, CancelScope per request, in-process"
    driver_cls = AnyioDriver
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})

    def __init__(self) -> None:
        import anyio  # noqa: F401 - ImportError: not installed (pip install 'aiospec[conform]')
