"""Kernel-side actors: AIO daemons (aio_daemon L1158), bio completion (aio_biowakeup L2561)
and the fsync task (aio_schedule_fsync L1016).

Daemons are a fixed pool (daemon creation by aio_kick is abstracted away).  An idle
daemon sleeps on its own channel with the aiod_lifetime timeout, so it may wake and call
aio_selectjob at any time; waking with nothing to select changes nothing and is omitted.
"""

from __future__ import annotations

from .actions import label, pc
from .constants import Errno, HandleFn, Op
from .kernel import aio_complete_locked, aio_schedule_locked, aio_selectjob, complete_write
from .state import S_DAEMONS, S_GLOB, S_KI, S_LISTS, View
from .variables import DM, G, J, K, Q


def _results(m, j: int) -> list[tuple[int, int]]:
    """What the I/O of job j may return: success, and EIO where the scenario allows failure."""
    slot = m.sc.slots[j]
    acb = m.sc.aiocbs[slot.aiocb]
    ok = acb.nbytes if slot.op in (Op.LIO_READ, Op.LIO_WRITE) else 0
    if slot.op == Op.LIO_READ and acb.past_eof:
        ok = 0  # fo_read at or past EOF moves nothing: aio_process_rw completes with cnt = 0 (L889, L894)
    out = [(ok, 0)]
    if slot.may_fail:
        out.append((-1, int(Errno.EIO)))
    return out


def _select_enabled(s, d: int, m) -> list:
    if s[S_LISTS][Q.AIOJOBS] and s[S_KI][K.ACTIVE] < m.sc.limits.max_aio_per_proc:
        return [None]
    return []


def _daemon_select(v: View, d: int) -> None:
    j = aio_selectjob(v)
    dm = v.daemons[d]
    if j < 0:
        dm[DM.PC], dm[DM.JOB] = pc("D_SELECT"), -1
    else:
        v.emit("selected", j, d)
        dm[DM.PC], dm[DM.JOB] = pc("D_RUN"), j


@label("D_SELECT", actors="daemon", fn="aio_selectjob", lines="L1186-1214, L741-771", lock="job>kaio",
       guard="the daemon is idle (woken by aio_kick_nowait or its timeout) and aio_jobs is not empty",
       effect="take the first job from aio_jobs and clear its cancel function; if that fails (CANCELLING), "
              "mark it CLEARED and rescan; kaio_active_count++",
       choices=_select_enabled)
def d_select(v: View, d: int, _c) -> None:
    _daemon_select(v, d)


@label("D_RUN", actors="daemon", fn="aio_process_rw/sync/mlock", lines="L805-930", lock="none",
       guard="the daemon selected a job",
       effect="do the I/O with aio_job_mtx dropped; aio_complete writes (status, error) unlocked",
       choices=lambda s, d, m: _results(m, s[S_DAEMONS][d][DM.JOB]))
def d_run(v: View, d: int, result) -> None:
    j = v.daemons[d][DM.JOB]
    if not v.touch(j, "handle_fn"):
        return
    op = Op(int(v.sc.slots[j].op))  # concrete: the encoder forks once per opcode here
    want = {Op.LIO_READ: HandleFn.RW, Op.LIO_WRITE: HandleFn.RW, Op.LIO_SYNC: HandleFn.SYNC,
            Op.LIO_MLOCK: HandleFn.MLOCK}.get(op)
    v.kassert("A9", v.jobs[j][J.HANDLE_FN] == want, f"handle_fn {v.jobs[j][J.HANDLE_FN]} for opcode {op.name}")
    v.emit("io", j, op.name, result)
    complete_write(v, j, *result)
    v.daemons[d][DM.PC] = pc("D_COMPLETE")


@label("D_COMPLETE", actors="daemon", fn="aio_complete", lines="L1118-1134", lock="kaio",
       guard="the handler finished the I/O",
       effect="set FINISHED; unless QUEUEING or CANCELLING, remove from kaio_jobqueue and aio_bio_done_notify")
def d_complete(v: View, d: int, _c) -> None:
    aio_complete_locked(v, v.daemons[d][DM.JOB])
    v.daemons[d][DM.PC] = pc("D_RELEASE")


@label("D_RELEASE", actors="daemon", fn="aio_daemon", lines="L1215-1224", lock="job>kaio",
       guard="handle_fn returned",
       effect="re-take aio_job_mtx, kaio_active_count--, and select the next job in the same section")
def d_release(v: View, d: int, _c) -> None:
    v.ki[K.ACTIVE] -= 1
    _daemon_select(v, d)


# --- the direct bio path --------------------------------------------------------------

@label("BIO_DONE", actors="bio", fn="aio_biowakeup", lines="L2561-2602", lock="kaio",
       guard="the device finished the bio",
       effect="kaio_buffer_count--; nbytes = aio_nbytes - bio_resid; aio_complete writes the result unlocked",
       choices=lambda s, j, m: _results(m, j))
def bio_done(v: View, j: int, result) -> None:
    if not v.touch(j, "aio_biowakeup"):
        return
    v.ki[K.BUFFERS] -= 1
    v.emit("io", j, v.sc.slots[j].op.name, result)
    complete_write(v, j, *result)
    v.jobs[j][J.BIO] = 2


@label("BIO_COMPLETE", actors="bio", fn="aio_complete", lines="L1118-1134", lock="kaio",
       guard="aio_biowakeup calls aio_complete",
       effect="as for a daemon: may be deferred by QUEUEING if the submitter has not committed yet")
def bio_complete(v: View, j: int, _c) -> None:
    aio_complete_locked(v, j)
    v.jobs[j][J.BIO] = 3


# --- the fsync task -----------------------------------------------------------------------

def _task_loop(v: View) -> None:
    ready = v.lists[Q.SYNCREADY]
    if ready:
        j = ready.pop(0)
        v.glob[G.TASK_JOB] = j
        v.glob[G.TASK_PC] = pc("TASK_SCHED")
    else:
        v.glob[G.TASK_JOB] = -1
        v.glob[G.TASK_PC] = pc("TASK_START")


@label("TASK_START", actors="task", fn="aio_schedule_fsync", lines="L1016-1030", lock="kaio",
       guard="kaio_sync_task is pending on the aiod_kick taskqueue",
       effect="the taskqueue clears pending and runs the task: lock kaio; pop the head of kaio_syncready",
       choices=lambda s, _a, m: [None] if s[S_GLOB][G.TASK_PENDING] else [])
def task_start(v: View, _a: int, _c) -> None:
    v.glob[G.TASK_PENDING] = 0
    _task_loop(v)


@label("TASK_SCHED", actors="task", fn="aio_schedule", lines="L1026-1027, L1803-1816", lock="job>kaio",
       guard="the task popped a job and dropped kaio",
       effect="aio_schedule(job, aio_process_sync); if CANCELLED (sticky cancel) unlock and aio_cancel")
def task_sched(v: View, _a: int, _c) -> None:
    j = v.glob[G.TASK_JOB]
    if aio_schedule_locked(v, j, HandleFn.SYNC):
        v.glob[G.TASK_PC] = pc("TASK_RELOCK")
    else:
        complete_write(v, j, -1, Errno.ECANCELED)
        v.glob[G.TASK_PC] = pc("TASK_CANCEL")


@label("TASK_CANCEL", actors="task", fn="aio_complete", lines="L1118-1134", lock="kaio",
       guard="aio_schedule failed to install the cancel function",
       effect="aio_cancel: FINISHED with ECANCELED; the job is not CANCELLING, so it is notified now")
def task_cancel(v: View, _a: int, _c) -> None:
    aio_complete_locked(v, v.glob[G.TASK_JOB])
    v.glob[G.TASK_PC] = pc("TASK_RELOCK")


@label("TASK_RELOCK", actors="task", fn="aio_schedule_fsync", lines="L1028-1030", lock="kaio",
       guard="aio_schedule returned",
       effect="re-take kaio and pop the next kaio_syncready job, or unlock and return")
def task_relock(v: View, _a: int, _c) -> None:
    _task_loop(v)
