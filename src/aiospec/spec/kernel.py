"""The C functions that run inside a critical section, one Python function each.

These are not steps: they are called from the bodies of the labels, as the C code calls
them, and each says which lock the caller must hold.  Names follow the seed.
"""

from __future__ import annotations

from .constants import (
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
    Op,
    Sigev,
)
from .state import View, ite, member
from .variables import G, J, K, L, Q, T

CALLBACK = -2  # aio_cancel_job dropped the lock to run a cancel callback


def wakeup_channel(v: View) -> None:
    """wakeup(&p->p_aioinfo): every thread asleep on the per-process channel is woken."""
    sleeping = _sleep_pcs()
    for act in v.actors:
        act[T.WOKEN] = ite(member(act[T.PC], sleeping), 1, act[T.WOKEN])


def sleep_on_aioinfo(v: View, a: int, label_name: str) -> None:
    """``ki->kaio_flags |= KAIO_WAKEUP; msleep(&p->p_aioinfo, ...)``: the caller sleeps at ``label_name``."""
    from .actions import pc

    v.ki[K.KFLAGS] |= KAIO_WAKEUP
    v.actors[a][T.WOKEN] = 0
    v.actors[a][T.PC] = pc(label_name)


_SLEEP_PCS: list[frozenset] = []


def _sleep_pcs() -> frozenset:
    """Program counters of the labels where a thread sleeps on the channel."""
    if not _SLEEP_PCS:
        from .actions import LABELS

        _SLEEP_PCS.append(frozenset(lb.index for lb in LABELS if lb.sleeps))
    return _SLEEP_PCS[0]


def post_lio(v: View, lj: int) -> None:
    """The lio notification of aio_bio_done_notify L960-973 / kern_lio_listio L2445-2459."""
    lio = v.lios[lj]
    if lio[L.SIGKIND] == Sigev.KEVENT:
        lio[L.LFLAGS] |= LIOJ_KEVENT_POSTED
        lio[L.G_POSTS] += 1
        v.emit("post_lio", lj, "kevent")
    if (lio[L.LFLAGS] & (LIOJ_SIGNAL | LIOJ_SIGNAL_POSTED)) == LIOJ_SIGNAL and lio[L.SIGKIND] == Sigev.SIGNAL:
        lio[L.LFLAGS] |= LIOJ_SIGNAL_POSTED
        lio[L.G_POSTS] += 1
        v.emit("post_lio", lj, "signal")


def aio_bio_done_notify(v: View, j: int) -> None:
    """L934-1013, kaio held: the one place a job becomes visible as done."""
    job = v.jobs[j]
    slot = v.sc.slots[j]
    lj = slot.lio
    lj_done = False
    if lj >= 0:
        if v.lios[lj][L.ALLOC] != 1:
            v.emit("uaf", j, f"lio {lj} of job {j} is freed (aio_bio_done_notify)")
            return
        v.lios[lj][L.FINISHED] += 1
        lj_done = v.lios[lj][L.COUNT] == v.lios[lj][L.FINISHED]
    v.append(Q.DONE, j)
    v.kassert("A5", bool(job[J.FLAGS] & FINISHED), f"aio_bio_done_notify: job {j} not FINISHED")
    job[J.G_NOTIFIES] += 1
    v.emit("notify", j)
    if v.ki[K.KFLAGS] & KAIO_RUNDOWN:
        job[J.G_RUNDOWN_NOTE] = 1
        if lj >= 0:
            v.lios[lj][L.G_LATE] = 1
    else:
        sigev = v.sc.aiocbs[slot.aiocb].sigev
        if not v.rtems and sigev == Sigev.SIGNAL:
            job[J.G_POSTS] += 1
            v.emit("post_job", j, "signal")
        if sigev == Sigev.KEVENT:  # KNOTE_LOCKED(&job->klist) stays in the RTEMS build
            job[J.G_POSTS] += 1
            v.emit("post_job", j, "kevent")
        if lj_done and not v.rtems:
            post_lio(v, lj)
    if job[J.FLAGS] & CHECKSYNC:
        schedule_fsync = False
        for sj in list(v.lists[Q.SYNCQ]):
            if v.sc.slots[sj].fd != slot.fd or job[J.SEQNO] >= v.jobs[sj][J.SEQNO]:
                continue
            v.jobs[sj][J.PENDING] -= 1
            if v.jobs[sj][J.PENDING] > 0:
                continue
            v.remove(Q.SYNCQ, sj)
            if not aio_clear_cancel_function_locked(v, sj):
                v.emit("fsync_release_cleared", sj)
                continue
            v.append(Q.SYNCREADY, sj)
            v.emit("fsync_released", sj)
            schedule_fsync = True
        if schedule_fsync:
            v.glob[G.TASK_PENDING] = 1  # taskqueue_enqueue(kaio_sync_task)
    if v.ki[K.KFLAGS] & KAIO_WAKEUP:
        v.ki[K.KFLAGS] &= ~KAIO_WAKEUP
        wakeup_channel(v)


def aio_clear_cancel_function_locked(v: View, j: int) -> bool:
    """L1043-1058, kaio held."""
    job = v.jobs[j]
    v.kassert("A4", job[J.CANCEL_FN] != CancelFn.NULL, f"aio_clear_cancel_function: job {j} has no cancel_fn")
    if job[J.FLAGS] & CANCELLING:
        job[J.FLAGS] |= CLEARED
        v.emit("cleared", j)
        return False
    job[J.CANCEL_FN] = CancelFn.NULL
    return True


def aio_set_cancel_function_locked(v: View, j: int, fn: CancelFn) -> bool:
    """L1075-1085, kaio held: fails once CANCELLED is set ("sticky cancel")."""
    job = v.jobs[j]
    if job[J.FLAGS] & CANCELLED:
        return False
    job[J.CANCEL_FN] = fn
    return True


def complete_write(v: View, j: int, status: int, error: int) -> None:
    """First half of aio_complete (L1115-1116): the result is written without a lock."""
    if not v.touch(j, "aio_complete writes the result"):
        return
    v.jobs[j][J.KSTATUS] = status
    v.jobs[j][J.KERROR] = error


def aio_complete_locked(v: View, j: int) -> None:
    """Second half of aio_complete (L1125-1134), kaio held: the "last one finishes" rule."""
    if not v.touch(j, "aio_complete"):
        return
    job = v.jobs[j]
    v.kassert("A1", not job[J.FLAGS] & FINISHED, f"duplicate aio_complete of job {j}")
    job[J.FLAGS] |= FINISHED
    job[J.G_COMPLETES] += 1
    v.emit("complete", j, job[J.KSTATUS], job[J.KERROR])
    if (job[J.FLAGS] & (QUEUEING | CANCELLING)) == 0:
        v.remove(Q.JOBQ, j)
        aio_bio_done_notify(v, j)
    else:
        v.emit("deferred", j, "QUEUEING" if job[J.FLAGS] & QUEUEING else "CANCELLING")


def aio_free_entry_locked(v: View, j: int) -> None:
    """aio_free_entry L521-567 up to AIO_UNLOCK: bookkeeping under kaio."""
    if not v.touch(j, "aio_free_entry"):
        return
    job = v.jobs[j]
    v.kassert("A2", bool(job[J.FLAGS] & FINISHED), f"aio_free_entry: job {j} not FINISHED")
    v.emit("free", j, job[J.FLAGS], v.on(Q.DONE, j))
    v.glob[G.NQUEUE] -= 1
    v.ki[K.COUNT] -= 1
    v.kassert("A2", v.ki[K.COUNT] >= 0, "aio_free_entry: kaio_count < 0")
    v.remove(Q.DONE, j)
    v.remove(Q.ALL, j)
    lj = v.sc.slots[j].lio
    if lj >= 0:
        lio = v.lios[lj]
        if lio[L.ALLOC] != 1:
            v.emit("uaf", j, f"lio {lj} already freed (aio_free_entry)")
            return
        lio[L.COUNT] -= 1
        lio[L.FINISHED] -= 1
        if lio[L.COUNT] == 0:
            v.remove(Q.LIOS, lj)
            lio_free(v, lj, "aio_free_entry")


def aio_free_entry_tail(v: View, j: int) -> None:
    """aio_free_entry L569-599 after AIO_UNLOCK: fdrop, crfree, uma_zfree(job)."""
    if not v.touch(j, "aio_free_entry frees the job"):
        return
    v.jobs[j][J.ALLOC] = 2


def lio_free(v: View, lj: int, by: str) -> None:
    """uma_zfree(aiolio_zone, lj)."""
    if v.lios[lj][L.ALLOC] != 1:
        v.emit("uaf", lj, f"lio {lj} freed twice ({by})")
        return
    v.lios[lj][L.ALLOC] = 2
    v.emit("lio_free", lj, by)


def aio_cancel_job_begin(v: View, j: int) -> int:
    """aio_cancel_job L612-642 up to the lock drop; 0, or CALLBACK with CANCELLING set."""
    job = v.jobs[j]
    if job[J.FLAGS] & (CANCELLED | FINISHED):
        return 0
    v.kassert("A3", not job[J.FLAGS] & CANCELLING, f"aio_cancel_job: job {j} already CANCELLING")
    job[J.FLAGS] |= CANCELLED
    v.emit("cancelled_flag", j)
    if job[J.CANCEL_FN] == CancelFn.NULL:
        v.emit("cancel_no_fn", j)
        return 0
    job[J.FLAGS] |= CANCELLING
    job[J.G_CALLBACKS] += 1
    return CALLBACK


def aio_cancel_job_end(v: View, j: int) -> int:
    """aio_cancel_job L643-659 after re-taking kaio: the deferred completion, if any."""
    if not v.touch(j, "aio_cancel_job after the callback"):
        return 0
    job = v.jobs[j]
    job[J.FLAGS] &= ~CANCELLING
    if job[J.FLAGS] & FINISHED:
        cancelled = int(job[J.KERROR] == Errno.ECANCELED)
        v.remove(Q.JOBQ, j)
        v.emit("finish_deferred", j, "CANCELLING")
        aio_bio_done_notify(v, j)
        return cancelled
    return 0


def aio_selectjob(v: View) -> int:
    """L741-771, aio_job_mtx held (kaio taken inside aio_clear_cancel_function)."""
    for _restart in range(len(v.sc.slots) + 2):
        for j in v.lists[Q.AIOJOBS]:
            if v.ki[K.ACTIVE] < v.sc.limits.max_aio_per_proc:
                v.remove(Q.AIOJOBS, j)
                if not aio_clear_cancel_function_locked(v, j):
                    break  # goto restart
                v.ki[K.ACTIVE] += 1
                return j
        else:
            return -1
    v.emit("kassert", "TAILQ", "aio_selectjob restarts forever (corrupted aio_jobs)")
    return -1


def aio_schedule_locked(v: View, j: int, fn: HandleFn) -> bool:
    """aio_schedule L1803-1816 under aio_job_mtx (kaio inside); False: caller must aio_cancel."""
    if not v.touch(j, "aio_schedule"):
        return True
    if not aio_set_cancel_function_locked(v, j, CancelFn.DAEMON):
        v.emit("sched_failed", j)
        return False
    v.jobs[j][J.HANDLE_FN] = fn
    v.append(Q.AIOJOBS, j)
    return True  # aio_kick_nowait: an idle daemon may now select it


def handler_for(op: Op) -> HandleFn:
    return {Op.LIO_READ: HandleFn.RW, Op.LIO_WRITE: HandleFn.RW, Op.LIO_SYNC: HandleFn.SYNC,
            Op.LIO_MLOCK: HandleFn.MLOCK}.get(op, HandleFn.NULL)
