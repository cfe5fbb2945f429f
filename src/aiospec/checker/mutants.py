"""Seeded bugs in the spec: each mutant is one small change with a story.

A mutant replaces label bodies (passed to Model) and/or kernel helpers (patched for the
duration of a run in every spec module that imported them).  The faithful spec is never
edited; ``applied`` restores everything on exit.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..spec import kernel
from ..spec.actions import BY_NAME, pc
from ..spec.constants import CANCELLED, CANCELLING, CLEARED, FINISHED, KAIO_WAKEUP, QUEUEING, CancelFn, Errno, HandleFn, Sigev
from ..spec.model import Model
from ..spec.scenario import Scenario
from ..spec.state import View
from ..spec.variables import DM, G, J, K, L, Q, T


@dataclass(frozen=True)
class Mutant:
    name: str
    story: str
    labels: dict[str, Callable] = field(default_factory=dict)
    helpers: dict[str, Callable] = field(default_factory=dict)


MUTANTS: dict[str, Mutant] = {}


def mutant(name: str, story: str, labels: dict[str, Callable] | None = None,
           helpers: dict[str, Callable] | None = None) -> None:
    MUTANTS[name] = Mutant(name, story, labels or {}, helpers or {})


@contextmanager
def applied(m: Mutant | None) -> Iterator[None]:
    """Patch the mutant's helpers into every aiospec.spec module for the duration."""
    if m is None or not m.helpers:
        yield
        return
    saved = []
    for key, new in m.helpers.items():
        modname, _, hname = key.rpartition(".")
        orig = getattr(sys.modules[f"aiospec.spec.{modname or 'kernel'}"], hname)
        for mod in list(sys.modules.values()):
            if mod is not None and getattr(mod, "__name__", "").startswith("aiospec.spec") and getattr(mod, hname, None) is orig:
                saved.append((mod, hname, orig))
                setattr(mod, hname, new)
    try:
        yield
    finally:
        for mod, hname, orig in saved:
            setattr(mod, hname, orig)


def model_for(sc: Scenario, m: Mutant | None, split_cuts: bool = False) -> Model:
    """The model of ``sc`` with mutant ``m`` applied; ``split_cuts``: a ``SplitModel``."""
    from ..spec.split import SplitModel

    return (SplitModel if split_cuts else Model)(sc, mutations=dict(m.labels) if m else None)


# --- aio_complete -------------------------------------------------------------------------

def _complete_no_defer_cancelling(v: View, j: int) -> None:
    if not v.touch(j, "aio_complete"):
        return
    job = v.jobs[j]
    v.kassert("A1", not job[J.FLAGS] & FINISHED, f"duplicate aio_complete of job {j}")
    job[J.FLAGS] |= FINISHED
    job[J.G_COMPLETES] += 1
    if not job[J.FLAGS] & QUEUEING:  # forgets CANCELLING
        v.remove(Q.JOBQ, j)
        kernel.aio_bio_done_notify(v, j)


mutant("complete-ignores-cancelling",
       "aio_complete finishes a job while its cancel callback runs (no deferral under CANCELLING)",
       helpers={"aio_complete_locked": _complete_no_defer_cancelling})


def _complete_no_kassert(v: View, j: int) -> None:
    if not v.touch(j, "aio_complete"):
        return
    job = v.jobs[j]
    job[J.FLAGS] |= FINISHED
    job[J.G_COMPLETES] += 1
    if (job[J.FLAGS] & (QUEUEING | CANCELLING)) == 0:
        if v.on(Q.JOBQ, j):
            v.remove(Q.JOBQ, j)
        if not v.on(Q.DONE, j):
            kernel.aio_bio_done_notify(v, j)


def _daemon_completes_twice(v: View, d: int, c) -> None:
    j = v.daemons[d][DM.JOB]
    kernel.aio_complete_locked(v, j)
    kernel.aio_complete_locked(v, j)
    v.daemons[d][DM.PC] = pc("D_RELEASE")


mutant("daemon-completes-twice", "the daemon calls aio_complete twice for one job",
       labels={"D_COMPLETE": _daemon_completes_twice})
mutant("completes-twice-no-invariants",
       "the same double completion in a kernel built without INVARIANTS: KASSERT is compiled out",
       labels={"D_COMPLETE": _daemon_completes_twice}, helpers={"aio_complete_locked": _complete_no_kassert})


def _complete_notify_before_finished(v: View, j: int) -> None:
    if not v.touch(j, "aio_complete"):
        return
    job = v.jobs[j]
    if (job[J.FLAGS] & (QUEUEING | CANCELLING)) == 0:
        v.remove(Q.JOBQ, j)
        kernel.aio_bio_done_notify(v, j)
    job[J.FLAGS] |= FINISHED
    job[J.G_COMPLETES] += 1


mutant("notify-before-finished", "aio_complete notifies before it sets FINISHED",
       helpers={"aio_complete_locked": _complete_notify_before_finished})


def _complete_keeps_jobqueue(v: View, j: int) -> None:
    if not v.touch(j, "aio_complete"):
        return
    job = v.jobs[j]
    job[J.FLAGS] |= FINISHED
    job[J.G_COMPLETES] += 1
    if (job[J.FLAGS] & (QUEUEING | CANCELLING)) == 0:
        kernel.aio_bio_done_notify(v, j)  # forgets TAILQ_REMOVE(&kaio_jobqueue)


mutant("complete-keeps-jobqueue", "aio_complete notifies without unlinking the job from kaio_jobqueue",
       helpers={"aio_complete_locked": _complete_keeps_jobqueue})


# --- the cancel-function protocol --------------------------------------------------------

def _clear_never_cleared(v: View, j: int) -> bool:
    job = v.jobs[j]
    v.kassert("A4", job[J.CANCEL_FN] != CancelFn.NULL, f"aio_clear_cancel_function: job {j} has no cancel_fn")
    if job[J.FLAGS] & CANCELLING:
        return False  # forgets KAIOCB_CLEARED: the callback dequeues the job a second time
    job[J.CANCEL_FN] = CancelFn.NULL
    return True


mutant("cleared-never-set", "aio_clear_cancel_function fails under CANCELLING but never sets CLEARED",
       helpers={"aio_clear_cancel_function_locked": _clear_never_cleared})


def _clear_always_flags(v: View, j: int) -> bool:
    job = v.jobs[j]
    job[J.FLAGS] |= CLEARED
    v.emit("cleared", j)
    if job[J.FLAGS] & CANCELLING:
        return False
    job[J.CANCEL_FN] = CancelFn.NULL
    return True


mutant("cleared-without-cancelling", "aio_clear_cancel_function sets CLEARED even when no callback runs",
       helpers={"aio_clear_cancel_function_locked": _clear_always_flags})


def _select_keeps_cleared(v: View) -> int:
    for j in list(v.lists[Q.AIOJOBS]):
        if v.ki[K.ACTIVE] < v.sc.limits.max_aio_per_proc:
            if v.jobs[j][J.FLAGS] & CANCELLING:
                v.jobs[j][J.FLAGS] |= CLEARED  # marks it but leaves it on aio_jobs
                v.emit("cleared", j)
                continue
            v.remove(Q.AIOJOBS, j)
            kernel.aio_clear_cancel_function_locked(v, j)
            v.ki[K.ACTIVE] += 1
            return j
    return -1


mutant("select-leaves-cleared-queued", "aio_selectjob marks a CANCELLING job CLEARED without dequeuing it",
       helpers={"aio_selectjob": _select_keeps_cleared})


def _schedule_no_cancel_fn(v: View, j: int, fn: HandleFn) -> bool:
    if v.jobs[j][J.FLAGS] & CANCELLED:
        return False
    v.jobs[j][J.HANDLE_FN] = fn
    v.append(Q.AIOJOBS, j)
    return True


mutant("schedule-without-cancel-fn", "aio_schedule queues the job without installing aio_cancel_daemon_job",
       helpers={"aio_schedule_locked": _schedule_no_cancel_fn})


def _schedule_wrong_handler(v: View, j: int, fn: HandleFn) -> bool:
    return _orig_schedule(v, j, HandleFn.RW)


_orig_schedule = kernel.aio_schedule_locked
mutant("fsync-runs-rw-handler", "an fsync is queued with aio_process_rw as its handler",
       helpers={"aio_schedule_locked": _schedule_wrong_handler})


def _cancel_begin_unchecked(v: View, j: int) -> int:
    job = v.jobs[j]
    if job[J.FLAGS] & FINISHED:  # forgets the CANCELLED test: a second canceller re-enters
        return 0
    v.kassert("A3", not job[J.FLAGS] & CANCELLING, f"aio_cancel_job: job {j} already CANCELLING")
    job[J.FLAGS] |= CANCELLED
    if job[J.CANCEL_FN] == CancelFn.NULL:
        return 0
    job[J.FLAGS] |= CANCELLING
    job[J.G_CALLBACKS] += 1
    return kernel.CALLBACK


mutant("cancel-twice", "aio_cancel_job no longer returns early for an already CANCELLED job",
       helpers={"aio_cancel_job_begin": _cancel_begin_unchecked})


def _cancel_begin_no_cancelled(v: View, j: int) -> int:
    job = v.jobs[j]
    if job[J.FLAGS] & (CANCELLED | FINISHED):
        return 0
    if job[J.CANCEL_FN] == CancelFn.NULL:
        return 0
    job[J.FLAGS] |= CANCELLING  # forgets CANCELLED
    job[J.G_CALLBACKS] += 1
    return kernel.CALLBACK


mutant("cancelling-without-cancelled", "aio_cancel_job sets CANCELLING but not CANCELLED",
       helpers={"aio_cancel_job_begin": _cancel_begin_no_cancelled})


def _cancel_end_clears_finished(v: View, j: int) -> int:
    r = _orig_cancel_end(v, j)
    v.jobs[j][J.FLAGS] &= ~FINISHED
    return r


def _cancel_end_clears_cancelled(v: View, j: int) -> int:
    r = _orig_cancel_end(v, j)
    v.jobs[j][J.FLAGS] &= ~CANCELLED
    return r


def _cancel_end_drops_job(v: View, j: int) -> int:
    job = v.jobs[j]
    job[J.FLAGS] &= ~CANCELLING
    if job[J.FLAGS] & FINISHED:
        v.remove(Q.JOBQ, j)  # forgets aio_bio_done_notify: the job is lost
        return 1
    return 0


_orig_cancel_end = kernel.aio_cancel_job_end
mutant("cancel-end-clears-finished", "aio_cancel_job clears FINISHED together with CANCELLING",
       helpers={"aio_cancel_job_end": _cancel_end_clears_finished})
mutant("cancel-end-clears-cancelled", "aio_cancel_job clears CANCELLED together with CANCELLING",
       helpers={"aio_cancel_job_end": _cancel_end_clears_cancelled})
mutant("cancel-end-loses-job", "aio_cancel_job unlinks a finished job but never notifies it",
       helpers={"aio_cancel_job_end": _cancel_end_drops_job})


# --- submission, lio, fsync ----------------------------------------------------------------

def _lio_open_no_extra(v: View, a: int, c) -> None:
    from ..spec.program import call_of

    call = call_of(v, a)
    BY_NAME["LIO_OPEN"].body(v, a, c)
    if v.lios[call.lio][L.ALLOC] == 1:
        v.lios[call.lio][L.COUNT] -= 1  # no extra reference while the entries are submitted


def _close_tail_keeps_ref(v: View, a: int, error: int) -> None:
    from ..spec.program import call_of, finish_call

    call = call_of(v, a)
    act = v.actors[a]
    result = Errno.EIO if act[T.C] else Errno.EAGAIN if act[T.B] else error
    if call.mode == "LIO_WAIT":
        v.emit("lio_wait_return", call.lio, result)
    finish_call(v, a, result)  # forgets lioj_count-- and the free


def _close_tail_no_drop(v: View, a: int, error: int) -> None:
    from ..spec.program import call_of

    lio = v.lios[call_of(v, a).lio]
    lio[L.COUNT] += 1  # undo the missing extra reference so the close drops nothing
    _orig_close_tail(v, a, error)


from ..spec import submit as _submit  # noqa: E402

_orig_close_tail = _submit.lio_close_tail
mutant("lio-no-extra-reference", "kern_lio_listio submits without the extra lioj_count reference",
       labels={"LIO_OPEN": _lio_open_no_extra}, helpers={"submit.lio_close_tail": _close_tail_no_drop})
mutant("lio-extra-reference-leaked", "kern_lio_listio never drops its extra reference (RTEMS LIO_NOWAIT, on FreeBSD)",
       helpers={"submit.lio_close_tail": _close_tail_keeps_ref})


def _lio_close_no_wait(v: View, a: int, c) -> None:
    from ..spec.submit import lio_close_tail

    call = v.sc.threads[a].calls[v.actors[a][T.CALL]]
    if call.mode == "LIO_WAIT":
        lio_close_tail(v, a, 0)  # returns without sleeping
        return
    BY_NAME["LIO_CLOSE"].body(v, a, c)


mutant("lio-wait-returns-early", "LIO_WAIT returns without waiting for the members",
       labels={"LIO_CLOSE": _lio_close_no_wait})


def _commit_no_count(v: View, a: int, c) -> None:
    BY_NAME["SUB_COMMIT"].body(v, a, c)
    if any(e.kind == "commit" for e in v.events):
        v.ki[K.COUNT] -= 1


mutant("commit-forgets-kaio-count", "the commit step of aio_aqueue forgets kaio_count++",
       labels={"SUB_COMMIT": _commit_no_count})


def _commit_no_lio_count(v: View, a: int, c) -> None:
    BY_NAME["SUB_COMMIT"].body(v, a, c)
    for e in v.events:
        if e.kind == "commit":
            lj = v.sc.slots[e.a].lio
            if lj >= 0:
                v.lios[lj][L.COUNT] -= 1


mutant("commit-forgets-lio-count", "the commit step forgets lioj_count++ for a lio member",
       labels={"SUB_COMMIT": _commit_no_lio_count})


def _commit_keeps_queueing(v: View, a: int, c) -> None:
    BY_NAME["SUB_COMMIT"].body(v, a, c)
    for e in v.events:
        if e.kind == "commit" and v.on(Q.JOBQ, e.a):
            v.jobs[e.a][J.FLAGS] |= QUEUEING


mutant("commit-keeps-queueing", "the commit step leaves QUEUEING set on a queued job",
       labels={"SUB_COMMIT": _commit_keeps_queueing})


def _commit_to_done(v: View, a: int, c) -> None:
    BY_NAME["SUB_COMMIT"].body(v, a, c)
    for e in v.events:
        if e.kind == "commit" and v.on(Q.JOBQ, e.a):
            v.remove(Q.JOBQ, e.a)
            v.append(Q.DONE, e.a)


mutant("commit-to-done", "the commit step puts an unfinished job on kaio_done",
       labels={"SUB_COMMIT": _commit_to_done})


def _sync_no_pending(v: View, a: int, c) -> None:
    from ..spec.submit import _slot

    from ..spec.submit import record_fsync_predecessors

    _call, slot = _slot(v, a)
    record_fsync_predecessors(v, slot.index)
    v.actors[a][T.PC] = pc("SUB_SCHED")  # never waits for earlier writes


mutant("fsync-ignores-predecessors", "aio_fsync does not count earlier writes (no CHECKSYNC, no pending)",
       labels={"SUB_SYNC": _sync_no_pending})


# --- reaping and rundown -------------------------------------------------------------------

def _return_no_free(v: View, a: int, c) -> None:
    from ..spec.program import call_of, finish_call

    call = call_of(v, a)
    for j in v.lists[Q.DONE]:
        if v.sc.slots[j].aiocb == call.aiocb:
            v.jobs[j][J.G_RETURNED] += 1
            finish_call(v, a, v.jobs[j][J.KERROR], v.jobs[j][J.KSTATUS])
            return
    finish_call(v, a, Errno.EINVAL)


mutant("return-without-free", "aio_return hands out the result but leaves the job on kaio_done",
       labels={"RETURN_FIND": _return_no_free})


def _return_from_all(finished_only: bool):
    """aio_return searching kaio_all (optionally only FINISHED jobs) instead of kaio_done."""

    def body(v: View, a: int, c) -> None:
        from ..spec.program import call_of, finish_call
        from ..spec.reap import _hand_out

        call = call_of(v, a)
        for j in v.lists[Q.ALL]:
            if v.sc.slots[j].aiocb == call.aiocb and (not finished_only or v.jobs[j][J.FLAGS] & FINISHED):
                _hand_out(v, a, j)
                return
        finish_call(v, a, Errno.EINVAL)

    return body


mutant("return-searches-kaio-all", "aio_return looks the job up on kaio_all instead of kaio_done",
       labels={"RETURN_FIND": _return_from_all(False)})
mutant("return-any-finished", "aio_return frees any FINISHED job, even one still deferred by CANCELLING",
       labels={"RETURN_FIND": _return_from_all(True)})


def _free_locked_no_count(v: View, j: int) -> None:
    _orig_free_locked(v, j)
    v.ki[K.COUNT] += 1  # moved below AIO_UNLOCK


def _free_tail_counts(v: View, j: int) -> None:
    _orig_free_tail(v, j)
    v.ki[K.COUNT] -= 1


_orig_free_locked = kernel.aio_free_entry_locked
_orig_free_tail = kernel.aio_free_entry_tail
mutant("free-count-unlocked", "aio_free_entry decrements kaio_count after dropping kaio_mtx",
       helpers={"aio_free_entry_locked": _free_locked_no_count, "aio_free_entry_tail": _free_tail_counts})


def _release_no_decrement(v: View, d: int, c) -> None:
    BY_NAME["D_RELEASE"].body(v, d, c)
    v.ki[K.ACTIVE] += 1


mutant("daemon-keeps-active-count", "the daemon never decrements kaio_active_count",
       labels={"D_RELEASE": _release_no_decrement})


def _bio_no_buffer_release(v: View, j: int, c) -> None:
    BY_NAME["BIO_DONE"].body(v, j, c)
    v.ki[K.BUFFERS] += 1


mutant("bio-keeps-buffer", "aio_biowakeup does not release kaio_buffer_count",
       labels={"BIO_DONE": _bio_no_buffer_release})


def _notify_no_wakeup(v: View, j: int) -> None:
    flags = v.ki[K.KFLAGS]
    _orig_notify(v, j)
    if flags & KAIO_WAKEUP:
        v.ki[K.KFLAGS] |= KAIO_WAKEUP
        for act in v.actors:
            act[T.WOKEN] = 0  # the wakeup never happens


def _notify_posts_in_rundown(v: View, j: int) -> None:
    from ..spec.constants import KAIO_RUNDOWN

    rd = v.ki[K.KFLAGS] & KAIO_RUNDOWN
    v.ki[K.KFLAGS] &= ~KAIO_RUNDOWN
    _orig_notify(v, j)
    v.ki[K.KFLAGS] |= rd


def _notify_no_job_post(v: View, j: int) -> None:
    _orig_notify(v, j)
    if v.jobs[j][J.G_POSTS]:
        v.jobs[j][J.G_POSTS] -= 1
        v.events[:] = [e for e in v.events if e.kind != "post_job"]


_orig_notify = kernel.aio_bio_done_notify
mutant("notify-without-wakeup", "aio_bio_done_notify forgets wakeup() although KAIO_WAKEUP is set",
       helpers={"aio_bio_done_notify": _notify_no_wakeup})
mutant("notify-during-rundown", "aio_bio_done_notify posts signals and knotes during rundown",
       helpers={"aio_bio_done_notify": _notify_posts_in_rundown})
mutant("notify-drops-job-kevent", "aio_bio_done_notify forgets KNOTE_LOCKED(&job->klist)",
       helpers={"aio_bio_done_notify": _notify_no_job_post})


def _post_lio_twice(v: View, lj: int) -> None:
    lio = v.lios[lj]
    if lio[L.SIGKIND] == Sigev.KEVENT:
        lio[L.G_POSTS] += 1
    _orig_post_lio(v, lj)


_orig_post_lio = kernel.post_lio
mutant("lio-kevent-twice", "the lio kevent is posted by both kern_lio_listio and the last member",
       helpers={"post_lio": _post_lio_twice})


def _rundown_skips_done(v: View, a: int) -> None:
    done, v.lists[Q.DONE] = v.lists[Q.DONE], []
    _orig_free_next(v, a)
    v.lists[Q.DONE] = done


from ..spec import cancel as _cancel  # noqa: E402

_orig_free_next = _cancel.rundown_free_next
mutant("rundown-skips-done", "aio_proc_rundown destroys the kaioinfo without freeing kaio_done",
       helpers={"cancel.rundown_free_next": _rundown_skips_done})


def _cancel_end_tolerant(v: View, j: int) -> int:
    job = v.jobs[j]
    job[J.FLAGS] &= ~CANCELLING
    if job[J.FLAGS] & FINISHED:
        if v.on(Q.JOBQ, j):
            v.remove(Q.JOBQ, j)
        kernel.aio_bio_done_notify(v, j)
        return int(job[J.KERROR] == Errno.ECANCELED)
    return 0


mutant("double-notify", "aio_complete ignores CANCELLING and aio_cancel_job tolerates a job already unlinked: "
       "the job is notified twice",
       helpers={"aio_complete_locked": _complete_no_defer_cancelling, "aio_cancel_job_end": _cancel_end_tolerant})


def _notify_forgets_sync_task(v: View, j: int) -> None:
    pending = v.glob[G.TASK_PENDING]
    _orig_notify(v, j)
    v.glob[G.TASK_PENDING] = pending  # taskqueue_enqueue(kaio_sync_task) is lost


mutant("sync-task-never-enqueued", "aio_bio_done_notify releases fsyncs to kaio_syncready but never enqueues "
       "the sync task (caught by liveness only: rundown waits forever, nothing deadlocks)",
       helpers={"aio_bio_done_notify": _notify_forgets_sync_task})
