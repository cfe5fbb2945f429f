"""The reference engine: FreeBSD's POSIX AIO (``sys/kern/vfs_aio.c``) in userland, on real fds.

One ``Engine`` is one process: its kaioinfo (``self.ki``), the global aio_job_mtx/aio_jobs,
a pool of daemon threads and the fsync task.  The system calls below follow the seed's
functions step by step; each step is one critical section of the spec (``aiospec.spec``),
so a traced run can be replayed through the model (``tracecheck``).

Conventions: every call raises ``AioError(errno)`` where the system call returns an error
(errno values are the spec's FreeBSD numbers) and otherwise returns ``td_retval[0]``:
``aio_cancel`` an ``AIO_*`` value, ``aio_error`` the error code, ``aio_return`` the status,
``aio_waitcomplete`` ``(aiocb, status)``.  A reaped job that failed raises with ``.status``
and ``.aiocb`` set, as libc returns -1 with errno = the job's error.
"""

from __future__ import annotations

import fcntl
import os
import stat
import threading

from ..spec.model import Actor
from .cancel import CancelMixin
from .kernel import KernelMixin
from .trace import Recorder
from .types import (
    AIO_ALLDONE,
    AIO_CANCELED,
    AIO_NOTCANCELED,
    FINISHED,
    IOSIZE_MAX,
    KAIO_RUNDOWN,
    KAIO_WAKEUP,
    LIO_NOWAIT,
    LIO_WAIT,
    LIOJ_SIGNAL,
    O_SYNC,
    QUEUEING,
    AioError,
    Aiocb,
    CancelFn,
    Errno,
    HandleFn,
    Kaiocb,
    KeventFd,
    Limits,
    Lio,
    Op,
)

_HANDLER = {Op.LIO_READ: HandleFn.RW, Op.LIO_WRITE: HandleFn.RW, Op.LIO_SYNC: HandleFn.SYNC, Op.LIO_MLOCK: HandleFn.MLOCK}
_LIO_WORD = {Op.LIO_READ: "read", Op.LIO_WRITE: "write", Op.LIO_SYNC: "sync", Op.LIO_NOP: "nop", Op.LIO_MLOCK: "mlock"}


def _valid_timeout(t: object) -> bool:
    return t is None or (isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0)


class Engine(CancelMixin, KernelMixin):
    """A userland AIO engine with the seed's semantics; ``close()`` is aio_proc_rundown.

    ``daemons``: size of the daemon pool (the spec's fixed pool).  ``recorder``: a
    ``Recorder`` to trace in the spec's vocabulary (None: no tracing, one None check per
    step).  ``scheduler``: a ``sched.Scheduler`` for controlled runs (None: free-running).
    ``rundown_timeout``: rundown's msleep timeout (hz in the seed; short here).
    ``native=True`` returns a ``native_engine.NativeEngine`` instead: the same system calls in C
    (raises ``NativeUnavailable`` if the extension is not built).
    """

    def __new__(cls, *args, native: bool = False, **kwargs):
        if native:  # the C engine (native_engine.py): same calls and results, no scheduler
            from .native_engine import NativeEngine

            return NativeEngine(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, daemons: int = 4, limits: Limits | None = None, recorder: Recorder | None = None,
                 scheduler=None, rundown_timeout: float = 0.02, native: bool = False):
        self._tls = threading.local()
        self._alock = threading.Lock()
        self._next_thread = 0
        self._closed = False
        self._kernel_init(daemons, limits or Limits(), recorder, scheduler, rundown_timeout)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- user threads -----------------------------------------------------------------------
    def bind_thread(self, index: int, name: str | None = None) -> Actor:
        """Make the calling thread the spec's user thread ``index`` (a scenario thread)."""
        a = Actor(0, index)
        self._tls.actor = a
        if self._rec is not None:
            self._rec.thread_names[index] = name or f"T{index + 1}"
        if self._sched is not None:
            self._sched.register(a)
        return a

    def unbind_thread(self) -> None:
        """The calling thread has made its last call (under a scheduler: stop waiting for it)."""
        a = getattr(self._tls, "actor", None)
        if a is not None and self._sched is not None:
            self._sched.unregister(a)

    def _actor(self) -> Actor:
        if self._closed:
            raise RuntimeError("the engine is closed (the process has run down)")
        a = getattr(self._tls, "actor", None)
        if a is None:
            with self._alock:
                idx = self._next_thread
                self._next_thread += 1
            a = self.bind_thread(idx)
        return a

    def _ret(self, a: Actor, text: str | None, err: int, retval: object = None, what: str = "") -> None:
        if self._rec is not None and text is not None:
            self._rec.call(a.index, text, err, retval)
        if err:
            raise AioError(err, what)

    def _names(self, cb: Aiocb, fd: int | None = None, submit: bool = False) -> tuple[str, str]:
        r = self._rec
        fdn = r.name_fd(cb.fd if fd is None else fd) if isinstance(cb.fd, int) else "BADFD"
        return r.name_aiocb(cb, fdn, submit), fdn

    # -- submission: aio_read / aio_write / aio_fsync / aio_mlock -------------------------
    def aio_read(self, cb: Aiocb) -> None:
        """Queue a read of ``cb.nbytes`` at ``cb.offset`` into ``cb.buffer``."""
        self._submit("aio_read", cb, Op.LIO_READ)

    def aio_write(self, cb: Aiocb) -> None:
        """Queue a write of ``cb.buffer[:cb.nbytes]`` at ``cb.offset``."""
        self._submit("aio_write", cb, Op.LIO_WRITE)

    def aio_mlock(self, cb: Aiocb) -> None:
        """Queue an mlock (a no-op handler here: no wiring of Python memory)."""
        self._submit("aio_mlock", cb, Op.LIO_MLOCK)

    def aio_fsync(self, op: str, cb: Aiocb) -> None:
        """Queue an fsync of ``cb.fd`` ordered after earlier requests on it (op must be O_SYNC)."""
        self._submit("aio_fsync", cb, Op.LIO_SYNC, op)

    def _submit(self, kind: str, cb: Aiocb, op: Op, fsync_op: str | None = None) -> None:
        a = self._actor()
        text = None
        if self._rec is not None:
            name, fdn = self._names(cb, submit=True)
            text = f"aio_mlock({name})" if kind == "aio_mlock" else \
                f"aio_fsync({fsync_op}, {name}, {fdn})" if kind == "aio_fsync" else f"{kind}({name}, {fdn})"
        self._ret(a, text, self.aio_aqueue(a, cb, None, op, fsync_op), what=kind)

    def _sub_check(self, cb: Aiocb, lj: Lio | None, type_: Op, fsync_op: str | None) -> tuple[int, Kaiocb | None]:
        """aio_aqueue L1581-1668, the SUB_CHECK step: validation; errors stored as the seed does."""
        ki = self.ki
        if fsync_op is not None and fsync_op != O_SYNC:
            return int(Errno.EINVAL), None  # kern_aio_fsync: O_DSYNC unsupported, aiocb untouched
        ki.exists = True  # aio_init_aioinfo
        cb.status, cb.error, cb.kernelinfo = -1, 0, -1
        lim = self.limits
        if self.num_queue_count >= lim.max_queue_count or ki.count >= lim.max_aio_queue_per_proc:
            cb.error = int(Errno.EAGAIN)
            return cb.error, None
        if not isinstance(cb.nbytes, int) or cb.nbytes < 0 or cb.nbytes > IOSIZE_MAX:
            return int(Errno.EINVAL), None  # OBS-1: not stored
        if not (cb.notify is None or callable(cb.notify) or isinstance(cb.notify, KeventFd)):
            cb.error = int(Errno.EINVAL)  # sigev_notify not NONE/SIGNAL/KEVENT
            return cb.error, None
        op = type_ if type_ != Op.LIO_NOP else cb.opcode
        err = 0
        if op not in (Op.LIO_READ, Op.LIO_WRITE, Op.LIO_SYNC, Op.LIO_NOP, Op.LIO_MLOCK):
            err = int(Errno.EINVAL)
        elif op != Op.LIO_MLOCK:
            err = self._fget(cb.fd, op)
        if not err and op == Op.LIO_SYNC and not self._has_vnode(cb.fd):
            err = int(Errno.EINVAL)
        if not err and op in (Op.LIO_READ, Op.LIO_WRITE) and (not isinstance(cb.offset, int) or cb.offset < 0):
            err = int(Errno.EINVAL)
        if err:
            cb.error = err
            return err, None
        return 0, Kaiocb(cb, Op(op), lj)

    @staticmethod
    def _fget(fd: object, op: Op) -> int:
        """fget_read / fget_write / fget: EBADF for a closed fd or the wrong access mode."""
        try:
            if not isinstance(fd, int):
                return int(Errno.EBADF)
            acc = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        except OSError:
            return int(Errno.EBADF)
        if (op == Op.LIO_WRITE and acc == os.O_RDONLY) or (op == Op.LIO_READ and acc == os.O_WRONLY):
            return int(Errno.EBADF)
        return 0

    @staticmethod
    def _has_vnode(fd: int) -> bool:
        m = os.fstat(fd).st_mode
        return not (stat.S_ISFIFO(m) or stat.S_ISSOCK(m))

    def _route(self, job: Kaiocb) -> str | int:
        """aio_aqueue L1747-1754 / aio_queue_file L1847-1871: the backend, or an error."""
        if job.opcode == Op.LIO_MLOCK:
            return "SUB_SCHED"
        try:
            m = os.fstat(job.fd).st_mode
        except OSError:
            return int(Errno.EBADF)
        if not (stat.S_ISREG(m) or stat.S_ISDIR(m) or self.limits.enable_aio_unsafe):
            return int(Errno.EOPNOTSUPP)  # not "safe" for the daemons
        job.stream = stat.S_ISFIFO(m) or stat.S_ISSOCK(m)  # fo_read/fo_write of a pipe ignore the offset
        if job.opcode in (Op.LIO_READ, Op.LIO_WRITE):
            return "SUB_SCHED"
        return "SUB_SYNC" if job.opcode == Op.LIO_SYNC else int(Errno.EINVAL)

    def aio_aqueue(self, a: Actor, cb: Aiocb, lj: Lio | None, type_: Op, fsync_op: str | None = None) -> int:
        """L1567-1789: validate, number, dispatch, commit; returns 0 or the error."""
        ki = self.ki
        self._g(a, "SUB_CHECK")
        with ki.mtx:  # one linearization point for the limit reads, unlocked in the seed (OBS-5)
            err, job = self._sub_check(cb, lj, type_, fsync_op)
            self._r(a, "SUB_CHECK")
        if job is None:
            return err
        self._g(a, "SUB_NUMBER")
        with self.job_mtx:
            job.jid, job.seqno = self.jobrefid, self.jobseqno
            self.jobrefid += 1
            self.jobseqno += 1
            cb.kernelinfo = job.jid
            if job.opcode == Op.LIO_NOP:
                self._r(a, "SUB_NUMBER")
                return 0
            cb.error = job.error = int(Errno.EINPROGRESS)
            job.jobflags = QUEUEING
            pc = self._route(job)
            if isinstance(pc, int):
                cb.error = pc  # aqueue_fail
            self._r(a, "SUB_NUMBER")
        if isinstance(pc, int):
            return pc
        while True:
            self._g(a, pc)
            if pc == "SUB_SCHED":
                with self.job_mtx, ki.mtx:
                    ok = self.aio_schedule_locked(job, _HANDLER[job.opcode])
                    if not ok:
                        job.status, job.error = -1, int(Errno.ECANCELED)
                    self._r(a, pc)
                pc = "SUB_COMMIT" if ok else "SUB_CANCEL"
            elif pc == "SUB_SYNC":
                with ki.mtx:
                    pc = self._queue_sync(job)
                    self._r(a, "SUB_SYNC")
            elif pc == "SUB_CANCEL":
                with ki.mtx:
                    self.aio_complete_locked(job)
                    self._r(a, pc)
                pc = "SUB_COMMIT"
            else:
                with ki.mtx:
                    self._commit(job)
                    self._r(a, "SUB_COMMIT")
                return 0

    def _queue_sync(self, job: Kaiocb) -> str:
        """aio_queue_file's LIO_SYNC branch L1873-1898, kaio held: count earlier jobs of the file."""
        ki = self.ki
        for job2 in ki.jobqueue:
            if job2.fd == job.fd and job2.opcode != Op.LIO_SYNC and job2.seqno < job.seqno:
                job2.jobflags |= 0x08  # CHECKSYNC
                job.pending += 1
        if job.pending == 0:
            return "SUB_SCHED"
        if not self.aio_set_cancel_function_locked(job, CancelFn.SYNC):
            job.status, job.error = -1, int(Errno.ECANCELED)
            return "SUB_CANCEL"
        ki.syncqueue.append(job)
        return "SUB_COMMIT"

    def _commit(self, job: Kaiocb) -> None:
        """aio_aqueue L1759-1779, kaio held: publish the job; finish a deferred completion."""
        ki = self.ki
        job.jobflags &= ~QUEUEING
        ki.all.append(job)
        ki.count += 1
        if job.lio is not None:
            job.lio.count += 1
        self.num_queue_count += 1
        if job.jobflags & FINISHED:
            self.aio_bio_done_notify(job)
        else:
            ki.jobqueue.append(job)

    # -- lio_listio ---------------------------------------------------------------------------
    def lio_listio(self, mode: int, cbs: list[Aiocb | None], notify: object = None) -> None:
        """kern_lio_listio L2311-2487: submit every entry (by its ``opcode``) under one lio.

        LIO_WAIT returns once every committed entry finished; LIO_NOWAIT posts ``notify``
        (a callable or KeventFd) when the last one does.  EIO if an entry failed, EAGAIN if
        one hit a limit (see each entry's aio_error).
        """
        a = self._actor()
        text = None
        if self._rec is not None:
            ents = []
            for cb in cbs:
                if cb is None:
                    ents.append("NULL")
                else:
                    word = _LIO_WORD.get(cb.opcode, "invalid") if isinstance(cb.opcode, int) else "invalid"
                    ents.append(f"{word} {self._names(cb, submit=True)[0]}")
            mname = {LIO_WAIT: "LIO_WAIT", LIO_NOWAIT: "LIO_NOWAIT"}.get(mode, "LIO_BADMODE")
            sig = "" if notify is None else ", KEVENT" if isinstance(notify, KeventFd) else \
                ", SIGNAL" if callable(notify) else ", INVALID"
            text = f"lio_listio({mname}, [{', '.join(ents)}]{sig})"
        ki = self.ki
        self._g(a, "LIO_OPEN")
        with ki.mtx:
            err = 0
            if mode not in (LIO_WAIT, LIO_NOWAIT) or len(cbs) > self.limits.max_aio_queue_per_proc:
                err = int(Errno.EINVAL)
            else:
                ki.exists = True
                lj = Lio(cbs)
                if notify is not None and mode == LIO_NOWAIT:
                    if isinstance(notify, KeventFd) or callable(notify):
                        lj.notify = notify
                        if not isinstance(notify, KeventFd):
                            lj.flags |= LIOJ_SIGNAL
                    else:
                        err = int(Errno.EINVAL)
                if not err:
                    ki.liojoblist.append(lj)
                    lj.count = 1  # the extra reference, dropped at the end
            self._r(a, "LIO_OPEN")
        if err:
            self._ret(a, text, err, what="lio_listio")
        nagain = nerror = 0
        for cb in cbs:
            if cb is None:
                continue
            e = self.aio_aqueue(a, cb, lj, Op.LIO_NOP)
            if e == Errno.EAGAIN:
                nagain += 1
            elif e:
                nerror += 1
        self._g(a, "LIO_CLOSE")
        with ki.mtx:
            label, why, error = "LIO_CLOSE", None, 0
            if mode == LIO_WAIT:
                while lj.count - 1 != lj.finished:
                    ki.flags |= KAIO_WAKEUP
                    self._r(a, label, why)
                    label, why = "LIO_SLEEP", self._sleep(a, "LIO_SLEEP", None)
                    if why == "signal":
                        error = int(Errno.EINTR)
                        break
            elif lj.count - 1 == lj.finished:
                self.post_lio(lj)  # nothing left for aio_bio_done_notify to post
            lj.count -= 1
            if lj.count == 0:
                ki.liojoblist.remove(lj)
                lj.freed = True
            self._r(a, label, why)
        result = int(Errno.EIO) if nerror else int(Errno.EAGAIN) if nagain else error
        self._ret(a, text, result, what="lio_listio")

    # -- results: aio_error / aio_return / aio_waitcomplete / aio_suspend -----------------------
    def aio_error(self, cb: Aiocb) -> int:
        """kern_aio_error L2180-2212: the job's error, EINPROGRESS, or the user-memory hack."""
        a = self._actor()
        text = f"aio_error({self._names(cb)[0]})" if self._rec is not None else None
        ki = self.ki
        self._g(a, "ERROR_FIND")
        with ki.mtx:
            res = None
            if not ki.exists:
                res = int(Errno.EINVAL)
            else:
                for job in ki.all:
                    if job.ujob is cb:
                        res = job.error if job.jobflags & FINISHED else int(Errno.EINPROGRESS)
                        break
            self._r(a, "ERROR_FIND")
        if res is None:
            self._g(a, "ERROR_USER")
            # user memory is unlocked in the seed; the locks give the read one place in the
            # trace relative to the stores of other threads' SUB_CHECK/SUB_NUMBER/FREE_TAIL
            with self.job_mtx, ki.mtx:
                res = cb.error if cb.status == -1 else int(Errno.EINVAL)  # "hack for failure of aio_aqueue"
                self._r(a, "ERROR_USER")
        self._ret(a, text, 0, res)
        return res

    def aio_return(self, cb: Aiocb) -> int:
        """kern_aio_return L1975-2011: reap a job on kaio_done (EINVAL if not there)."""
        a = self._actor()
        text = f"aio_return({self._names(cb)[0]})" if self._rec is not None else None
        ki = self.ki
        self._g(a, "RETURN_FIND")
        with ki.mtx:
            job = None
            if ki.exists:
                job = next((j for j in ki.done if j.ujob is cb), None)
            if job is not None:
                self.aio_free_entry_locked(job)
            self._r(a, "RETURN_FIND")
        if job is None:
            self._ret(a, text, int(Errno.EINVAL), what="aio_return")
        status, error = self._free_tail(a, job)  # type: ignore[arg-type]
        if self._rec is not None:
            self._rec.call(a.index, text, error)  # type: ignore[arg-type]
        if error:
            raise AioError(error, "aio_return", status, cb)
        return status

    def _free_tail(self, a: Actor, job: Kaiocb) -> tuple[int, int]:
        """FREE_TAIL: aio_free_entry after the unlock, then the result stores to the aiocb."""
        self._g(a, "FREE_TAIL")
        with self.job_mtx, self.ki.mtx:  # see ERROR_USER: orders the user-memory stores
            status, error = job.status, job.error
            self.aio_free_entry_tail(job)
            job.ujob.error, job.ujob.status = error, status
            self._r(a, "FREE_TAIL")
        return status, error

    def aio_waitcomplete(self, timeout: float | None = None) -> tuple[Aiocb, int]:
        """kern_aio_waitcomplete L2610-2689: reap the head of kaio_done.

        ``timeout``: None waits forever, 0 polls (EAGAIN at once), > 0 waits that long.
        """
        a = self._actor()
        text = None
        if self._rec is not None:
            arg = "" if timeout is None else "poll" if timeout == 0 and _valid_timeout(timeout) else \
                "timed" if _valid_timeout(timeout) else "invalid"
            text = f"aio_waitcomplete({arg})"
        ki = self.ki
        self._g(a, "WAITC")
        with ki.mtx:
            label, why, err, job = "WAITC", None, 0, None
            if not _valid_timeout(timeout):
                err = int(Errno.EINVAL)
            else:
                ki.exists = True
                while True:
                    if ki.done:
                        job = ki.done[0]
                        self.aio_free_entry_locked(job)
                        break
                    if timeout == 0:
                        err = int(Errno.EAGAIN)  # EWOULDBLOCK
                        break
                    ki.flags |= KAIO_WAKEUP
                    self._r(a, label, why)
                    label, why = "WAITC_SLEEP", self._sleep(a, "WAITC_SLEEP", timeout)
                    if why == "timeout":
                        err = int(Errno.EAGAIN)
                        break
                    if why == "signal" and timeout is not None:
                        err = int(Errno.EINTR)
                        break
            self._r(a, label, why)
        if job is None:
            self._ret(a, text, err, what="aio_waitcomplete")
        status, error = self._free_tail(a, job)  # type: ignore[arg-type]
        if self._rec is not None:
            self._rec.call(a.index, text, error)  # type: ignore[arg-type]
        if error:
            raise AioError(error, "aio_waitcomplete", status, job.ujob)  # type: ignore[union-attr]
        return job.ujob, status  # type: ignore[union-attr]

    def aio_suspend(self, cbs: list[Aiocb | None], timeout: float | None = None) -> None:
        """kern_aio_suspend L2029-2075: return once a listed request finished (or none is known).

        EAGAIN on timeout (or if the process never used AIO), EINVAL for a bad timeout.
        """
        a = self._actor()
        text = None
        if self._rec is not None:
            names = ", ".join("NULL" if cb is None else self._names(cb)[0] for cb in cbs)
            arg = "" if timeout is None else ", timed" if _valid_timeout(timeout) else ", invalid"
            text = f"aio_suspend([{names}]{arg})"
        ki = self.ki
        self._g(a, "SUSPEND")
        with ki.mtx:
            label, why, err = "SUSPEND", None, 0
            if not _valid_timeout(timeout) or len(cbs) > self.limits.max_aio_queue_per_proc:
                err = int(Errno.EINVAL)
            elif not ki.exists:
                err = int(Errno.EAGAIN)
            elif cbs:
                targets = {id(cb) for cb in cbs if cb is not None}
                while True:
                    known = [j for j in ki.all if id(j.ujob) in targets]
                    if not known or any(j.jobflags & FINISHED for j in known):
                        break  # a listed job finished, or none is known ("all finished")
                    ki.flags |= KAIO_WAKEUP
                    self._r(a, label, why)
                    label, why = "SUSPEND_SLEEP", self._sleep(a, "SUSPEND_SLEEP", timeout)
                    if why == "timeout":
                        err = int(Errno.EAGAIN)
                        break
                    if why == "signal":
                        err = int(Errno.EINTR)
                        break
            self._r(a, label, why)
        self._ret(a, text, err, what="aio_suspend")

    # -- introspection for tests --------------------------------------------------------------------
    def leaks(self) -> dict[str, int]:
        """What is still allocated: jobs, lios, queued work, counters (all 0 after close)."""
        ki = self.ki
        return {"kaio_all": len(ki.all), "kaio_jobqueue": len(ki.jobqueue), "kaio_done": len(ki.done),
                "kaio_liojoblist": len(ki.liojoblist), "kaio_syncqueue": len(ki.syncqueue),
                "kaio_syncready": len(ki.syncready), "aio_jobs": len(self.aio_jobs), "kaio_count": ki.count,
                "kaio_active_count": ki.active_count, "num_queue_count": self.num_queue_count,
                "alive_threads": sum(t.is_alive() for t in self._threads) +
                (1 if self._notifier is not None and self._notifier.is_alive() else 0)}


__all__ = ["Engine", "Aiocb", "AioError", "KeventFd", "Limits", "LIO_WAIT", "LIO_NOWAIT", "O_SYNC",
           "AIO_CANCELED", "AIO_NOTCANCELED", "AIO_ALLDONE", "Errno", "Op", "KAIO_RUNDOWN"]
