"""Cancellation and process exit: sys_aio_cancel (L2112-2177), the cancel callbacks
(L1792, L1819) and aio_proc_rundown (L666-735).

Both walk kaio_jobqueue with TAILQ_FOREACH_SAFE and drop kaio_mtx inside aio_cancel_job to
run a callback; the successor saved before the drop is followed afterwards whatever happened
to it, exactly as the seed does (which is how the engine reproduces finding F1).
"""

from __future__ import annotations

from ..spec.model import Actor
from .kernel import CALLBACK
from .trace import EXIT
from .types import (
    AIO_ALLDONE,
    AIO_CANCELED,
    AIO_NOTCANCELED,
    CLEARED,
    KAIO_RUNDOWN,
    KAIO_WAKEUP,
    Aiocb,
    CancelFn,
    Errno,
    Kaiocb,
    Op,
)


class _Walk:
    """The locals of sys_aio_cancel / aio_proc_rundown's TAILQ_FOREACH_SAFE loop."""

    __slots__ = ("fd", "ujob", "rundown", "cancelled", "notcancelled")

    def __init__(self, fd: int = -1, ujob: Aiocb | None = None, rundown: bool = False):
        self.fd, self.ujob, self.rundown = fd, ujob, rundown
        self.cancelled = self.notcancelled = 0

    def match(self, job: Kaiocb) -> bool:
        return self.rundown or (job.fd == self.fd and (self.ujob is None or job.ujob is self.ujob))



class CancelMixin:
    """aio_cancel and close() for Engine (uses KernelMixin's functions and Engine's helpers)."""

    # -- aio_cancel -----------------------------------------------------------------------------
    def aio_cancel(self, fd: int, cb: Aiocb | None = None) -> int:
        """sys_aio_cancel L2112-2177: AIO_CANCELED / AIO_NOTCANCELED / AIO_ALLDONE."""
        a = self._actor()
        text = None
        if self._rec is not None:
            fdn = self._rec.name_fd(fd) if isinstance(fd, int) else "BADFD"
            text = f"aio_cancel({fdn}, {self._names(cb, fd)[0] if cb is not None else 'NULL'})"
        ki = self.ki
        w = _Walk(fd, cb)
        self._g(a, "CANCEL")
        with ki.mtx:
            pend, res = None, 0
            if self._fget(fd, Op.LIO_NOP):
                res = -int(Errno.EBADF)
            elif not ki.exists:
                res = AIO_ALLDONE
            else:
                pend = self._cancel_walk(w, ki.jobqueue[0] if ki.jobqueue else None)
            self._r(a, "CANCEL")
        if res < 0:
            self._ret(a, text, -res, what="aio_cancel")
        while pend is not None:
            job, jobn = pend
            pend = None
            self._run_callback(a, job)
            self._g(a, "CAN_END")
            with ki.mtx:
                if self.aio_cancel_job_end(job):
                    w.cancelled += 1
                else:
                    w.notcancelled += 1
                if cb is None:
                    pend = self._cancel_walk(w, jobn)
                self._r(a, "CAN_END")
        if not res:
            res = AIO_CANCELED if cb is not None and w.cancelled else AIO_NOTCANCELED if w.notcancelled else \
                AIO_CANCELED if w.cancelled else AIO_ALLDONE
        self._ret(a, text, 0, res)
        return res

    def _cancel_walk(self, w: _Walk, job: Kaiocb | None) -> tuple[Kaiocb, Kaiocb | None] | None:
        """TAILQ_FOREACH_SAFE(job, &kaio_jobqueue, plist, jobn) from ``job``, kaio held.

        Returns (job, jobn) when aio_cancel_job dropped the lock for a callback; the caller
        continues at the saved ``jobn`` afterwards, whatever list it is on by then (as C does).
        """
        ki = self.ki
        while job is not None:
            if job.freed:
                self._fault(f"UAF: the cancel walk follows freed {job} (finding F1)")
                return None  # C reads freed memory here; we stop the walk
            nxt = ki.plist_next(job)
            if nxt is False:
                self._fault(f"STALE: the cancel walk follows unlinked {job} (finding F1)")
                return None
            if w.match(job):
                r = self.aio_cancel_job_begin(job)
                if r == CALLBACK:
                    return job, nxt  # type: ignore[return-value]
                if not w.rundown:
                    if r:
                        w.cancelled += 1
                    else:
                        w.notcancelled += 1
                    if w.ujob is not None:
                        return None
            job = nxt  # type: ignore[assignment]
        return None

    def _run_callback(self, a: Actor, job: Kaiocb) -> None:
        """The cancel callback with kaio dropped, then its aio_cancel (deferred: CANCELLING)."""
        ki = self.ki
        if job.cancel_fn == CancelFn.DAEMON:
            self._g(a, "CB_DAEMON")
            with self.job_mtx:  # aio_cancel_daemon_job L1792
                if not job.jobflags & CLEARED:
                    self.aio_jobs.remove(job)
                job.status, job.error = -1, int(Errno.ECANCELED)
                self._r(a, "CB_DAEMON")
        else:
            self._g(a, "CB_SYNC")
            with ki.mtx:  # aio_cancel_sync L1819
                if not job.jobflags & CLEARED:
                    ki.syncqueue.remove(job)
                job.status, job.error = -1, int(Errno.ECANCELED)
                self._r(a, "CB_SYNC")
        self._g(a, "CB_COMPLETE")
        with ki.mtx:
            self.aio_complete_locked(job)
            self._r(a, "CB_COMPLETE")

    # -- process exit -----------------------------------------------------------------------------
    def close(self) -> None:
        """aio_proc_rundown L666-735, then stop and join the engine's threads.

        Cancels what can be cancelled, waits for the rest, frees every done job and lio.
        Call it after every user thread made its last call (under a scheduler, RUN_MARK
        waits for that).
        """
        if self._closed:
            return
        a = Actor(0, EXIT)
        self._tls.actor = a
        if self._sched is not None:
            self._sched.register(a)
        try:
            self._rundown(a)
        finally:
            self._closed = True
            self._stop_threads()

    def _rundown(self, a: Actor) -> None:
        ki = self.ki
        self._g(a, "RUN_MARK")
        with ki.mtx:
            if not ki.exists:
                self._r(a, "RUN_MARK")
                return
            ki.flags |= KAIO_RUNDOWN
            w = _Walk(rundown=True)
            nxt = self._rundown_continue(a, w, self._cancel_walk(w, ki.jobqueue[0] if ki.jobqueue else None),
                                         "RUN_MARK")
        while True:
            if nxt[0] == "CB":
                job, jobn = nxt[1], nxt[2]
                self._run_callback(a, job)
                self._g(a, "CAN_END")
                with ki.mtx:
                    self.aio_cancel_job_end(job)
                    nxt = self._rundown_continue(a, w, self._cancel_walk(w, jobn), "CAN_END")
            elif nxt[0] == "FREE":
                self._g(a, "RUN_FREE_TAIL")
                self.aio_free_entry_tail(nxt[1])
                self._r(a, "RUN_FREE_TAIL")
                self._g(a, "RUN_RELOCK")
                with ki.mtx:
                    nxt = self._rundown_free_next()
                    self._r(a, "RUN_RELOCK")
            else:
                self._g(a, "RUN_DRAIN", lambda: [] if ki.task_pending or ki.task_running else [None])
                with ki.mtx:
                    while self._sched is None and (ki.task_pending or ki.task_running):
                        self.drain_cv.wait()  # taskqueue_drain(kaio_sync_task)
                    ki.exists = False
                    self._r(a, "RUN_DRAIN")
                return

    def _rundown_continue(self, a: Actor, w: _Walk, pend, label: str) -> tuple:
        """After a walk (kaio held): a callback to run, or wait (RUN_SLEEP), or free kaio_done."""
        ki = self.ki
        why = None
        while pend is None and (ki.jobqueue or ki.active_count != 0):
            ki.flags |= KAIO_WAKEUP
            self._r(a, label, why)
            label, why = "RUN_SLEEP", self._sleep(a, "RUN_SLEEP", self.rundown_timeout)
            pend = self._cancel_walk(w, ki.jobqueue[0] if ki.jobqueue else None)
        nxt = ("CB",) + pend if pend is not None else self._rundown_free_next()
        self._r(a, label, why)
        return nxt

    def _rundown_free_next(self) -> tuple:
        """L700-721, kaio held: free the head of kaio_done, else the lios (A7), else drain."""
        ki = self.ki
        if ki.done:
            job = ki.done[0]
            self.aio_free_entry_locked(job)
            return ("FREE", job)
        for lj in list(ki.liojoblist):
            if lj.count == 0:
                ki.liojoblist.remove(lj)
                lj.freed = True
            else:
                self._fault(f"panic: LIO job not cleaned up: C:{lj.count}, FC:{lj.finished} (A7)")
        return ("DRAIN",)

