"""Cancellation and rundown: sys_aio_cancel (L2112-2177), aio_cancel_job (L612-660), the
two cancel callbacks (L1792, L1819) and aio_proc_rundown (L666-735).

Both loops are TAILQ_FOREACH_SAFE over kaio_jobqueue with the lock dropped inside
aio_cancel_job: the successor pointer ``jobn`` is saved before the drop and followed
after it, whatever happened to that job meanwhile.  The model keeps that pointer in the
actor's local B and follows the shared ``plist`` link exactly as the macro does.
"""

from __future__ import annotations

from .actions import label, pc
from .constants import (
    AIO_ALLDONE,
    AIO_CANCELED,
    AIO_NOTCANCELED,
    CLEARED,
    FINISHED,
    KAIO_RUNDOWN,
    CancelFn,
    Errno,
    FileKind,
)
from .kernel import (
    CALLBACK,
    aio_cancel_job_begin,
    aio_cancel_job_end,
    aio_complete_locked,
    aio_free_entry_locked,
    aio_free_entry_tail,
    complete_write,
    lio_free,
    sleep_on_aioinfo,
)
from .program import call_of, finish_call, is_rundown
from .scenario import BADFD
from .state import S_ACTORS, S_GLOB, View, ite
from .submit import SLEEP_CHOICES
from .variables import G, J, K, L, Q, T


def _matches(v: View, a: int, j: int) -> bool:
    if is_rundown(v, a):
        return True
    call = call_of(v, a)
    slot = v.sc.slots[j]
    return slot.fd == call.fd and (call.aiocb is None or slot.aiocb == call.aiocb)


def cancel_walk(v: View, a: int, j: int, passed: int = 0) -> None:
    """Continue TAILQ_FOREACH_SAFE(job, &kaio_jobqueue, plist, jobn) at ``j``, kaio held, having
    passed ``passed`` jobs (a count, not a budget left, so that it means the same at every size)."""
    act = v.actors[a]
    rundown = is_rundown(v, a)
    acb = None if rundown else call_of(v, a).aiocb
    most = 2 * len(v.sc.slots) + 2  # a walk longer than that has found a cycle in a corrupted list
    while j != -1:
        v.cut(cancel_walk, a, j, passed)
        passed += 1
        if passed > most:
            v.emit("kassert", "TAILQ", "the walk of kaio_jobqueue does not terminate (corrupted list)")
        name = v.sc.slots[j].aiocb
        if not v.touch(j, f"TAILQ_FOREACH_SAFE follows the saved successor jobn = {name}, already freed"):
            return
        nxt = v.plist_next(j)
        if nxt is None:
            v.emit("stale", j, f"TAILQ_NEXT(jobn = {name}): {name} was already unlinked from kaio_jobqueue and "
                               "kaio_done by aio_free_entry, which is about to free it")
            return
        if _matches(v, a, j):
            if not v.on(Q.JOBQ, j):
                v.emit("walk_diverted", j)
            r = aio_cancel_job_begin(v, j)
            if r == CALLBACK:
                act[T.A], act[T.B] = j, nxt
                act[T.PC] = pc("CB_DAEMON") if v.jobs[j][J.CANCEL_FN] == CancelFn.DAEMON else pc("CB_SYNC")
                return
            if not rundown:  # aio_proc_rundown ignores the result
                if r:
                    act[T.C] += 1
                else:
                    act[T.D] += 1
                if acb is not None:
                    break
        j = nxt
    v.cut(walk_done, a)
    walk_done(v, a)


def walk_done(v: View, a: int) -> None:
    """After the loop: aio_proc_rundown waits for the queue to drain, sys_aio_cancel answers."""
    if is_rundown(v, a):
        rundown_check(v, a)
    else:
        cancel_return(v, a)


def cancel_return(v: View, a: int) -> None:
    """sys_aio_cancel L2160-2176: the result from the two counters."""
    call = call_of(v, a)
    act = v.actors[a]
    cancelled, notcancelled = act[T.C], act[T.D]
    if call.aiocb is not None and cancelled:
        res = AIO_CANCELED
    elif notcancelled:
        res = AIO_NOTCANCELED
    elif cancelled:
        res = AIO_CANCELED
    else:
        res = AIO_ALLDONE
    v.emit("cancel_result", a, res, act[T.E])
    finish_call(v, a, 0, res)


def _in_progress_mask(v: View, fd: str, acb: str | None) -> int:
    """Ghost: the requests the caller asked to cancel that were submitted and not done."""
    mask = 0
    with v.alike():  # bit j from job j's record alone
        for j, slot in enumerate(v.sc.slots):
            if slot.fd != fd or (acb is not None and slot.aiocb != acb):
                continue
            job = v.jobs[j]
            live = (job[J.ALLOC] == 1) & (job[J.G_COMMITTED] != 0) & ((job[J.FLAGS] & FINISHED) == 0)
            mask |= ite(live, 1 << j, 0)  # a term, not a fork, when the state is symbolic
    return mask


@label("CANCEL", actors="thread", fn="sys_aio_cancel", lines="L2112-2158", lock="kaio",
       guard="the thread's next call is aio_cancel",
       effect="fget (EBADF); no kaioinfo: AIO_ALLDONE; a disk: AIO_NOTCANCELED; else walk kaio_jobqueue "
              "calling aio_cancel_job on each match (stop after the first if aiocbp != NULL)")
def cancel(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    act = v.actors[a]
    act[T.C], act[T.D] = 0, 0
    act[T.E] = _in_progress_mask(v, call.fd, call.aiocb)
    if call.fd == BADFD:
        finish_call(v, a, Errno.EBADF)
        return
    if not v.ki[K.EXISTS]:
        v.emit("cancel_result", a, AIO_ALLDONE, act[T.E])
        finish_call(v, a, 0, AIO_ALLDONE)
        return
    if v.sc.files.get(call.fd) == FileKind.DISK:
        v.emit("cancel_result", a, AIO_NOTCANCELED, act[T.E])
        finish_call(v, a, 0, AIO_NOTCANCELED)
        return
    q = v.lists[Q.JOBQ]
    cancel_walk(v, a, q[0] if q else -1)


@label("CB_DAEMON", actors="thread|rundown", fn="aio_cancel_daemon_job", lines="L1792-1800", lock="job",
       guard="aio_cancel_job dropped kaio to call the daemon-queue callback",
       effect="unless CLEARED, remove the job from aio_jobs; unlock; aio_cancel writes (-1, ECANCELED)")
def cb_daemon(v: View, a: int, _c) -> None:
    j = v.actors[a][T.A]
    if not v.touch(j, "aio_cancel_daemon_job"):
        return
    if not v.jobs[j][J.FLAGS] & CLEARED:
        v.remove(Q.AIOJOBS, j)
    complete_write(v, j, -1, Errno.ECANCELED)
    v.actors[a][T.PC] = pc("CB_COMPLETE")


@label("CB_SYNC", actors="thread|rundown", fn="aio_cancel_sync", lines="L1819-1833", lock="kaio",
       guard="aio_cancel_job dropped kaio to call the fsync-queue callback",
       effect="unless CLEARED, remove the job from kaio_syncqueue; unlock; aio_cancel writes (-1, ECANCELED)")
def cb_sync(v: View, a: int, _c) -> None:
    j = v.actors[a][T.A]
    if not v.touch(j, "aio_cancel_sync"):
        return
    if not v.jobs[j][J.FLAGS] & CLEARED:
        v.remove(Q.SYNCQ, j)
    complete_write(v, j, -1, Errno.ECANCELED)
    v.actors[a][T.PC] = pc("CB_COMPLETE")


@label("CB_COMPLETE", actors="thread|rundown", fn="aio_complete", lines="L1118-1134", lock="kaio",
       guard="the cancel callback called aio_cancel",
       effect="set FINISHED; deferred because CANCELLING is set")
def cb_complete(v: View, a: int, _c) -> None:
    aio_complete_locked(v, v.actors[a][T.A])
    v.actors[a][T.PC] = pc("CAN_END")


@label("CAN_END", actors="thread|rundown", fn="aio_cancel_job", lines="L643-659", lock="kaio",
       guard="the cancel callback returned",
       effect="re-take kaio, clear CANCELLING; if FINISHED: cancelled = (error == ECANCELED), remove from "
              "kaio_jobqueue, aio_bio_done_notify; then the caller's loop continues at the saved jobn")
def can_end(v: View, a: int, _c) -> None:
    act = v.actors[a]
    j, nxt = act[T.A], act[T.B]
    r = aio_cancel_job_end(v, j)
    if not is_rundown(v, a):
        if r:
            act[T.C] += 1
        else:
            act[T.D] += 1
        if call_of(v, a).aiocb is not None:
            cancel_return(v, a)
            return
    cancel_walk(v, a, nxt)


# --- aio_proc_rundown ---------------------------------------------------------------------

def rundown_check(v: View, a: int) -> None:
    """L686-697: wait while jobs are queued or a daemon still counts one of ours."""
    if v.lists[Q.JOBQ] or v.ki[K.ACTIVE] != 0:
        sleep_on_aioinfo(v, a, "RUN_SLEEP")
        return
    rundown_free_next(v, a)


def rundown_free_next(v: View, a: int) -> None:
    """L700-721: free kaio_done one job at a time, then the lios (panic if one is still counted)."""
    done = v.lists[Q.DONE]
    if done:
        j = done[0]
        aio_free_entry_locked(v, j)
        v.actors[a][T.A] = j
        v.actors[a][T.PC] = pc("RUN_FREE_TAIL")
        return
    for lj in list(v.lists[Q.LIOS]):
        lio = v.lios[lj]
        if lio[L.COUNT] == 0:
            v.remove(Q.LIOS, lj)
            lio_free(v, lj, "aio_proc_rundown")
        else:
            v.emit("panic", "A7", f"LIO job not cleaned up: C:{lio[L.COUNT]}, FC:{lio[L.FINISHED]}")
            return
    v.actors[a][T.PC] = pc("RUN_DRAIN")


def _all_users_done(s, model) -> bool:
    acts = s[S_ACTORS]
    return all(acts[i][T.PC] == -1 for i in range(len(model.sc.threads)))


@label("RUN_MARK", actors="rundown", fn="aio_proc_rundown", lines="L666-690", lock="kaio",
       guard="every user thread has finished; the process exits",
       effect="no kaioinfo: done; else set KAIO_RUNDOWN and aio_cancel_job every job on kaio_jobqueue",
       choices=lambda s, a, m: [None] if _all_users_done(s, m) else [])
def run_mark(v: View, a: int, _c) -> None:
    if not v.ki[K.EXISTS]:
        finish_call(v, a, 0)
        return
    v.ki[K.KFLAGS] |= KAIO_RUNDOWN
    v.emit("rundown")
    q = v.lists[Q.JOBQ]
    cancel_walk(v, a, q[0] if q else -1)


@label("RUN_SLEEP", actors="rundown", fn="aio_proc_rundown", lines="L693-697", lock="kaio", sleeps=True,
       guard="woken, or the 1-second timeout (hz) expires",
       effect="goto restart: walk kaio_jobqueue again",
       choices=lambda s, a, m: SLEEP_CHOICES(s, a, m, timeout=True, pcatch=False))
def run_sleep(v: View, a: int, _why) -> None:
    v.actors[a][T.WOKEN] = 0
    q = v.lists[Q.JOBQ]
    cancel_walk(v, a, q[0] if q else -1)


@label("RUN_FREE_TAIL", actors="rundown", fn="aio_free_entry", lines="L569-599", lock="none",
       guard="aio_free_entry dropped kaio",
       effect="fdrop, crfree, free the job")
def run_free_tail(v: View, a: int, _c) -> None:
    aio_free_entry_tail(v, v.actors[a][T.A])
    v.actors[a][T.PC] = pc("RUN_RELOCK")


@label("RUN_RELOCK", actors="rundown", fn="aio_proc_rundown", lines="L600, L700-721", lock="kaio",
       guard="aio_free_entry re-took kaio",
       effect="free the next job on kaio_done, or the lios")
def run_relock(v: View, a: int, _c) -> None:
    rundown_free_next(v, a)


def _task_idle(s, model) -> bool:
    from .actions import pc as _pc

    g = s[S_GLOB]
    return not g[G.TASK_PENDING] and g[G.TASK_PC] == _pc("TASK_START")


@label("RUN_DRAIN", actors="rundown", fn="aio_proc_rundown", lines="L722-734", lock="none",
       guard="taskqueue_drain: the sync task is neither pending nor running",
       effect="destroy kaio_mtx, free the kaioinfo, p_aioinfo = NULL",
       choices=lambda s, a, m: [None] if _task_idle(s, m) else [])
def run_drain(v: View, a: int, _c) -> None:
    v.ki[K.EXISTS] = 0  # the memory is freed; its last contents stay for the end-state checks
    v.emit("ki_destroyed")
    finish_call(v, a, 0)
