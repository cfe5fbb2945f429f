"""Calls that look at results: kern_aio_return (L1975), kern_aio_waitcomplete (L2610),
kern_aio_suspend (L2029) and kern_aio_error (L2180)."""

from __future__ import annotations

from .actions import label, pc
from .constants import FINISHED, Errno
from .kernel import aio_free_entry_locked, aio_free_entry_tail, sleep_on_aioinfo
from .program import call_of, finish_call
from .state import View
from .submit import SLEEP_CHOICES
from .variables import J, K, Q, T, U


def _find(v: View, q: int, aiocb: str) -> int:
    for j in v.lists[q]:
        if v.sc.slots[j].aiocb == aiocb:
            return j
    return -1


def _hand_out(v: View, a: int, j: int) -> None:
    """The result leaves the kernel: aio_free_entry, then FREE_TAIL stores it to the aiocb."""
    job = v.jobs[j]
    v.kassert("A6", bool(job[J.FLAGS] & FINISHED), f"job {j} on kaio_done is not FINISHED")
    job[J.G_RETURNED] += 1
    v.emit("handout", j, job[J.KSTATUS], job[J.KERROR])
    aio_free_entry_locked(v, j)
    v.actors[a][T.A] = j
    v.actors[a][T.PC] = pc("FREE_TAIL")


@label("RETURN_FIND", actors="thread", fn="kern_aio_return", lines="L1975-2006", lock="kaio",
       guard="the thread's next call is aio_return",
       effect="no kaioinfo: EINVAL; search kaio_done only; found: retval = status and aio_free_entry "
              "(which drops kaio); not found: EINVAL")
def return_find(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    if not v.ki[K.EXISTS]:
        finish_call(v, a, Errno.EINVAL)
        return
    j = _find(v, Q.DONE, call.aiocb)
    if j < 0:
        finish_call(v, a, Errno.EINVAL)
        return
    _hand_out(v, a, j)


@label("FREE_TAIL", actors="thread", fn="aio_free_entry", lines="L569-599, L2007-2010, L2685-2689",
       lock="none", guard="aio_free_entry dropped kaio inside aio_return / aio_waitcomplete",
       effect="fdrop, crfree, free the job; store error and status to the user aiocb; return the job's error")
def free_tail(v: View, a: int, _c) -> None:
    j = v.actors[a][T.A]
    job = v.jobs[j]
    status, error = job[J.KSTATUS], job[J.KERROR]
    aio_free_entry_tail(v, j)
    u = v.aiocbs[v.sc.aiocb_index[v.sc.slots[j].aiocb]]
    u[U.UERROR], u[U.USTATUS] = error, status
    finish_call(v, a, error, (status, v.sc.slots[j].aiocb))


def _waitc_loop(v: View, a: int) -> None:
    call = call_of(v, a)
    done = v.lists[Q.DONE]
    if done:
        _hand_out(v, a, done[0])
        return
    if call.timeout == "poll":
        finish_call(v, a, Errno.EAGAIN)  # EWOULDBLOCK
        return
    sleep_on_aioinfo(v, a, "WAITC_SLEEP")


@label("WAITC", actors="thread", fn="kern_aio_waitcomplete", lines="L2610-2672", lock="kaio",
       guard="the thread's next call is aio_waitcomplete",
       effect="store NULL to *aiocbp; validate the timeout; create kaioinfo; take the head of kaio_done, "
              "or poll (EWOULDBLOCK), or set KAIO_WAKEUP and sleep")
def waitc(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    if call.timeout == "invalid":
        finish_call(v, a, Errno.EINVAL)
        return
    if not v.ki[K.EXISTS]:
        v.ki[K.EXISTS] = 1
        v.emit("ki_created")
    _waitc_loop(v, a)


def _timed_call_choices(s, a, m):
    """A PCATCH sleep whose timeout is the call's own (aio_waitcomplete, aio_suspend)."""
    from .state import S_ACTORS

    call = m.sc.threads[a].calls[s[S_ACTORS][a][T.CALL]]
    return SLEEP_CHOICES(s, a, m, timeout=call.timeout == "timed", pcatch=True)


@label("WAITC_SLEEP", actors="thread", fn="kern_aio_waitcomplete", lines="L2658-2672", lock="kaio", sleeps=True,
       guard="woken, timed out (timeout given), or signalled (scenario allows signals)",
       effect="timeout: EWOULDBLOCK; signal: EINTR (restart the call if no timeout); else loop",
       choices=_timed_call_choices)
def waitc_sleep(v: View, a: int, why) -> None:
    call = call_of(v, a)
    v.actors[a][T.WOKEN] = 0
    if why == "timeout":
        finish_call(v, a, Errno.EAGAIN)
        return
    if why == "signal":
        if call.timeout == "timed":
            finish_call(v, a, Errno.EINTR)
            return
        # ERESTART with timo == 0: the system call is restarted; it stores NULL and waits again
    _waitc_loop(v, a)


def _suspend_loop(v: View, a: int) -> None:
    call = call_of(v, a)
    targets = set(t for t in call.targets if t is not None)
    first = -1
    for j in v.lists[Q.ALL]:
        if v.sc.slots[j].aiocb in targets:
            if first < 0:
                first = j
            if v.jobs[j][J.FLAGS] & FINISHED:
                v.emit("suspend_return", a, 0, j)
                finish_call(v, a, 0)
                return
    if first < 0:
        v.emit("suspend_return", a, 0, -1)
        finish_call(v, a, 0)
        return
    sleep_on_aioinfo(v, a, "SUSPEND_SLEEP")


@label("SUSPEND", actors="thread", fn="kern_aio_suspend", lines="L2029-2075", lock="kaio",
       guard="the thread's next call is aio_suspend",
       effect="validate the timeout; no kaioinfo: EAGAIN; nent == 0: 0; return 0 if a listed job on kaio_all "
              "is FINISHED or none is on kaio_all; else set KAIO_WAKEUP and sleep")
def suspend(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    if call.timeout == "invalid":
        finish_call(v, a, Errno.EINVAL)
        return
    if not v.ki[K.EXISTS]:
        finish_call(v, a, Errno.EAGAIN)
        return
    if not call.targets:
        finish_call(v, a, 0)
        return
    _suspend_loop(v, a)


@label("SUSPEND_SLEEP", actors="thread", fn="kern_aio_suspend", lines="L2062-2072", lock="kaio", sleeps=True,
       guard="woken, timed out (timeout given), or signalled (scenario allows signals)",
       effect="timeout: EAGAIN; signal: EINTR; else scan again",
       choices=_timed_call_choices)
def suspend_sleep(v: View, a: int, why) -> None:
    v.actors[a][T.WOKEN] = 0
    if why == "timeout":
        finish_call(v, a, Errno.EAGAIN)
        return
    if why == "signal":
        finish_call(v, a, Errno.EINTR)
        return
    _suspend_loop(v, a)


@label("ERROR_FIND", actors="thread", fn="kern_aio_error", lines="L2180-2205", lock="kaio",
       guard="the thread's next call is aio_error",
       effect="no kaioinfo: EINVAL; a job on kaio_all: its error if FINISHED else EINPROGRESS; "
              "else read the user aiocb after unlocking")
def error_find(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    if not v.ki[K.EXISTS]:
        finish_call(v, a, 0, Errno.EINVAL)
        return
    j = _find(v, Q.ALL, call.aiocb)
    if j >= 0:
        job = v.jobs[j]
        finish_call(v, a, 0, job[J.KERROR] if job[J.FLAGS] & FINISHED else Errno.EINPROGRESS)
        return
    v.actors[a][T.PC] = pc("ERROR_USER")


@label("ERROR_USER", actors="thread", fn="kern_aio_error", lines="L2206-2212", lock="none",
       guard="the aiocb is not on kaio_all",
       effect="the hack for failure of aio_aqueue: status == -1 gives the stored error, else EINVAL")
def error_user(v: View, a: int, _c) -> None:
    call = call_of(v, a)
    u = v.aiocbs[v.sc.aiocb_index[call.aiocb]]
    finish_call(v, a, 0, u[U.UERROR] if u[U.USTATUS] == -1 else Errno.EINVAL)
