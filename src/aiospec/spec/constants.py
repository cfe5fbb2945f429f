"""Constants of vfs_aio.c and sys/aio.h, with the values the seed uses.

Flag bits keep the seed's numeric values (L234-239, L258-260, L282-283) so that a
state printed by the checker can be compared with a kernel dump.
"""

from __future__ import annotations

from enum import IntEnum

# jobflags (L234-239)
QUEUEING = 0x01
CANCELLED = 0x02
CANCELLING = 0x04
CHECKSYNC = 0x08
CLEARED = 0x10
FINISHED = 0x20

JOBFLAG_NAMES = {
    QUEUEING: "QUEUEING",
    CANCELLED: "CANCELLED",
    CANCELLING: "CANCELLING",
    CHECKSYNC: "CHECKSYNC",
    CLEARED: "CLEARED",
    FINISHED: "FINISHED",
}

# lioj_flags (L258-260)
LIOJ_SIGNAL = 0x1
LIOJ_SIGNAL_POSTED = 0x2
LIOJ_KEVENT_POSTED = 0x4
LIOFLAG_NAMES = {LIOJ_SIGNAL: "SIGNAL", LIOJ_SIGNAL_POSTED: "SIGNAL_POSTED", LIOJ_KEVENT_POSTED: "KEVENT_POSTED"}

# kaio_flags (L282-283)
KAIO_RUNDOWN = 0x1
KAIO_WAKEUP = 0x2
KAIOFLAG_NAMES = {KAIO_RUNDOWN: "RUNDOWN", KAIO_WAKEUP: "WAKEUP"}


class Errno(IntEnum):
    """FreeBSD errno values (sys/errno.h); EWOULDBLOCK == EAGAIN."""

    OK = 0
    EINTR = 4
    EIO = 5
    ENXIO = 6
    EBADF = 9
    EFAULT = 14
    EINVAL = 22
    EPIPE = 32
    EAGAIN = 35
    EINPROGRESS = 36
    EOPNOTSUPP = 45
    ECANCELED = 85
    ERESTART = -1  # kernel-internal: "restart the system call"


def errname(e: int) -> str:
    try:
        return Errno(e).name
    except ValueError:
        return str(e)


# aio_cancel results (sys/aio.h)
AIO_CANCELED = 1
AIO_NOTCANCELED = 2
AIO_ALLDONE = 3
CANCEL_RESULT_NAMES = {AIO_CANCELED: "AIO_CANCELED", AIO_NOTCANCELED: "AIO_NOTCANCELED", AIO_ALLDONE: "AIO_ALLDONE"}


class Op(IntEnum):
    """aio_lio_opcode values (sys/aio.h)."""

    LIO_NOP = 0
    LIO_WRITE = 1
    LIO_READ = 2
    LIO_SYNC = 3
    LIO_MLOCK = 4
    LIO_INVALID = 99  # any opcode the switch at L1650 rejects


class Sigev(IntEnum):
    """sigev_notify kinds; UNINIT models lioj_signal left uninitialised (OBS-8)."""

    UNINIT = 0
    NONE = 1
    SIGNAL = 2
    KEVENT = 3
    INVALID = 4


class CancelFn(IntEnum):
    """Identity of job->cancel_fn (L227)."""

    NULL = 0
    DAEMON = 1  # aio_cancel_daemon_job, L1792
    SYNC = 2  # aio_cancel_sync, L1819


class HandleFn(IntEnum):
    """Identity of job->handle_fn."""

    NULL = 0
    RW = 1  # aio_process_rw, L805
    SYNC = 2  # aio_process_sync, L898
    MLOCK = 3  # aio_process_mlock, L919


class Alloc(IntEnum):
    """Allocation status of a job or lio slot (uma_zalloc / uma_zfree)."""

    NEVER = 0
    LIVE = 1
    FREED = 2


class FileKind(IntEnum):
    """What an fd refers to; decides the backend (aio_queue_file L1836, aio_qbio L1315)."""

    REGULAR = 0  # VREG on a local mount: safe, daemon path
    DISK = 1  # VCHR D_DISK: direct bio path for aligned read/write
    PIPE = 2  # no vnode: unsafe (EOPNOTSUPP), fsync EINVAL
    NFS = 3  # VREG on a non-local mount: unsafe


# Lock keys as in the seed's comment (L206-216)
LOCK_KAIO = "a"  # kaio_mtx
LOCK_BACKEND = "b"
LOCK_JOB = "c"  # aio_job_mtx
LOCK_IMMUTABLE = "*"
LOCK_ATOMIC = "atomic"
LOCK_PRIVATE = "private"  # owned by one actor, no lock needed
LOCK_USER = "user"  # user memory: the kernel writes it unlocked, any thread of the process may read it
LOCK_GHOST = "ghost"  # history variable of the model, not in the C code

NIL = -1  # a NULL pointer / "no job"
IOSIZE_MAX = 2**31 - 1
