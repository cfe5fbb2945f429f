"""Submission: aio_aqueue (L1567-1789), aio_queue_file (L1836-1903), aio_qbio (L1315),
aio_schedule (L1803) and kern_lio_listio (L2311-2487), one label per critical section."""

from __future__ import annotations

from .actions import label, pc
from .constants import (
    CANCELLING,
    CHECKSYNC,
    FINISHED,
    LIOJ_SIGNAL,
    QUEUEING,
    CancelFn,
    Errno,
    FileKind,
    HandleFn,
    Op,
    Sigev,
)
from .kernel import (
    aio_bio_done_notify,
    aio_complete_locked,
    aio_schedule_locked,
    aio_set_cancel_function_locked,
    complete_write,
    handler_for,
    lio_free,
    post_lio,
    sleep_on_aioinfo,
)
from .program import call_of, finish_call
from .scenario import BADFD
from .state import View
from .variables import G, J, K, L, Q, T, U


def _slot(v: View, a: int):
    call = call_of(v, a)
    entry = v.actors[a][T.A]
    return call, v.sc.slots[call.slots[entry if call.kind == "lio_listio" else 0]]


def aqueue_return(v: View, a: int, error: int) -> None:
    """aio_aqueue returned ``error``: the syscall returns it, or lio_listio counts it."""
    call = call_of(v, a)
    if call.kind != "lio_listio":
        finish_call(v, a, error)
        return
    act = v.actors[a]
    if error == Errno.EAGAIN:
        act[T.B] += 1
    elif error != 0:
        act[T.C] += 1
    lio_next_entry(v, a, act[T.A] + 1)


def _store_error(v: View, aiocb: str, error: int) -> None:
    v.aiocbs[v.sc.aiocb_index[aiocb]][U.UERROR] = error


def _free_private_job(v: View, j: int) -> None:
    v.jobs[j][J.ALLOC] = 2  # uma_zfree(aiocb_zone, job): never published


def aqueue_fail(v: View, a: int, j: int, error: int) -> None:
    """aqueue_fail L1781-1788: drop the file, free the job, store and return the error."""
    slot = v.sc.slots[j]
    _free_private_job(v, j)
    _store_error(v, slot.aiocb, error)
    aqueue_return(v, a, error)


def _fresh_job(v: View, j: int) -> None:
    from .variables import J as _J

    v.jobs[j] = list(_J.initial)
    v.jobs[j][J.ALLOC] = 1


@label("SUB_CHECK", actors="thread", fn="aio_aqueue", lines="L1581-1668", lock="none",
       guard="the thread's next call submits a request (or a lio entry)",
       effect="create kaioinfo; store (status,error)=(-1,0); limit check (EAGAIN); allocate the job; "
              "validate nbytes, sigevent, opcode, fd, offset (errors stored as the seed does)")
def sub_check(v: View, a: int, _c) -> None:
    call, slot = _slot(v, a)
    j = slot.index
    if call.kind == "aio_fsync" and call.fsync_op != "O_SYNC":
        finish_call(v, a, Errno.EINVAL)  # kern_aio_fsync L2716: aiocb untouched
        return
    if not v.rtems and not v.ki[K.EXISTS]:
        v.ki[K.EXISTS] = 1  # aio_init_aioinfo L449
        v.emit("ki_created")
    u = v.aiocbs[v.sc.aiocb_index[slot.aiocb]]
    u[U.USTATUS], u[U.UERROR] = -1, 0
    if not v.ki[K.EXISTS]:
        v.emit("nullki", a, "aio_aqueue dereferences a NULL aio_proc_p_aioinfo (L1596)")
        return
    lim = v.sc.limits
    if v.glob[G.NQUEUE] >= lim.max_queue_count or v.ki[K.COUNT] >= lim.max_aio_queue_per_proc:
        u[U.UERROR] = Errno.EAGAIN
        aqueue_return(v, a, Errno.EAGAIN)
        return
    _fresh_job(v, j)
    acb = v.sc.aiocbs[slot.aiocb]
    if acb.nbytes_too_big:
        _free_private_job(v, j)
        aqueue_return(v, a, Errno.EINVAL)  # OBS-1: not stored
        return
    if not v.rtems:
        if acb.sigev == Sigev.INVALID:
            _free_private_job(v, j)
            u[U.UERROR] = Errno.EINVAL
            aqueue_return(v, a, Errno.EINVAL)
            return
        if acb.sigev == Sigev.SIGNAL and acb.invalid_signo:
            _free_private_job(v, j)
            aqueue_return(v, a, Errno.EINVAL)  # OBS-1: not stored
            return
    op = slot.op
    if op == Op.LIO_INVALID:
        err = Errno.EINVAL
    elif op == Op.LIO_MLOCK:
        err = 0
    elif slot.fd == BADFD:
        err = Errno.EBADF
    else:
        err = 0
    if err:
        _free_private_job(v, j)
        u[U.UERROR] = err
        aqueue_return(v, a, err)
        return
    kind = v.sc.files.get(slot.fd)
    if op == Op.LIO_SYNC and kind == FileKind.PIPE:
        aqueue_fail(v, a, j, Errno.EINVAL)
        return
    if op in (Op.LIO_READ, Op.LIO_WRITE) and acb.offset < 0 and kind != FileKind.DISK:
        aqueue_fail(v, a, j, Errno.EINVAL)
        return
    v.actors[a][T.PC] = pc("SUB_NUMBER")


def _route(v: View, slot) -> str | int:
    """aio_aqueue L1747-1754 and aio_queue_file L1847-1871: the backend, or an error."""
    op = slot.op
    if op == Op.LIO_MLOCK:
        return "SUB_SCHED"
    kind = v.sc.files.get(slot.fd)
    acb = v.sc.aiocbs[slot.aiocb]
    if op in (Op.LIO_READ, Op.LIO_WRITE) and kind == FileKind.DISK and acb.nbytes % 512 == 0:
        return "SUB_QBIO"  # aio_qbio eligible: VCHR, D_DISK, aligned
    safe = kind == FileKind.REGULAR
    if not (safe or v.sc.limits.enable_aio_unsafe):
        return Errno.EOPNOTSUPP
    if op in (Op.LIO_READ, Op.LIO_WRITE):
        return "SUB_SCHED"
    if op == Op.LIO_SYNC:
        return "SUB_SYNC"
    return Errno.EINVAL


@label("SUB_NUMBER", actors="thread", fn="aio_aqueue", lines="L1680-1746", lock="job",
       guard="the request passed validation",
       effect="seqno = jobseqno++; LIO_NOP returns 0; RTEMS fails EINVAL (stored); store EINPROGRESS; "
              "jobflags = QUEUEING; choose the backend (EOPNOTSUPP for unsafe files)")
def sub_number(v: View, a: int, _c) -> None:
    call, slot = _slot(v, a)
    j = slot.index
    v.jobs[j][J.SEQNO] = v.glob[G.JOBSEQNO]
    v.glob[G.JOBSEQNO] += 1
    if slot.op == Op.LIO_NOP:
        _free_private_job(v, j)
        aqueue_return(v, a, 0)
        return
    if v.rtems:
        aqueue_fail(v, a, j, Errno.EINVAL)  # L1697-1705
        return
    _store_error(v, slot.aiocb, Errno.EINPROGRESS)
    job = v.jobs[j]
    job[J.KERROR] = Errno.EINPROGRESS
    job[J.FLAGS] = QUEUEING
    route = _route(v, slot)
    if isinstance(route, str):
        v.actors[a][T.PC] = pc(route)
    else:
        aqueue_fail(v, a, j, route)


@label("SUB_SCHED", actors="thread", fn="aio_schedule", lines="L1803-1816", lock="job>kaio",
       guard="the backend is a daemon (read/write on a safe file, mlock, or an fsync with nothing pending)",
       effect="aio_set_cancel_function(aio_cancel_daemon_job); append to aio_jobs and kick a daemon; "
              "if CANCELLED, unlock and aio_cancel (ECANCELED)")
def sub_sched(v: View, a: int, _c) -> None:
    _call, slot = _slot(v, a)
    j = slot.index
    if aio_schedule_locked(v, j, handler_for(slot.op)):
        v.actors[a][T.PC] = pc("SUB_COMMIT")
    else:
        complete_write(v, j, -1, Errno.ECANCELED)
        v.actors[a][T.PC] = pc("SUB_CANCEL")


@label("SUB_CANCEL", actors="thread", fn="aio_cancel", lines="L1095-1099, L1110-1135", lock="kaio",
       guard="setting the cancel function failed during submission",
       effect="aio_complete(job, -1, ECANCELED): only FINISHED is set while QUEUEING")
def sub_cancel(v: View, a: int, _c) -> None:
    _call, slot = _slot(v, a)
    aio_complete_locked(v, slot.index)
    v.actors[a][T.PC] = pc("SUB_COMMIT")


def record_fsync_predecessors(v: View, j: int) -> None:
    """Ghost for D17: the jobs an fsync must wait for, as section 8 states the intent."""
    slot = v.sc.slots[j]
    for j2 in v.lists[Q.JOBQ]:
        s2 = v.sc.slots[j2]
        if s2.fd == slot.fd and s2.op != Op.LIO_SYNC and v.jobs[j2][J.SEQNO] < v.jobs[j][J.SEQNO]:
            v.jobs[j][J.G_PREDS] |= 1 << j2


@label("SUB_SYNC", actors="thread", fn="aio_queue_file", lines="L1873-1898", lock="kaio",
       guard="an fsync on a safe file",
       effect="mark earlier same-file non-sync jobs on kaio_jobqueue CHECKSYNC and count them in pending; "
              "pending>0: install aio_cancel_sync and park on kaio_syncqueue; else aio_schedule after unlock")
def sub_sync(v: View, a: int, _c) -> None:
    _call, slot = _slot(v, a)
    j = slot.index
    job = v.jobs[j]
    record_fsync_predecessors(v, j)
    for j2 in v.lists[Q.JOBQ]:
        s2 = v.sc.slots[j2]
        if s2.fd == slot.fd and s2.op != Op.LIO_SYNC and v.jobs[j2][J.SEQNO] < job[J.SEQNO]:
            v.jobs[j2][J.FLAGS] |= CHECKSYNC
            job[J.PENDING] += 1
    if job[J.PENDING] != 0:
        if not aio_set_cancel_function_locked(v, j, CancelFn.SYNC):
            complete_write(v, j, -1, Errno.ECANCELED)
            v.actors[a][T.PC] = pc("SUB_CANCEL")
            return
        v.append(Q.SYNCQ, j)
        v.emit("fsync_parked", j)
        v.actors[a][T.PC] = pc("SUB_COMMIT")
        return
    v.actors[a][T.PC] = pc("SUB_SCHED")


@label("SUB_QBIO", actors="thread", fn="aio_qbio", lines="L1315-1441", lock="kaio",
       guard="an aligned read/write on a disk device",
       effect="kaio_buffer_count >= max_buf_aio: EAGAIN; else kaio_buffer_count++ and start the bio "
              "(no cancel function is ever installed)")
def sub_qbio(v: View, a: int, _c) -> None:
    _call, slot = _slot(v, a)
    j = slot.index
    if v.ki[K.BUFFERS] >= v.sc.limits.max_buf_aio:
        aqueue_fail(v, a, j, Errno.EAGAIN)
        return
    v.ki[K.BUFFERS] += 1
    v.jobs[j][J.BIO] = 1
    v.emit("bio_start", j)
    v.actors[a][T.PC] = pc("SUB_COMMIT")


@label("SUB_COMMIT", actors="thread", fn="aio_aqueue", lines="L1759-1779", lock="kaio",
       guard="the backend accepted the job",
       effect="clear QUEUEING; append to kaio_all; kaio_count++, lioj_count++, num_queue_count++; "
              "if already FINISHED run aio_bio_done_notify, else append to kaio_jobqueue; return 0")
def sub_commit(v: View, a: int, _c) -> None:
    _call, slot = _slot(v, a)
    j = slot.index
    if not v.touch(j, "aio_aqueue commit"):
        return
    job = v.jobs[j]
    job[J.FLAGS] &= ~QUEUEING
    v.append(Q.ALL, j)
    v.ki[K.COUNT] += 1
    if slot.lio >= 0:
        if v.lios[slot.lio][L.ALLOC] != 1:
            v.emit("uaf", j, f"lio {slot.lio} freed before its member committed")
            return
        v.lios[slot.lio][L.COUNT] += 1
    v.glob[G.NQUEUE] += 1
    job[J.G_COMMITTED] = 1
    v.emit("commit", j)
    if job[J.FLAGS] & FINISHED:
        v.emit("finish_deferred", j, "QUEUEING")
        aio_bio_done_notify(v, j)
    else:
        v.append(Q.JOBQ, j)
    aqueue_return(v, a, 0)


# --- lio_listio ---------------------------------------------------------------------------

def lio_next_entry(v: View, a: int, start: int) -> None:
    call = call_of(v, a)
    act = v.actors[a]
    for e in range(start, len(call.entries)):
        if call.slots[e] >= 0:
            act[T.A] = e
            act[T.PC] = pc("SUB_CHECK")
            return
    act[T.A] = len(call.entries)
    act[T.PC] = pc("LIO_CLOSE")


@label("LIO_OPEN", actors="thread", fn="kern_lio_listio", lines="L2320-2407", lock="kaio",
       guard="the thread's next call is lio_listio",
       effect="validate mode and nent; allocate the lio; register its sigevent (LIO_NOWAIT only); "
              "append to kaio_liojoblist with lioj_count = 1 (the extra reference)")
def lio_open(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    act = v.actors[a]
    if call.mode not in ("LIO_WAIT", "LIO_NOWAIT"):
        finish_call(v, a, Errno.EINVAL)
        return
    if len(call.entries) > v.sc.limits.max_aio_queue_per_proc:
        finish_call(v, a, Errno.EINVAL)
        return
    if not v.ki[K.EXISTS]:
        v.ki[K.EXISTS] = 1
        v.emit("ki_created")
    lj = call.lio
    lio = v.lios[lj]
    lio[:] = list(L.initial)
    lio[L.ALLOC] = 1
    if call.sig is not None and call.mode == "LIO_NOWAIT":
        if v.rtems:
            v.emit("lio_leak", lj, "RTEMS returns EINVAL with the lio allocated (L2352)")
            finish_call(v, a, Errno.EINVAL)
            return
        if call.sig == Sigev.KEVENT:
            lio[L.SIGKIND] = Sigev.KEVENT
        elif call.sig == Sigev.NONE:
            lio[L.SIGKIND] = Sigev.NONE
        elif call.sig == Sigev.SIGNAL:
            lio[L.SIGKIND] = Sigev.SIGNAL
            lio[L.LFLAGS] |= LIOJ_SIGNAL
        else:
            lio[L.ALLOC] = 2
            finish_call(v, a, Errno.EINVAL)
            return
    v.append(Q.LIOS, lj)
    lio[L.COUNT] = 1
    act[T.B], act[T.C] = 0, 0
    lio_next_entry(v, a, 0)


def lio_close_tail(v: View, a: int, error: int) -> None:
    """kern_lio_listio L2462-2486: drop the extra reference, maybe free the lio, return."""
    call = call_of(v, a)
    act = v.actors[a]
    lj = call.lio
    lio = v.lios[lj]
    lio[L.COUNT] -= 1
    if lio[L.COUNT] == 0:
        v.remove(Q.LIOS, lj)
        lio_free(v, lj, "kern_lio_listio")
    if act[T.C]:
        result = Errno.EIO
    elif act[T.B]:
        result = Errno.EAGAIN
    else:
        result = error
    if call.mode == "LIO_WAIT":
        v.emit("lio_wait_return", lj, result)
    finish_call(v, a, result)


def _lio_wait_check(v: View, a: int) -> None:
    lj = call_of(v, a).lio
    lio = v.lios[lj]
    if lio[L.COUNT] - 1 != lio[L.FINISHED]:
        sleep_on_aioinfo(v, a, "LIO_SLEEP")
        return
    lio_close_tail(v, a, 0)


@label("LIO_CLOSE", actors="thread", fn="kern_lio_listio", lines="L2428-2461", lock="kaio",
       guard="every entry has been through aio_aqueue",
       effect="LIO_WAIT: sleep until lioj_count-1 == lioj_finished_count; LIO_NOWAIT: post the lio "
              "notification if everything already finished (RTEMS: return EINVAL holding kaio_mtx)")
def lio_close(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    lj = call.lio
    if v.lios[lj][L.ALLOC] != 1:
        v.emit("uaf", -1, f"lio {lj} freed before kern_lio_listio finished")
        return
    if call.mode == "LIO_WAIT":
        _lio_wait_check(v, a)
        return
    lio = v.lios[lj]
    if lio[L.COUNT] - 1 == lio[L.FINISHED]:
        if v.rtems:
            v.ki[K.LEAKED] = 1
            v.emit("lock_leak", lj, "RTEMS LIO_NOWAIT returns EINVAL with kaio_mtx held (L2443)")
            finish_call(v, a, Errno.EINVAL)
            return
        post_lio(v, lj)
    lio_close_tail(v, a, 0)


def _sleep_choices(s, a: int, model, timeout: bool, pcatch: bool) -> list:
    from .state import S_ACTORS

    out = []
    if s[S_ACTORS][a][T.WOKEN]:
        out.append("wakeup")
    if timeout:
        out.append("timeout")
    if pcatch and model.sc.signals:
        out.append("signal")
    return out


@label("LIO_SLEEP", actors="thread", fn="kern_lio_listio", lines="L2431-2441", lock="kaio", sleeps=True,
       guard="woken by aio_bio_done_notify, or a signal (PCATCH) when the scenario allows signals",
       effect="re-take kaio and re-check; a signal returns EINTR",
       choices=lambda s, a, m: _sleep_choices(s, a, m, timeout=False, pcatch=True))
def lio_sleep(v: View, a: int, why) -> None:
    v.actors[a][T.WOKEN] = 0
    if why == "signal":
        lio_close_tail(v, a, Errno.EINTR)
        return
    _lio_wait_check(v, a)


SLEEP_CHOICES = _sleep_choices
__all__ = ["aqueue_return", "lio_next_entry", "SLEEP_CHOICES", "CANCELLING", "HandleFn"]
