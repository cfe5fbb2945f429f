"""The kernel half of the engine: the C functions that run inside a critical section, the
AIO daemons (``aio_daemon``) and the fsync task (``aio_schedule_fsync``).

Every function says which lock its caller holds, as the seed does.  Each step of the spec is
one ``with`` block here holding the locks the spec's label declares (``job>kaio`` = aio_job_mtx,
then kaio_mtx inside), preceded by a gate (``_g``: a no-op unless a controlled scheduler is
attached) and ending with a record (``_r``: a no-op unless tracing).  Holding the label's locks
for the whole step is what makes the recorded order a valid linearization.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from typing import Callable

from ..spec.model import Actor
from .types import (
    CANCELLED,
    CANCELLING,
    CHECKSYNC,
    CLEARED,
    FINISHED,
    KAIO_RUNDOWN,
    KAIO_WAKEUP,
    LIOJ_KEVENT_POSTED,
    LIOJ_SIGNAL,
    LIOJ_SIGNAL_POSTED,
    QUEUEING,
    CancelFn,
    Errno,
    HandleFn,
    Kaiocb,
    Kaioinfo,
    KeventFd,
    Limits,
    Lio,
    Op,
    Stats,
    host_errno,
)

CALLBACK = -2  # aio_cancel_job dropped kaio_mtx to run a cancel callback
TASK = Actor(2, 0)


class KernelMixin:
    """Globals (aio_job_mtx, aio_jobs, jobseqno, num_queue_count), the process's kaioinfo,
    the daemon pool, the sync task, and the in-file kernel functions."""

    def _kernel_init(self, daemons: int, limits: Limits, recorder, scheduler, rundown_timeout: float) -> None:
        self.limits = limits
        self._rec = recorder
        self._sched = scheduler
        self.rundown_timeout = rundown_timeout
        self.job_mtx = threading.Lock()  # aio_job_mtx
        self.job_cv = threading.Condition(self.job_mtx)  # idle daemons sleep here (aio_freeproc)
        self.aio_jobs: list[Kaiocb] = []
        self.jobrefid = 1
        self.jobseqno = 0
        self.num_queue_count = 0
        self.ki = Kaioinfo()
        self.task_cv = threading.Condition(self.ki.mtx)  # the aiod_kick taskqueue thread
        self.drain_cv = threading.Condition(self.ki.mtx)  # taskqueue_drain
        self.stats = Stats()
        self._stopping = False
        self._notifyq: queue.SimpleQueue = queue.SimpleQueue()
        self._notifier: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self.n_daemons = daemons
        if scheduler is not None:
            for d in range(daemons):
                scheduler.register(Actor(1, d))
            scheduler.register(TASK)
        for d in range(daemons):
            t = threading.Thread(target=self._aio_daemon, args=(d,), name=f"aiod{d}", daemon=True)
            self._threads.append(t)
        self._threads.append(threading.Thread(target=self._task_thread, name="aiod_kick", daemon=True))
        for t in self._threads:
            t.start()

    # -- gates and records ----------------------------------------------------------------
    def _g(self, actor: Actor, label: str, choices: Callable | None = None) -> object:
        """A step boundary: under a controlled scheduler, wait to be picked (returns the choice)."""
        s = self._sched
        if s is None:
            return None
        return s.gate(actor, label, choices)

    def _r(self, actor: Actor, label: str, choice: object = None) -> None:
        r = self._rec
        if r is not None:
            r.steps.append((actor, label, choice))

    def _fault(self, what: str) -> None:
        """Something the seed would panic on or read freed memory for (the checker says which)."""
        self.stats.faults.append(what)

    def _sleep(self, actor: Actor, label: str, timeout: float | None) -> str:
        """msleep(&p->p_aioinfo, kaio_mtx, timeout), kaio held on entry and return.

        Returns why it woke: "wakeup" (a wakeup() reached it), "timeout", or "signal"
        (only a schedule can inject one).  The woken bit mirrors the spec's WOKEN.
        """
        ki = self.ki
        ki.sleepers[actor] = False
        if self._sched is None:
            ki.cv.wait(timeout)
            return "wakeup" if ki.sleepers.pop(actor) else "timeout"
        ki.mtx.release()
        try:
            why = self._sched.gate(actor, label, lambda: (["wakeup"] if ki.sleepers.get(actor) else []) +
                                   (["timeout"] if timeout is not None else []))
        finally:
            ki.mtx.acquire()
            woken = ki.sleepers.pop(actor, False)
        if why is None or why is STOP:
            why = "wakeup" if woken else "timeout"
        return str(why)

    # -- notification ---------------------------------------------------------------------
    def _post(self, notify, ident: object) -> None:
        """Post a knote (KeventFd) or queue a SIGEV_THREAD-style callback (never under a lock)."""
        if isinstance(notify, KeventFd):
            notify.post(ident)
        elif callable(notify):
            if self._notifier is None:
                self._notifier = threading.Thread(target=self._notify_thread, name="aio_notify", daemon=True)
                self._notifier.start()
            self._notifyq.put((notify, ident))

    def _notify_thread(self) -> None:
        while True:
            item = self._notifyq.get()
            if item is None:
                return
            fn, ident = item
            try:
                fn(ident)
            except Exception as e:  # a user callback must not kill delivery
                self._fault(f"notification callback raised {e!r}")

    def post_lio(self, lj: Lio) -> None:
        """aio_bio_done_notify L960-973 / kern_lio_listio L2445-2459, kaio held."""
        if isinstance(lj.notify, KeventFd):
            lj.flags |= LIOJ_KEVENT_POSTED
            self._post(lj.notify, lj.ident)
        if (lj.flags & (LIOJ_SIGNAL | LIOJ_SIGNAL_POSTED)) == LIOJ_SIGNAL:
            lj.flags |= LIOJ_SIGNAL_POSTED
            self._post(lj.notify, lj.ident)

    # -- the in-file kernel functions (kaio held unless said otherwise) -------------------
    def aio_bio_done_notify(self, job: Kaiocb) -> None:
        """L934-1013: the one place a job becomes visible as done; runs once per job."""
        ki = self.ki
        lj = job.lio
        lj_done = False
        if lj is not None:
            lj.finished += 1
            lj_done = lj.count == lj.finished
        ki.done.append(job)
        self.stats.notifies += 1
        if not ki.flags & KAIO_RUNDOWN:
            if job.notify is not None:
                self._post(job.notify, job.ujob)
            if lj_done:
                self.post_lio(lj)
        if job.jobflags & CHECKSYNC:
            schedule_fsync = False
            for sjob in list(ki.syncqueue):
                if sjob.fd != job.fd or job.seqno >= sjob.seqno:
                    continue
                sjob.pending -= 1
                if sjob.pending > 0:
                    continue
                ki.syncqueue.remove(sjob)
                if not self.aio_clear_cancel_function_locked(sjob):
                    continue  # CLEARED: the running cancel callback completes it
                ki.syncready.append(sjob)
                schedule_fsync = True
            if schedule_fsync:
                ki.task_pending = True  # taskqueue_enqueue(kaio_sync_task)
                self.task_cv.notify()
        if ki.flags & KAIO_WAKEUP:
            ki.flags &= ~KAIO_WAKEUP
            for a in ki.sleepers:
                ki.sleepers[a] = True
            ki.cv.notify_all()

    def aio_clear_cancel_function_locked(self, job: Kaiocb) -> bool:
        """L1043-1058: fails (and marks CLEARED) while a cancel callback is about to run."""
        if job.cancel_fn == CancelFn.NULL:
            self._fault(f"aio_clear_cancel_function: {job} has no cancel_fn (A4)")
        if job.jobflags & CANCELLING:
            job.jobflags |= CLEARED
            return False
        job.cancel_fn = CancelFn.NULL
        return True

    def aio_set_cancel_function_locked(self, job: Kaiocb, fn: CancelFn) -> bool:
        """L1075-1085: fails once CANCELLED is set ("sticky cancel")."""
        if job.jobflags & CANCELLED:
            return False
        job.cancel_fn = fn
        return True

    def aio_complete_locked(self, job: Kaiocb) -> None:
        """aio_complete L1125-1134 (the result was written unlocked before): "last one finishes"."""
        if job.jobflags & FINISHED:
            self._fault(f"duplicate aio_complete of {job} (A1)")
            return
        job.jobflags |= FINISHED
        self.stats.completes += 1
        if not job.jobflags & (QUEUEING | CANCELLING):
            self.ki.jobqueue.remove(job)
            self.aio_bio_done_notify(job)
        # else deferred: the commit step (QUEUEING) or aio_cancel_job (CANCELLING) finishes it

    def aio_free_entry_locked(self, job: Kaiocb) -> None:
        """aio_free_entry L521-567 up to the unlock: the bookkeeping."""
        ki = self.ki
        if not job.jobflags & FINISHED:
            self._fault(f"aio_free_entry of unfinished {job} (A2)")
        self.num_queue_count -= 1
        ki.count -= 1
        ki.done.remove(job)
        ki.all.remove(job)
        lj = job.lio
        if lj is not None:
            lj.count -= 1
            lj.finished -= 1
            if lj.count == 0:
                ki.liojoblist.remove(lj)
                lj.freed = True

    def aio_free_entry_tail(self, job: Kaiocb) -> None:
        """aio_free_entry L569-599, no lock: fdrop, crfree, uma_zfree."""
        if job.freed:
            self._fault(f"{job} freed twice")
        job.freed = True
        job.buffer = None
        self.stats.frees += 1

    def aio_cancel_job_begin(self, job: Kaiocb) -> int:
        """aio_cancel_job L612-642 up to the lock drop: 0, or CALLBACK with CANCELLING set."""
        if job.jobflags & (CANCELLED | FINISHED):
            return 0
        if job.jobflags & CANCELLING:
            self._fault(f"aio_cancel_job: {job} already CANCELLING (A3)")
        job.jobflags |= CANCELLED
        if job.cancel_fn == CancelFn.NULL:
            return 0  # being serviced: it completes normally, or a backend cancels it later
        job.jobflags |= CANCELLING
        return CALLBACK

    def aio_cancel_job_end(self, job: Kaiocb) -> int:
        """aio_cancel_job L643-659 after re-taking kaio: finish a deferred completion."""
        job.jobflags &= ~CANCELLING
        if job.jobflags & FINISHED:
            cancelled = int(job.error == Errno.ECANCELED)
            self.ki.jobqueue.remove(job)
            self.aio_bio_done_notify(job)
            return cancelled
        return 0

    def aio_selectjob(self) -> Kaiocb | None:
        """L741-771, aio_job_mtx and (for the whole step) kaio held."""
        ki = self.ki
        while True:
            for job in self.aio_jobs:
                if ki.active_count < self.limits.max_aio_per_proc:
                    self.aio_jobs.remove(job)
                    if not self.aio_clear_cancel_function_locked(job):
                        break  # goto restart: the callback owns it now
                    ki.active_count += 1
                    return job
            else:
                return None

    def aio_schedule_locked(self, job: Kaiocb, fn: HandleFn) -> bool:
        """aio_schedule L1803-1816 with aio_job_mtx and kaio held; False: caller must aio_cancel."""
        if not self.aio_set_cancel_function_locked(job, CancelFn.DAEMON):
            return False
        job.handle_fn = fn
        self.aio_jobs.append(job)
        self.job_cv.notify()  # aio_kick_nowait
        return True

    # -- the daemons ------------------------------------------------------------------------
    def _select_enabled(self) -> list:
        return [None] if self.aio_jobs and self.ki.active_count < self.limits.max_aio_per_proc else []

    def _aio_daemon(self, d: int) -> None:
        """aio_daemon L1158-1262: select, run the handler unlocked, complete, release."""
        actor = Actor(1, d)
        ki = self.ki
        job: Kaiocb | None = None
        try:
            while True:
                if job is None:  # idle on aio_freeproc until aio_kick_nowait
                    if self._sched is not None:
                        if self._g(actor, "D_SELECT", self._select_enabled) is STOP:
                            return
                        with self.job_mtx, ki.mtx:
                            job = self.aio_selectjob()
                            self._r(actor, "D_SELECT")
                    else:
                        with self.job_mtx:
                            while not self._select_enabled():
                                if self._stopping:
                                    return
                                self.job_cv.wait()
                            with ki.mtx:
                                job = self.aio_selectjob()
                                self._r(actor, "D_SELECT")
                    continue
                forced = self._g(actor, "D_RUN")
                status, error = self.handle(job, forced)
                job.status, job.error = status, error  # aio_complete L1115-1116, unlocked
                self._r(actor, "D_RUN", (status, error))
                self._g(actor, "D_COMPLETE")
                with ki.mtx:
                    self.aio_complete_locked(job)
                    self._r(actor, "D_COMPLETE")
                self._g(actor, "D_RELEASE")
                with self.job_mtx, ki.mtx:
                    ki.active_count -= 1
                    job = self.aio_selectjob()
                    self._r(actor, "D_RELEASE")
        except ScheduleError:
            return

    def handle(self, job: Kaiocb, forced: object = None) -> tuple[int, int]:
        """handle_fn: aio_process_rw / aio_process_sync on the real descriptor.

        A schedule may force a failure ``(-1, errno)``; a bad user buffer gives EFAULT, as
        a faulting uiomove does.
        """
        if isinstance(forced, tuple) and forced[0] == -1:
            return -1, int(forced[1])
        op = job.opcode
        try:
            if op == Op.LIO_SYNC:
                os.fsync(job.fd)
                return 0, 0
            if op == Op.LIO_MLOCK:
                return 0, 0  # aio_process_mlock: nothing to wire in Python
            n = job.nbytes
            if op == Op.LIO_READ and n == 0:
                return 0, 0  # aio_process_rw: no fo_read for an empty read
            try:
                mv = memoryview(job.buffer).cast("B")  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return -1, int(Errno.EFAULT)
            if mv.nbytes < n or (op == Op.LIO_READ and mv.readonly):
                return -1, int(Errno.EFAULT)
            if not job.stream:
                try:
                    if op == Op.LIO_READ:
                        return os.preadv(job.fd, [mv[:n]], job.offset), 0
                    return os.pwrite(job.fd, mv[:n], job.offset), 0
                except OSError as e:
                    if e.errno != errno.ESPIPE:
                        raise
                    job.stream = True  # not seekable after all: fall through to read/write
            # a pipe's fo_read/fo_write: the offset is ignored (pread/pwrite fail with ESPIPE)
            if op == Op.LIO_READ:
                return os.readv(job.fd, [mv[:n]]), 0
            return os.write(job.fd, mv[:n]), 0
        except OSError as e:
            return -1, host_errno(e.errno or 5)

    # -- the sync task ------------------------------------------------------------------------
    def _task_enabled(self) -> list:
        return [None] if self.ki.task_pending else []

    def _task_pop(self) -> Kaiocb | None:
        ki = self.ki
        job = ki.syncready.pop(0) if ki.syncready else None
        ki.task_running = job is not None
        if job is None:
            self.drain_cv.notify_all()
        return job

    def _task_thread(self) -> None:
        """aio_schedule_fsync L1016-1030 on the aiod_kick taskqueue."""
        ki = self.ki
        try:
            while True:
                if self._sched is not None:
                    if self._g(TASK, "TASK_START", self._task_enabled) is STOP:
                        return
                    ki.mtx.acquire()
                else:
                    ki.mtx.acquire()
                    while not ki.task_pending:
                        if self._stopping:
                            ki.mtx.release()
                            return
                        self.task_cv.wait()
                try:
                    ki.task_pending = False
                    job = self._task_pop()
                    self._r(TASK, "TASK_START")
                finally:
                    ki.mtx.release()
                while job is not None:
                    self._g(TASK, "TASK_SCHED")
                    with self.job_mtx, ki.mtx:
                        ok = self.aio_schedule_locked(job, HandleFn.SYNC)
                        if not ok:
                            job.status, job.error = -1, int(Errno.ECANCELED)
                        self._r(TASK, "TASK_SCHED")
                    if not ok:  # sticky cancel: aio_cancel(job)
                        self._g(TASK, "TASK_CANCEL")
                        with ki.mtx:
                            self.aio_complete_locked(job)
                            self._r(TASK, "TASK_CANCEL")
                    self._g(TASK, "TASK_RELOCK")
                    with ki.mtx:
                        job = self._task_pop()
                        self._r(TASK, "TASK_RELOCK")
        except ScheduleError:
            return

    def _stop_threads(self, timeout: float = 5.0) -> None:
        """Stop the daemons, the task and the notifier, and join them."""
        self._stopping = True
        if self._sched is not None:
            self._sched.shutdown()
        with self.job_mtx:
            self.job_cv.notify_all()
        with self.ki.mtx:
            self.task_cv.notify_all()
        for t in self._threads:
            t.join(timeout)
        if self._notifier is not None:
            self._notifyq.put(None)
            self._notifier.join(timeout)


from .sched import STOP, ScheduleError  # noqa: E402  (sched imports nothing from here)
