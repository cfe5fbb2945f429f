"""Properties: the seed's invariants (SEMANTICS.md section 14), the POSIX contract of each
call, deadlock and end state, and reachability ("sometimes") properties.

Kinds: ``invariant`` (every reachable state), ``step`` (every transition, with its events),
``end`` (terminal states where every thread returned), ``deadlock`` (terminal states where
one did not), ``reach`` (some transition must satisfy it; it proves a race really happens).
Assertions of the seed (KASSERT/MPASS/panic) and dereferences of freed memory arrive as
halting events from the steps and are reported under the property named in the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Iterable
from typing import Callable

from .actions import BY_NAME, LABELS, pc
from .constants import (
    AIO_ALLDONE,
    AIO_CANCELED,
    AIO_NOTCANCELED,
    CANCELLED,
    CANCELLING,
    CLEARED,
    FINISHED,
    KAIO_RUNDOWN,
    QUEUEING,
    CancelFn,
    Errno,
    Op,
    Sigev,
)
from .state import member, S_ACTORS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS
from .variables import DM, G, J, K, L, Q, T


@dataclass(frozen=True)
class Property:
    name: str
    kind: str  # invariant | step | end | deadlock | reach | event
    title: str
    source: str
    check: Callable | None = None
    on: tuple[str, ...] = ()  # event kinds a step/reach property looks at (empty: every step)
    findings: tuple[str, ...] = ()  # docs/findings.md entries where the faithful seed violates it


PROPERTIES: list[Property] = []


def prop(name: str, kind: str, title: str, source: str, on: tuple[str, ...] = (),
         findings: tuple[str, ...] = ()) -> Callable:
    def deco(fn: Callable) -> Callable:
        PROPERTIES.append(Property(name, kind, title, source, fn, on, findings))
        return fn

    return deco


def event_prop(name: str, title: str, source: str) -> None:
    """A property violated by a halting event the steps emit (KASSERT, panic, freed memory)."""
    PROPERTIES.append(Property(name, "event", title, source))


event_prop("A1", "aio_complete never runs on a FINISHED job (\"duplicate aio_complete\")", "L1126 KASSERT")
event_prop("A2", "aio_free_entry only frees FINISHED jobs and kaio_count stays >= 0", "L533, L542 MPASS")
event_prop("A3", "aio_cancel_job never finds CANCELLING once CANCELLED|FINISHED are excluded", "L620 MPASS")
event_prop("A4", "aio_clear_cancel_function is only called with a cancel function set", "L1050 MPASS")
event_prop("A5", "aio_bio_done_notify only runs on FINISHED jobs", "L954 MPASS")
event_prop("A6", "aio_return/aio_waitcomplete only hand out FINISHED jobs", "L1994, L2678 MPASS")
event_prop("A7", "rundown finds every lio with lioj_count == 0 (\"LIO job not cleaned up\")", "L717 panic")
event_prop("A9", "a daemon runs the handler that matches the opcode", "L822, L905, L926 KASSERT")
event_prop("TAILQ", "TAILQ_REMOVE only removes elements that are on the list", "queue(3)")
event_prop("UAF", "no step dereferences a freed job or lio", "section 14 D9/D14; SEMANTICS 12.2")
event_prop("STALE", "no list walk follows the link of a job already unlinked from it", "TAILQ_FOREACH_SAFE")
event_prop("RTEMS-NULL-KI", "aio_aqueue never dereferences a NULL kaioinfo", "section 13 item 2")

EVENT_PROPERTY = {"uaf": "UAF", "stale": "STALE", "nullki": "RTEMS-NULL-KI"}


class Ctx:
    """Facts about a scenario that properties need, computed once."""

    def __init__(self, model):
        sc = model.sc
        self.model = model
        self.sc = sc
        self.nj = len(sc.slots)
        self.focus: int | None = None  # set by the z3 encoder: one job at a time (see jobs())
        self.focused = False
        self.members = [[s.index for s in sc.slots if s.lio == lj] for lj in range(sc.lio_count)]
        self.lio_caller = {}
        for ti, th in enumerate(sc.threads):
            for ci, c in enumerate(th.calls):
                if c.kind == "lio_listio":
                    self.lio_caller[c.lio] = (ti, ci)
        self.running_pcs = frozenset(pc(n) for n in ("D_RUN", "D_COMPLETE", "D_RELEASE"))
        self.free_tail_pcs = frozenset(pc(n) for n in ("FREE_TAIL", "RUN_FREE_TAIL"))
        self.lio_open_pc = pc("LIO_OPEN")
        self.sleep_pcs = frozenset(lb.index for lb in LABELS if lb.sleeps)

    def jobs(self, s) -> Iterable[tuple[int, tuple]]:
        """(j, job) for every job; for one job when the z3 encoder encodes a property per job.

        A property that loops over ``ctx.jobs(s)`` and returns at the first bad job, with no
        state carried from one job to the next, fails iff it fails with some single job in
        focus: the encoder then costs the sum over jobs, not the product of their branches."""
        if self.focus is None:
            return enumerate(s[S_JOBS])  # the explicit checker's hot path: no list
        self.focused = True
        return [(self.focus, s[S_JOBS][self.focus])]

    def job_pairs(self, s, t) -> Iterable[tuple[int, tuple, tuple]]:
        """(j, job before, job after) for a step from s to t; one job when the encoder focuses."""
        tj = t[S_JOBS]
        return ((j, a, tj[j]) for j, a in self.jobs(s))


def _freeing(ctx: Ctx, s, j: int) -> bool:
    """Job j is between aio_free_entry's bookkeeping and its free.  One condition over every
    actor (``|``, ``&``) rather than ``any``/``and``, which the z3 encoder would fork on per actor."""
    hit = False
    for act in s[S_ACTORS]:
        hit = (member(act[T.PC], ctx.free_tail_pcs) & (act[T.A] == j)) | hit
    return hit


def _lio_extra(ctx: Ctx, s, lj: int) -> int:
    caller = ctx.lio_caller.get(lj)
    if caller is None:
        return 0
    act = s[S_ACTORS][caller[0]]
    return int(act[T.CALL] == caller[1] and act[T.PC] != ctx.lio_open_pc and act[T.PC] != -1)


# --- invariants -----------------------------------------------------------------------

@prop("D2", "invariant", "CANCELLING implies CANCELLED; a cancel callback runs at most once per job", "14 D2")
def _d2(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.FLAGS] & CANCELLING and not job[J.FLAGS] & CANCELLED:
            return f"job {ctx.model.job_name(j)} is CANCELLING but not CANCELLED"
        if job[J.G_CALLBACKS] > 1:
            return f"cancel callback of job {ctx.model.job_name(j)} ran {job[J.G_CALLBACKS]} times"
    return None


@prop("D3", "invariant", "QUEUEING and CANCELLING are never both set", "14 D3")
def _d3(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.FLAGS] & QUEUEING and job[J.FLAGS] & CANCELLING:
            return f"job {ctx.model.job_name(j)} is QUEUEING and CANCELLING"
    return None


@prop("D4", "invariant", "a CLEARED job is on no backend queue", "14 D4")
def _d4(ctx, s):
    lists = s[S_LISTS]
    for j, job in ctx.jobs(s):
        if job[J.FLAGS] & CLEARED and (j in lists[Q.AIOJOBS] or j in lists[Q.SYNCQ]):
            return f"CLEARED job {ctx.model.job_name(j)} is still on a backend queue"
    return None


@prop("D5", "invariant", "a committed live job is on kaio_all and exactly one of kaio_jobqueue/kaio_done; "
      "a QUEUEING job on none", "14 D5")
def _d5(ctx, s):
    lists = s[S_LISTS]
    for j, job in ctx.jobs(s):
        if job[J.ALLOC] != 1:
            continue
        on_all, on_q, on_d = j in lists[Q.ALL], j in lists[Q.JOBQ], j in lists[Q.DONE]
        if job[J.FLAGS] & QUEUEING:
            if on_all or on_q or on_d:
                return f"QUEUEING job {ctx.model.job_name(j)} is on a per-process list"
        elif job[J.G_COMMITTED] and (not on_all or on_q == on_d) and not _freeing(ctx, s, j):
            return f"committed job {ctx.model.job_name(j)}: kaio_all={on_all} jobqueue={on_q} done={on_d}"
    return None


@prop("D6", "invariant", "on kaio_done implies FINISHED; on kaio_jobqueue and FINISHED implies CANCELLING", "14 D6")
def _d6(ctx, s):
    lists = s[S_LISTS]
    for j, job in ctx.jobs(s):  # per job, not per list entry: the encoder then focuses one job
        f = job[J.FLAGS]
        if j in lists[Q.DONE] and not f & FINISHED:
            return f"job {ctx.model.job_name(j)} on kaio_done is not FINISHED"
        if j in lists[Q.JOBQ] and f & FINISHED and not f & CANCELLING:
            return f"FINISHED job {ctx.model.job_name(j)} on kaio_jobqueue without CANCELLING"
    return None


@prop("D7", "invariant", "kaio_count == |kaio_all| == |kaio_jobqueue| + |kaio_done| == num_queue_count", "14 D7")
def _d7(ctx, s):
    ki, lists = s[S_KI], s[S_LISTS]
    c, na, nq, nd = ki[K.COUNT], len(lists[Q.ALL]), len(lists[Q.JOBQ]), len(lists[Q.DONE])
    if not (c == na == nq + nd == s[S_GLOB][G.NQUEUE]):
        return f"kaio_count={c} |all|={na} |jobqueue|+|done|={nq + nd} num_queue_count={s[S_GLOB][G.NQUEUE]}"
    return None


@prop("D8", "invariant", "aio_bio_done_notify runs at most once per job", "14 D8")
def _d8(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.G_NOTIFIES] > 1:
            return f"job {ctx.model.job_name(j)} notified {job[J.G_NOTIFIES]} times"
    return None


@prop("D10", "invariant", "backend queues agree with cancel_fn (aio_jobs: daemon cancel, syncqueue: sync cancel "
      "with pending > 0, running/syncready/bio: NULL)", "14 D10")
def _d10(ctx, s):
    jobs, lists = s[S_JOBS], s[S_LISTS]
    nm = ctx.model.job_name
    for j, job in ctx.jobs(s):  # per job, not per list entry: the encoder then focuses one job
        fn = job[J.CANCEL_FN]
        if j in lists[Q.AIOJOBS] and fn != CancelFn.DAEMON and not job[J.FLAGS] & CANCELLING:
            return f"job {nm(j)} on aio_jobs with cancel_fn {CancelFn(fn).name}"
        if j in lists[Q.SYNCQ] and (fn != CancelFn.SYNC or ctx.sc.slots[j].op != Op.LIO_SYNC or job[J.PENDING] <= 0):
            return f"job {nm(j)} on kaio_syncqueue: cancel_fn {CancelFn(fn).name}, pending {job[J.PENDING]}"
        if j in lists[Q.SYNCREADY] and fn != CancelFn.NULL:
            return f"job {nm(j)} on kaio_syncready with a cancel function"
        if job[J.BIO] in (1, 2) and fn:
            return f"bio job {nm(j)} has a cancel function"
    for dm in s[S_DAEMONS]:
        if member(dm[DM.PC], ctx.running_pcs) and dm[DM.PC] != pc("D_RELEASE") and jobs[dm[DM.JOB]][J.CANCEL_FN]:
            return f"job {nm(dm[DM.JOB])} runs in a daemon with a cancel function"
    return None


@prop("D11", "invariant", "kaio_active_count == jobs between aio_selectjob and the daemon's decrement, "
      "0 <= it <= max_aio_per_proc", "14 D11")
def _d11(ctx, s):
    active = s[S_KI][K.ACTIVE]
    running = sum(1 for dm in s[S_DAEMONS] if member(dm[DM.PC], ctx.running_pcs))
    if active != running or not 0 <= active <= ctx.sc.limits.max_aio_per_proc:
        return f"kaio_active_count={active}, daemons holding a job={running}"
    return None


@prop("D12", "invariant", "kaio_buffer_count == mapped bio jobs in flight, >= 0", "14 D12")
def _d12(ctx, s):
    n = sum(1 for job in s[S_JOBS] if job[J.BIO] == 1)
    if s[S_KI][K.BUFFERS] != n:
        return f"kaio_buffer_count={s[S_KI][K.BUFFERS]}, bios in flight={n}"
    return None


@prop("D13", "invariant", "lioj_count == extra + committed members not freed; lioj_finished_count == members on "
      "kaio_done <= lioj_count - extra", "14 D13")
def _d13(ctx, s):
    lists = s[S_LISTS]
    for lj, lio in enumerate(s[S_LIOS]):
        if lio[L.ALLOC] != 1:
            continue
        extra = _lio_extra(ctx, s, lj)
        members = ctx.members[lj]
        live = sum(1 for j in members if j in lists[Q.ALL])
        done = sum(1 for j in members if j in lists[Q.DONE])
        if lio[L.COUNT] != extra + live or lio[L.FINISHED] != done or lio[L.FINISHED] > lio[L.COUNT] - extra:
            return (f"lio {lj}: lioj_count={lio[L.COUNT]} (extra {extra} + members {live}), "
                    f"lioj_finished_count={lio[L.FINISHED]} (on kaio_done {done})")
    return None


@prop("D14", "invariant", "a lio is on kaio_liojoblist exactly while allocated, never with lioj_count == 0; "
      "its notification is posted at most once", "14 D14")
def _d14(ctx, s):
    lios = s[S_LISTS][Q.LIOS]
    for lj, lio in enumerate(s[S_LIOS]):
        if (lio[L.ALLOC] == 1) != (lj in lios):
            return f"lio {lj}: allocated={lio[L.ALLOC] == 1}, on kaio_liojoblist={lj in lios}"
        if lio[L.ALLOC] == 1 and lio[L.COUNT] == 0:
            return f"lio {lj} is live with lioj_count == 0"
        if lio[L.G_POSTS] > 1:
            return f"lio {lj} notification posted {lio[L.G_POSTS]} times"
    return None


@prop("D18", "invariant", "a job's result comes from exactly one aio_complete", "14 D18")
def _d18(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.G_COMPLETES] > 1:
            return f"job {ctx.model.job_name(j)} completed {job[J.G_COMPLETES]} times"
    return None


@prop("P-RESULT-ONCE", "invariant", "aio_return/aio_waitcomplete hand out each job's result at most once", "POSIX")
def _result_once(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.G_RETURNED] > 1:
            return f"result of job {ctx.model.job_name(j)} handed out {job[J.G_RETURNED]} times"
    return None


@prop("P-NOTIFY-ONCE", "invariant", "a job's signal/kevent is posted at most once", "POSIX")
def _notify_once(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.G_POSTS] > 1:
            return f"job {ctx.model.job_name(j)} posted {job[J.G_POSTS]} notifications"
    return None


# --- step properties ----------------------------------------------------------------------

@prop("D1", "step", "FINISHED is never cleared, and the result is written before it is set", "14 D1")
def _d1(ctx, s, tr):
    if s[S_JOBS] is tr.target[S_JOBS]:
        return None
    for j, a, b in ctx.job_pairs(s, tr.target):
        if a is b:
            continue
        if a[J.FLAGS] & FINISHED and not b[J.FLAGS] & FINISHED and b[J.ALLOC] == a[J.ALLOC]:
            return f"FINISHED cleared on job {ctx.model.job_name(j)}"
        if b[J.FLAGS] & FINISHED and not a[J.FLAGS] & FINISHED and b[J.KERROR] == Errno.EINPROGRESS:
            return f"job {ctx.model.job_name(j)} FINISHED with error still EINPROGRESS"
    return None


@prop("D2-STICKY", "step", "CANCELLED is never cleared", "14 D2")
def _d2s(ctx, s, tr):
    if s[S_JOBS] is tr.target[S_JOBS]:
        return None
    for j, a, b in ctx.job_pairs(s, tr.target):
        if a is not b and a[J.FLAGS] & CANCELLED and not b[J.FLAGS] & CANCELLED and b[J.ALLOC] == a[J.ALLOC]:
            return f"CANCELLED cleared on job {ctx.model.job_name(j)}"
    return None


@prop("D4-CLEARED", "step", "CLEARED is only set while CANCELLING", "14 D4", on=("cleared",))
def _d4c(ctx, s, tr):
    for e in tr.events:
        if e.kind == "cleared" and not s[S_JOBS][e.a][J.FLAGS] & CANCELLING:
            return f"job {ctx.model.job_name(e.a)} CLEARED without CANCELLING"
    return None


@prop("D8-RUNDOWN", "step", "no signal or knote is posted once KAIO_RUNDOWN is set", "14 D8", on=("post_job", "post_lio"))
def _d8r(ctx, s, tr):
    if s[S_KI][K.KFLAGS] & KAIO_RUNDOWN:
        return "a notification was posted during rundown"
    return None


@prop("D9", "step", "a job is freed only from kaio_done, FINISHED, and not QUEUEING or CANCELLING", "14 D9", on=("free",))
def _d9(ctx, s, tr):
    for e in tr.events:
        if e.kind != "free":
            continue
        j, flags, on_done = e.a, e.b, e.c
        if not on_done:
            return f"job {ctx.model.job_name(j)} freed while not on kaio_done"
        if not flags & FINISHED or flags & (QUEUEING | CANCELLING):
            return f"job {ctx.model.job_name(j)} freed with flags {flags:#x}"
    return None


@prop("D17", "step", "an fsync starts only after every job it counted has been notified", "14 D17", on=("io",))
def _d17(ctx, s, tr):
    for e in tr.events:
        if e.kind != "io" or e.b != "LIO_SYNC":
            continue
        preds = s[S_JOBS][e.a][J.G_PREDS]
        for j in range(ctx.nj):
            if preds >> j & 1 and s[S_JOBS][j][J.G_NOTIFIES] == 0:
                return f"fsync {ctx.model.job_name(e.a)} started before {ctx.model.job_name(j)} finished"
    return None


_GUARDED_KAIO_JOB_FIELDS = (J.FLAGS, J.CANCEL_FN, J.PENDING)
_GUARDED_JOBMTX_JOB_FIELDS = (J.SEQNO, J.HANDLE_FN)


@prop("LOCKS", "step", "every write to a shared variable is made under the lock that guards it (kaio_mtx for (a), "
      "aio_job_mtx for (c)); locks are taken in the order aio_job_mtx -> kaio_mtx", "14 A8, D15")
def _locks(ctx, s, tr):
    lock = tr.label.lock
    has_kaio, has_job = "kaio" in lock, "job" in lock
    t = tr.target
    need_kaio = need_job = None
    if s[S_KI] is not t[S_KI] and s[S_KI] != t[S_KI]:
        a, b = s[S_KI], t[S_KI]
        if a[K.KFLAGS] != b[K.KFLAGS] or a[K.COUNT] != b[K.COUNT] or a[K.BUFFERS] != b[K.BUFFERS]:
            need_kaio = "kaioinfo"
        if a[K.ACTIVE] != b[K.ACTIVE]:
            need_job = "kaio_active_count"
    la, lb_ = s[S_LISTS], t[S_LISTS]
    if la is not lb_:
        for q in (Q.ALL, Q.JOBQ, Q.DONE, Q.LIOS, Q.SYNCQ, Q.SYNCREADY):
            if la[q] != lb_[q]:
                need_kaio = Q.names[q]
        if la[Q.AIOJOBS] != lb_[Q.AIOJOBS]:
            need_job = "aio_jobs"
    if s[S_GLOB][G.JOBSEQNO] != t[S_GLOB][G.JOBSEQNO]:
        need_job = "jobseqno"
    for j, (a, b) in enumerate(zip(s[S_JOBS], t[S_JOBS]) if s[S_JOBS] is not t[S_JOBS] else ()):
        if a is b or a == b:
            continue
        published = a[J.G_COMMITTED] or a[J.CANCEL_FN] or a[J.BIO] or a[J.FLAGS] & FINISHED
        if published and any(a[f] != b[f] for f in _GUARDED_KAIO_JOB_FIELDS):
            need_kaio = f"jobflags/cancel_fn/pending of {ctx.model.job_name(j)}"
        if any(a[f] != b[f] for f in _GUARDED_JOBMTX_JOB_FIELDS) and a[J.ALLOC] == 1 and published:
            need_job = f"seqno/handle_fn of {ctx.model.job_name(j)}"
    for la_, lb2 in zip(s[S_LIOS], t[S_LIOS]) if s[S_LIOS] is not t[S_LIOS] else ():
        if la_ != lb2 and la_[L.ALLOC] == 1 and lb2[L.ALLOC] == 1 and \
                (la_[L.COUNT], la_[L.FINISHED], la_[L.LFLAGS]) != (lb2[L.COUNT], lb2[L.FINISHED], lb2[L.LFLAGS]):
            need_kaio = "aioliojob"
    if need_kaio and not has_kaio:
        return f"{tr.label.name} writes {need_kaio} without kaio_mtx"
    if need_job and not has_job:
        return f"{tr.label.name} writes {need_job} without aio_job_mtx"
    return None


@prop("P-CANCEL", "step", "aio_cancel: AIO_CANCELED means every request asked for that was in progress when the "
      "call began is cancelled; AIO_NOTCANCELED means one of them is not; AIO_ALLDONE means all were done",
      "POSIX aio_cancel", on=("cancel_result",), findings=("F2", "F3", "F4"))
def _p_cancel(ctx, s, tr):
    for e in tr.events:
        if e.kind != "cancel_result":
            continue
        res, mask = e.b, e.c
        jobs = tr.target[S_JOBS]
        asked = [j for j in range(ctx.nj) if mask >> j & 1]
        cancelled = [j for j in asked if jobs[j][J.FLAGS] & FINISHED and jobs[j][J.KERROR] == Errno.ECANCELED]
        names = ", ".join(ctx.model.job_name(j) for j in asked) or "none"
        if res == AIO_CANCELED and (not asked or len(cancelled) != len(asked)):
            return f"AIO_CANCELED but requests in progress at the call ({names}) are not all cancelled"
        if res == AIO_NOTCANCELED and asked and len(cancelled) == len(asked):
            return f"AIO_NOTCANCELED but every request in progress at the call ({names}) was cancelled"
        if res == AIO_NOTCANCELED and not asked:
            return "AIO_NOTCANCELED but no request was in progress when the call began"
        if res == AIO_ALLDONE and any(not jobs[j][J.FLAGS] & FINISHED for j in asked):
            return f"AIO_ALLDONE but a request in progress at the call ({names}) has not finished"
    return None


@prop("P-LIO-WAIT", "step", "lio_listio(LIO_WAIT) returns 0 only when every committed member has finished",
      "POSIX lio_listio", on=("lio_wait_return",))
def _p_lio_wait(ctx, s, tr):
    for e in tr.events:
        if e.kind == "lio_wait_return" and e.b == 0:
            jobs = tr.target[S_JOBS]
            for j in ctx.members[e.a]:
                if jobs[j][J.G_COMMITTED] and not jobs[j][J.FLAGS] & FINISHED:
                    return f"LIO_WAIT returned while member {ctx.model.job_name(j)} is unfinished"
    return None


@prop("P-SUSPEND", "step", "aio_suspend returns 0 only when a listed request has finished", "POSIX aio_suspend",
      on=("suspend_return",), findings=("F5",))
def _p_suspend(ctx, s, tr):
    for e in tr.events:
        if e.kind != "suspend_return" or e.b != 0:
            continue
        call = ctx.sc.threads[e.a].calls[s[S_ACTORS][e.a][T.CALL]]
        targets = set(call.targets)
        jobs = tr.target[S_JOBS]
        listed = [slot.index for slot in ctx.sc.slots if slot.aiocb in targets]
        finished = any(jobs[j][J.FLAGS] & FINISHED for j in listed)
        pending = [j for j in listed if jobs[j][J.ALLOC] == 1 and not jobs[j][J.FLAGS] & FINISHED]
        if pending and not finished:  # unknown or reaped aiocbs alone do not count
            return (f"aio_suspend({sorted(t for t in targets if t)}) returned 0 while "
                    f"{', '.join(ctx.model.job_name(j) for j in pending)} is in progress and none finished")
    return None


@prop("P-ERROR", "step", "aio_error answers EINPROGRESS while a request is in progress, and 0 only for a request "
      "that completed successfully", "POSIX aio_error", on=("return",), findings=("F9", "F10"))
def _p_error(ctx, s, tr):
    for e in tr.events:
        if e.kind != "return" or e.b[1] != "aio_error":
            continue
        call = ctx.sc.threads[e.a].calls[e.b[0]]
        jobs = tr.target[S_JOBS]
        mine = [sl.index for sl in ctx.sc.slots if sl.aiocb == call.aiocb]
        running = [j for j in mine if jobs[j][J.ALLOC] == 1 and not jobs[j][J.FLAGS] & FINISHED]
        if running and e.c != Errno.EINPROGRESS:
            return (f"aio_error({call.aiocb}) returned {Errno(e.c).name} while {ctx.model.job_name(running[0])} "
                    "is in progress")
        if e.c == 0 and not any(jobs[j][J.FLAGS] & FINISHED and jobs[j][J.KERROR] == 0 for j in mine):
            return f"aio_error({call.aiocb}) returned 0 but no request on it completed successfully"
    return None


@prop("P-RETURN", "step", "aio_return fails with EINVAL only for a request that has not completed (or was "
      "already reaped)", "POSIX aio_return", on=("return",), findings=("F11",))
def _p_return(ctx, s, tr):
    for e in tr.events:
        if e.kind != "return" or e.b[1] != "aio_return" or e.b[2] != Errno.EINVAL:
            continue
        call = ctx.sc.threads[e.a].calls[e.b[0]]
        jobs = tr.target[S_JOBS]
        for sl in ctx.sc.slots:
            job = jobs[sl.index]
            if sl.aiocb == call.aiocb and job[J.ALLOC] == 1 and job[J.FLAGS] & FINISHED and not job[J.FLAGS] & QUEUEING:
                return (f"aio_return({call.aiocb}) returned EINVAL although {ctx.model.job_name(sl.index)} has "
                        f"completed ({Errno(job[J.KERROR]).name}); its notification is still deferred")
    return None


# --- end state ------------------------------------------------------------------------

@prop("END", "end", "after rundown no job or lio is allocated and the kaioinfo is gone", "14 D16, A7")
def _end(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.ALLOC] == 1:
            return f"job {ctx.model.job_name(j)} still allocated after rundown"
    for lj, lio in enumerate(s[S_LIOS]):
        if lio[L.ALLOC] == 1:
            return f"lio {lj} still allocated after rundown"
    if s[S_KI][K.EXISTS]:
        return "kaioinfo not freed"
    return None


@prop("D16", "end", "every committed job reached kaio_done (one aio_complete, one notify)", "14 D16, D18")
def _d16(ctx, s):
    for j, job in ctx.jobs(s):
        if job[J.G_COMMITTED] and (job[J.G_COMPLETES] != 1 or job[J.G_NOTIFIES] != 1):
            return f"job {ctx.model.job_name(j)}: {job[J.G_COMPLETES]} completions, {job[J.G_NOTIFIES]} notifies"
    return None


@prop("P-NOTIFY-EXACT", "end", "every job and list that asked for a notification got exactly one, unless it finished "
      "during rundown", "POSIX sigevent")
def _notify_exact(ctx, s):
    for j, job in ctx.jobs(s):
        sig = ctx.sc.aiocbs[ctx.sc.slots[j].aiocb].sigev
        if job[J.G_COMMITTED] and sig in (Sigev.SIGNAL, Sigev.KEVENT) and not ctx.sc.rtems \
                and not job[J.G_RUNDOWN_NOTE] and job[J.G_POSTS] != 1:
            return f"job {ctx.model.job_name(j)} posted {job[J.G_POSTS]} notifications"
    for lj, lio in enumerate(s[S_LIOS]):
        if lio[L.SIGKIND] in (Sigev.SIGNAL, Sigev.KEVENT) and not lio[L.G_LATE] and lio[L.G_POSTS] != 1:
            return f"lio {lj} posted {lio[L.G_POSTS]} notifications"
    return None


PROPERTIES.append(Property("DEADLOCK", "deadlock", "no state where nothing can move while a thread has not returned "
                           "(a user thread blocked forever)", "14 D16"))


# --- reachability --------------------------------------------------------------------

def _reach_event(name: str, title: str, kind: str, pred: Callable = lambda e: True) -> None:
    def check(ctx, s, tr):
        return any(e.kind == kind and pred(e) for e in tr.events)

    PROPERTIES.append(Property(name, "reach", title, "SEMANTICS 5.8", check, (kind,)))


_reach_event("R-CLEARED", "a job is CLEARED (a dequeuer lost the race with a running cancel callback)", "cleared")
_reach_event("R-DEFER-CANCELLING", "a completion deferred by CANCELLING is finished by aio_cancel_job",
             "finish_deferred", lambda e: e.b == "CANCELLING")
_reach_event("R-DEFER-QUEUEING", "a completion deferred by QUEUEING is finished by aio_aqueue's commit",
             "finish_deferred", lambda e: e.b == "QUEUEING")
_reach_event("R-LIO-FREE-ENTRY", "a lio is freed by aio_free_entry of its last member", "lio_free",
             lambda e: e.b == "aio_free_entry")
_reach_event("R-LIO-FREE-LISTIO", "a lio is freed by kern_lio_listio dropping its extra reference", "lio_free",
             lambda e: e.b == "kern_lio_listio")
_reach_event("R-FSYNC-PARKED", "an fsync parks on kaio_syncqueue", "fsync_parked")
_reach_event("R-FSYNC-RELEASED", "a parked fsync is released to kaio_syncready", "fsync_released")
_reach_event("R-STICKY-CANCEL", "aio_schedule fails on a CANCELLED job and cancels it (sticky cancel)", "sched_failed")
_reach_event("R-CANCEL-NO-FN", "aio_cancel_job finds no cancel function (job being serviced)", "cancel_no_fn")
_reach_event("R-WALK-DIVERTED", "a cancel loop follows a saved successor that moved to kaio_done", "walk_diverted")


def by_name() -> dict[str, Property]:
    return {p.name: p for p in PROPERTIES}


def names(kind: str | None = None) -> list[str]:
    return [p.name for p in PROPERTIES if kind is None or p.kind == kind]


assert len(set(names())) == len(PROPERTIES), "duplicate property names"
_ = BY_NAME
