"""The data of the reference engine: the user's aiocb, the kernel's kaiocb, aioliojob and
kaioinfo, a readiness fd in the role of a kqueue, and the error type.

Names and fields follow the seed (``struct kaiocb``, ``struct aioliojob``, ``struct
kaioinfo``, L206-286) so that the engine can be read side by side with ``vfs_aio.c`` and the
spec.  Errno values are the spec's FreeBSD numbers (``aiospec.spec.constants.Errno``), not the
host's, so results compare directly with the model.
"""

from __future__ import annotations

import errno as _errno
import os
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

from ..spec.constants import (
    AIO_ALLDONE,
    AIO_CANCELED,
    AIO_NOTCANCELED,
    CANCELLED,
    CANCELLING,
    CHECKSYNC,
    CLEARED,
    FINISHED,
    IOSIZE_MAX,
    KAIO_RUNDOWN,
    KAIO_WAKEUP,
    LIOJ_KEVENT_POSTED,
    LIOJ_SIGNAL,
    LIOJ_SIGNAL_POSTED,
    QUEUEING,
    CancelFn,
    Errno,
    HandleFn,
    Op,
)
from ..spec.scenario import Limits

__all__ = [
    "AIO_ALLDONE", "AIO_CANCELED", "AIO_NOTCANCELED", "CANCELLED", "CANCELLING", "CHECKSYNC", "CLEARED",
    "FINISHED", "IOSIZE_MAX", "KAIO_RUNDOWN", "KAIO_WAKEUP", "LIOJ_KEVENT_POSTED", "LIOJ_SIGNAL",
    "LIOJ_SIGNAL_POSTED", "QUEUEING", "CancelFn", "Errno", "HandleFn", "Op", "Limits", "Aiocb", "KeventFd",
    "AioError", "Kaiocb", "Lio", "Kaioinfo", "host_errno", "LIO_WAIT", "LIO_NOWAIT", "O_SYNC", "O_DSYNC",
]

LIO_NOWAIT = 0  # sys/aio.h
LIO_WAIT = 1
O_SYNC = "O_SYNC"
O_DSYNC = "O_DSYNC"  # rejected with EINVAL, as kern_aio_fsync does (L2716)


class AioError(OSError):
    """A system call returned an error.  ``errno`` is a spec (FreeBSD) errno value.

    For ``aio_return``/``aio_waitcomplete`` of a failed job the job *was* reaped: ``status``
    holds its status (-1) and ``aiocb`` the reaped control block, as libc returns -1 with
    errno set to the job's error.
    """

    def __init__(self, err: int, what: str = "", status: int | None = None, aiocb: "Aiocb | None" = None):
        name = Errno(err).name if err in Errno._value2member_map_ else str(err)
        super().__init__(int(err), f"{what}: {name}" if what else name)
        self.status = status
        self.aiocb = aiocb


def host_errno(e: int) -> int:
    """Map a host (Linux) errno to the spec's FreeBSD value where the spec knows it."""
    name = _errno.errorcode.get(e)
    if name == "EWOULDBLOCK":
        name = "EAGAIN"
    return int(Errno[name]) if name in Errno.__members__ else e


class KeventFd:
    """A readiness descriptor standing in for a kqueue (EVFILT_AIO / EVFILT_LIO).

    ``fileno()`` can be registered with ``selectors``; each posted event writes one byte and
    queues its ident (the aiocb, or the lio's list object), and ``events()`` drains both.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._q: deque = deque()
        self._lock = threading.Lock()

    def fileno(self) -> int:
        return self._r

    def post(self, ident: object) -> None:
        with self._lock:
            self._q.append(ident)
            try:
                os.write(self._w, b"\0")
            except BlockingIOError:
                pass  # the pipe is full: the reader is already readable

    def events(self) -> list:
        """Everything posted so far (and clear readiness)."""
        with self._lock:
            try:
                while os.read(self._r, 4096):
                    pass
            except BlockingIOError:
                pass
            out = list(self._q)
            self._q.clear()
            return out

    def close(self) -> None:
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass


Notify = None | Callable | KeventFd


class Aiocb:
    """The user's ``struct aiocb``: user memory.  The engine looks jobs up by this object's
    identity (``job->ujob``), and stores ``status``/``error`` here only where the seed does
    (submission start and failure, ``aio_return``, ``aio_waitcomplete``)."""

    def __init__(self, fd: int, buffer: object = None, nbytes: int | None = None, offset: int = 0,
                 opcode: Op = Op.LIO_NOP, notify: Notify = None, name: str | None = None):
        self.fd = fd
        self.buffer = buffer
        self.nbytes = nbytes if nbytes is not None else (len(buffer) if buffer is not None else 0)  # type: ignore[arg-type]
        self.offset = offset
        self.opcode = opcode  # aio_lio_opcode: only lio_listio reads it
        self.notify = notify  # sigevent: None (SIGEV_NONE), a callable (SIGEV_THREAD), a KeventFd
        self.name = name
        # _aiocb_private (user memory written by store_status/store_error/store_kernelinfo)
        self.status = 0
        self.error = 0
        self.kernelinfo = 0

    def __repr__(self) -> str:
        return f"Aiocb({self.name or hex(id(self))}, fd={self.fd}, off={self.offset}, n={self.nbytes})"


class Kaiocb:
    """``struct kaiocb``: one per accepted submission (L206-240)."""

    __slots__ = ("ujob", "opcode", "fd", "offset", "nbytes", "buffer", "notify", "jobflags", "cancel_fn",
                 "handle_fn", "status", "error", "lio", "seqno", "jid", "pending", "freed", "tag", "stream")

    def __init__(self, ujob: Aiocb, opcode: Op, lio: "Lio | None"):
        self.ujob = ujob
        self.opcode = opcode
        self.fd, self.offset, self.nbytes = ujob.fd, ujob.offset, ujob.nbytes
        self.buffer, self.notify = ujob.buffer, ujob.notify
        self.jobflags = 0
        self.cancel_fn = CancelFn.NULL
        self.handle_fn = HandleFn.NULL
        self.status, self.error = -1, 0  # the kernel copy of _aiocb_private
        self.lio = lio
        self.seqno = -1
        self.jid = 0
        self.pending = 0
        self.freed = False  # uma_zfree'd: any later use is a use after free in C
        self.tag: object = None  # the harness's job slot, for tests
        self.stream = False  # a FIFO or socket (no offset): read/write instead of pread/pwrite

    def __repr__(self) -> str:
        return f"Kaiocb({self.ujob.name or hex(id(self.ujob))}, {Op(self.opcode).name}, flags={self.jobflags:#x})"


class Lio:
    """``struct aioliojob`` (L255-267)."""

    __slots__ = ("count", "finished", "flags", "notify", "ident", "freed")

    def __init__(self, ident: object):
        self.count = 0  # lioj_count
        self.finished = 0  # lioj_finished_count
        self.flags = 0  # lioj_flags
        self.notify: Notify = None  # lioj_signal (None when uninitialised / SIGEV_NONE)
        self.ident = ident  # the user's list: the EVFILT_LIO ident
        self.freed = False


class Kaioinfo:
    """``struct kaioinfo`` (L272-286): ``mtx`` is kaio_mtx; ``cv`` the per-process sleep channel."""

    def __init__(self) -> None:
        self.mtx = threading.Lock()
        self.cv = threading.Condition(self.mtx)  # msleep(&p->p_aioinfo, kaio_mtx) / wakeup()
        self.exists = False  # p->p_aioinfo != NULL
        self.reset()

    def reset(self) -> None:
        self.flags = 0  # kaio_flags
        self.count = 0  # kaio_count
        self.active_count = 0  # kaio_active_count (guarded by aio_job_mtx, as in the seed)
        self.all: list[Kaiocb] = []  # kaio_all
        self.jobqueue: list[Kaiocb] = []  # kaio_jobqueue
        self.done: list[Kaiocb] = []  # kaio_done
        self.liojoblist: list[Lio] = []  # kaio_liojoblist
        self.syncqueue: list[Kaiocb] = []  # kaio_syncqueue
        self.syncready: list[Kaiocb] = []  # kaio_syncready
        self.task_pending = False  # kaio_sync_task enqueued
        self.task_running = False
        self.sleepers: dict[object, bool] = {}  # actor -> woken: who sleeps on the channel

    def plist_next(self, job: Kaiocb) -> Kaiocb | None | bool:
        """TAILQ_NEXT(job, plist): the link is shared by kaio_jobqueue and kaio_done.

        Returns the successor, None at the end of the list, or False if the job is on neither
        list (the link is stale).
        """
        for q in (self.jobqueue, self.done):
            for i, x in enumerate(q):
                if x is job:
                    return q[i + 1] if i + 1 < len(q) else None
        return False


@dataclass
class Stats:
    """What the engine did, for tests and leak checks."""

    completes: int = 0
    notifies: int = 0
    frees: int = 0
    faults: list = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.faults = []
