"""User-thread programs: where each call starts, and how a call returns."""

from __future__ import annotations

from .actions import pc
from .scenario import Call
from .state import View
from .variables import T

DONE = -1  # program counter of a thread that has finished its program

ENTRY = {
    "aio_read": "SUB_CHECK",
    "aio_write": "SUB_CHECK",
    "aio_mlock": "SUB_CHECK",
    "aio_fsync": "SUB_CHECK",
    "lio_listio": "LIO_OPEN",
    "aio_cancel": "CANCEL",
    "aio_error": "ERROR_FIND",
    "aio_return": "RETURN_FIND",
    "aio_suspend": "SUSPEND",
    "aio_waitcomplete": "WAITC",
    "exit": "RUN_MARK",
}

EXIT_CALL = Call("exit", "exit()", None)


def calls_of(v_or_sc, a: int) -> tuple[Call, ...]:
    sc = getattr(v_or_sc, "sc", v_or_sc)
    if a < len(sc.threads):
        return sc.threads[a].calls
    return (EXIT_CALL,)


def call_of(v: View, a: int) -> Call:
    return calls_of(v, a)[v.actors[a][T.CALL]]


def is_rundown(v: View, a: int) -> bool:
    return a == len(v.sc.threads)


def entry_pc(call: Call) -> int:
    return pc(ENTRY[call.kind])


def start_program(actor: list, calls: tuple[Call, ...]) -> None:
    actor[T.CALL] = 0
    actor[T.PC] = entry_pc(calls[0]) if calls else DONE


def finish_call(v: View, a: int, result: int, retval: object = None) -> None:
    """The system call returns ``result`` (0 or an errno); ``retval`` is td_retval[0]."""
    act = v.actors[a]
    call = call_of(v, a)
    v.emit("return", a, (act[T.CALL], call.kind, result), retval)
    if v.recording:
        v.observe(a, (call.text, int(result), retval if not isinstance(retval, int) else int(retval)))
    calls = calls_of(v, a)
    act[T.CALL] += 1
    act[T.A], act[T.B], act[T.C], act[T.D], act[T.E], act[T.WOKEN] = -1, -1, 0, 0, 0, 0
    act[T.PC] = entry_pc(calls[act[T.CALL]]) if act[T.CALL] < len(calls) else DONE
