"""The state variables of the model, declared as data.

Each variable names the C structure that owns it, the lock that guards it (the seed's
(a)/(b)/(c)/(*) keys from L206-216), its domain, and the declaration it models.  The
state layout (``state.py``), the documentation tables and the lock audit are all derived
from this table, so it is the single place where the shape of the state is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

from .constants import (
    LOCK_ATOMIC,
    LOCK_GHOST,
    LOCK_IMMUTABLE,
    LOCK_JOB,
    LOCK_KAIO,
    LOCK_PRIVATE,
    LOCK_USER,
)


@dataclass(frozen=True)
class Var:
    """One state variable.

    ``record`` is the tuple of the state it lives in; ``attr`` its index name there.
    ``per`` says whether there is one per job slot, aiocb, lio slot, actor or daemon.
    """

    record: str
    attr: str
    c_name: str
    owner: str
    lock: str
    domain: str
    line: str
    doc: str
    initial: int = 0


def _v(record: str, attr: str, c_name: str, owner: str, lock: str, domain: str, line: str, doc: str, initial: int = 0) -> Var:
    return Var(record, attr, c_name, owner, lock, domain, line, doc, initial)


# One record per job slot (struct kaiocb, sys/aio.h; lock keys L206-216).
JOB_VARS: tuple[Var, ...] = (
    _v("job", "ALLOC", "uma_zalloc/uma_zfree(aiocb_zone)", "kaiocb", LOCK_PRIVATE, "Alloc", "L1601, L597",
       "never allocated / live / freed; only the owner of the pointer frees it"),
    _v("job", "FLAGS", "jobflags", "kaiocb", LOCK_KAIO, "bitset of the six KAIOCB_ flags", "L234-239",
       "QUEUEING|CANCELLED|CANCELLING|CHECKSYNC|CLEARED|FINISHED"),
    _v("job", "CANCEL_FN", "cancel_fn", "kaiocb", LOCK_KAIO, "CancelFn", "sys/aio.h",
       "NULL, aio_cancel_daemon_job or aio_cancel_sync"),
    _v("job", "HANDLE_FN", "handle_fn", "kaiocb", LOCK_JOB, "HandleFn", "L1811",
       "work function a daemon runs"),
    _v("job", "KSTATUS", "uaiocb._aiocb_private.status", "kaiocb", LOCK_IMMUTABLE, "-1 or bytes", "L1116",
       "kernel copy of the result; written unlocked by aio_complete", initial=-1),
    _v("job", "KERROR", "uaiocb._aiocb_private.error", "kaiocb", LOCK_IMMUTABLE, "Errno", "L1115",
       "kernel copy of the error; EINPROGRESS once accepted"),
    _v("job", "PENDING", "pending", "kaiocb", LOCK_KAIO, "0..jobs", "L1881, L992",
       "fsync only: earlier jobs still to finish"),
    _v("job", "SEQNO", "seqno", "kaiocb", LOCK_JOB, "-1 or 0..jobs", "L1695",
       "global submission number (jobseqno++)", initial=-1),
    _v("job", "BIO", "bp (bio in flight)", "kaiocb", LOCK_PRIVATE, "0 none, 1 in flight, 2 buffer released", "L1315, L2561",
       "phase of the direct bio path's completion actor"),
    _v("job", "G_COMPLETES", "-", "model", LOCK_GHOST, "0..2", "-", "aio_complete calls on this job (D18)"),
    _v("job", "G_NOTIFIES", "-", "model", LOCK_GHOST, "0..2", "-", "aio_bio_done_notify calls on this job (D8)"),
    _v("job", "G_POSTS", "-", "model", LOCK_GHOST, "0..2", "-", "signals/knotes posted for this job"),
    _v("job", "G_RUNDOWN_NOTE", "-", "model", LOCK_GHOST, "0/1", "-", "notified while KAIO_RUNDOWN was set"),
    _v("job", "G_RETURNED", "-", "model", LOCK_GHOST, "0..2", "-", "results handed out by aio_return/aio_waitcomplete"),
    _v("job", "G_CALLBACKS", "-", "model", LOCK_GHOST, "0..2", "-", "cancel callbacks started (D2)"),
    _v("job", "G_COMMITTED", "-", "model", LOCK_GHOST, "0/1", "-", "passed the commit step of aio_aqueue"),
    _v("job", "G_PREDS", "-", "model", LOCK_GHOST, "bitmask of job slots", "-",
       "fsync only: jobs counted in pending at submission (D17)"),
)

# User memory: one record per aiocb name (struct aiocb in the process).
AIOCB_VARS: tuple[Var, ...] = (
    _v("aiocb", "USTATUS", "aiocb._aiocb_private.status (user)", "user aiocb", LOCK_USER, "int", "L1591, L2026",
       "what store_status last wrote; 0 in a fresh aiocb"),
    _v("aiocb", "UERROR", "aiocb._aiocb_private.error (user)", "user aiocb", LOCK_USER, "Errno", "L1592, L2025",
       "what store_error last wrote; read back by the aio_error hack"),
)

# One record per lio_listio call (struct aioliojob, L255-267; all fields (a)).
LIO_VARS: tuple[Var, ...] = (
    _v("lio", "ALLOC", "uma_zalloc/uma_zfree(aiolio_zone)", "aioliojob", LOCK_PRIVATE, "Alloc", "L2347",
       "never allocated / live / freed"),
    _v("lio", "COUNT", "lioj_count", "aioliojob", LOCK_KAIO, "0..n+1", "L2348, L2406, L1764, L549, L2467",
       "committed members not yet freed, plus 1 while kern_lio_listio runs"),
    _v("lio", "FINISHED", "lioj_finished_count", "aioliojob", LOCK_KAIO, "0..n", "L951, L550",
       "members notified as done and not yet freed"),
    _v("lio", "LFLAGS", "lioj_flags", "aioliojob", LOCK_KAIO, "LIOJ_ bits", "L258-260", "SIGNAL|SIGNAL_POSTED|KEVENT_POSTED"),
    _v("lio", "SIGKIND", "lioj_signal.sigev_notify", "aioliojob", LOCK_KAIO, "Sigev", "L2356",
       "UNINIT when no sigevent was copied (OBS-8)"),
    _v("lio", "G_POSTS", "-", "model", LOCK_GHOST, "0..2", "-", "lio kevent/signal notifications posted"),
    _v("lio", "G_LATE", "-", "model", LOCK_GHOST, "0/1", "-", "a member was notified under KAIO_RUNDOWN"),
)

# The process's struct kaioinfo (L272-286).
KI_VARS: tuple[Var, ...] = (
    _v("ki", "EXISTS", "p->p_aioinfo != NULL", "proc", LOCK_PRIVATE, "0/1", "L449, L731",
       "created lazily by aio_init_aioinfo, destroyed by rundown"),
    _v("ki", "KFLAGS", "kaio_flags", "kaioinfo", LOCK_KAIO, "KAIO_RUNDOWN|KAIO_WAKEUP", "L274", ""),
    _v("ki", "COUNT", "kaio_count", "kaioinfo", LOCK_KAIO, "0..jobs", "L276", "committed, not yet freed jobs"),
    _v("ki", "ACTIVE", "kaio_active_count", "kaioinfo", LOCK_JOB, "0..daemons", "L275",
       "jobs between aio_selectjob and the daemon's decrement"),
    _v("ki", "BUFFERS", "kaio_buffer_count", "kaioinfo", LOCK_KAIO, "0..jobs", "L277", "mapped bio buffers in use"),
    _v("ki", "LEAKED", "kaio_mtx held forever", "kaioinfo", LOCK_GHOST, "0/1", "L2456",
       "RTEMS LIO_NOWAIT returns with kaio_mtx held (section 13 item 4)"),
)

# Lists, as ordered tuples of slot numbers.
LIST_VARS: tuple[Var, ...] = (
    _v("lists", "ALL", "kaio_all", "kaioinfo", LOCK_KAIO, "seq of jobs", "L278", "every committed, not-freed job"),
    _v("lists", "JOBQ", "kaio_jobqueue", "kaioinfo", LOCK_KAIO, "seq of jobs", "L281", "committed, not notified"),
    _v("lists", "DONE", "kaio_done", "kaioinfo", LOCK_KAIO, "seq of jobs", "L279", "notified, awaiting reaping"),
    _v("lists", "LIOS", "kaio_liojoblist", "kaioinfo", LOCK_KAIO, "seq of lios", "L280", "live lio jobs"),
    _v("lists", "SYNCQ", "kaio_syncqueue", "kaioinfo", LOCK_KAIO, "seq of jobs", "L282", "fsyncs waiting for predecessors"),
    _v("lists", "SYNCREADY", "kaio_syncready", "kaioinfo", LOCK_KAIO, "seq of jobs", "L283", "fsyncs ready for the sync task"),
    _v("lists", "AIOJOBS", "aio_jobs", "global", LOCK_JOB, "seq of jobs", "L311", "jobs waiting for a daemon"),
)

GLOBAL_VARS: tuple[Var, ...] = (
    _v("glob", "NQUEUE", "num_queue_count", "global", LOCK_ATOMIC, "0..jobs", "L300", "committed jobs system-wide"),
    _v("glob", "JOBSEQNO", "jobseqno", "global", LOCK_JOB, "0..jobs", "L318", "next seqno"),
    _v("glob", "TASK_PENDING", "kaio_sync_task pending", "taskqueue", LOCK_PRIVATE, "0/1", "L1002",
       "taskqueue_enqueue'd and not yet started"),
    _v("glob", "TASK_PC", "aio_schedule_fsync position", "taskqueue", LOCK_PRIVATE, "label", "L1016", "the sync task's program counter"),
    _v("glob", "TASK_JOB", "job (local of aio_schedule_fsync)", "taskqueue", LOCK_PRIVATE, "job or NIL", "L1026", "job popped from syncready",
       initial=-1),
)

# One record per user thread, plus one for the exiting thread (rundown).
ACTOR_VARS: tuple[Var, ...] = (
    _v("actor", "CALL", "-", "thread", LOCK_PRIVATE, "0..ncalls", "-", "index of the current call in the program"),
    _v("actor", "PC", "-", "thread", LOCK_PRIVATE, "label", "-", "next atomic step"),
    _v("actor", "A", "-", "thread", LOCK_PRIVATE, "int", "-", "local: current job / entry", initial=-1),
    _v("actor", "B", "-", "thread", LOCK_PRIVATE, "int", "-", "local: saved successor (jobn) / nagain", initial=-1),
    _v("actor", "C", "-", "thread", LOCK_PRIVATE, "int", "-", "local: cancelled / nerror"),
    _v("actor", "D", "-", "thread", LOCK_PRIVATE, "int", "-", "local: notcancelled / error"),
    _v("actor", "E", "-", "thread", LOCK_PRIVATE, "int", "-", "ghost: snapshot of in-progress jobs at call start"),
    _v("actor", "WOKEN", "-", "thread", LOCK_KAIO, "0/1", "-", "a wakeup() reached this sleeper"),
)

DAEMON_VARS: tuple[Var, ...] = (
    _v("daemon", "PC", "-", "aio_daemon", LOCK_PRIVATE, "label", "L1158", "daemon program counter"),
    _v("daemon", "JOB", "job (local of aio_daemon)", "aio_daemon", LOCK_PRIVATE, "job or NIL", "L1214", "job being serviced",
       initial=-1),
)

ALL_VARS: tuple[Var, ...] = JOB_VARS + AIOCB_VARS + LIO_VARS + KI_VARS + LIST_VARS + GLOBAL_VARS + ACTOR_VARS + DAEMON_VARS


class _Fields:
    """Index constants of one record, built from its Var table."""

    def __init__(self, vars_: tuple[Var, ...]):
        self.vars = vars_
        self.names = tuple(v.attr for v in vars_)
        for i, v in enumerate(vars_):
            setattr(self, v.attr, i)
        self.width = len(vars_)
        self.initial = tuple(v.initial for v in vars_)


J = _Fields(JOB_VARS)
U = _Fields(AIOCB_VARS)
L = _Fields(LIO_VARS)
K = _Fields(KI_VARS)
Q = _Fields(LIST_VARS)
G = _Fields(GLOBAL_VARS)
T = _Fields(ACTOR_VARS)
DM = _Fields(DAEMON_VARS)
