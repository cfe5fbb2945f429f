"""What an implementation did on a scenario, in the spec's vocabulary.

The spec judges a run by its *observation* (``aiospec.spec.observe``): per user thread, the
tuple of ``(call text, result errno, retval)`` its calls returned, with FreeBSD constants.  Real
implementations speak other dialects (glibc: ``AIO_CANCELED == 0``, Linux errno numbers,
``LIO_WAIT == 0``), so every adapter translates its results here before the verdict; the
verdict then compares like with like and never needs to know which implementation ran.

Retval shapes, as ``spec.program.finish_call`` records them:

- submissions, ``lio_listio``, ``aio_suspend``: ``None``
- ``aio_cancel``: ``AIO_CANCELED`` (1) / ``AIO_NOTCANCELED`` (2) / ``AIO_ALLDONE`` (3), or ``None``
  with an errno (EBADF)
- ``aio_error``: the request's error as an errno (EINPROGRESS, ECANCELED, 0, ...), result 0
- ``aio_return`` / ``aio_waitcomplete``: ``(status, aiocb name)`` when a request was reaped
  (result = the request's error, so a failed request gives ``(error, (-1, name))``); ``None`` when
  nothing was reaped (result EINVAL / EAGAIN)
"""

from __future__ import annotations

import errno as _host_errno
from dataclasses import dataclass, field

from ..spec.constants import AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, CANCEL_RESULT_NAMES, Errno, Op

CallResult = tuple[str, int, object]  # (call text, result errno (FreeBSD), retval)
ThreadObservation = tuple[CallResult, ...]
Observation = tuple[ThreadObservation, ...]  # one entry per scenario thread, in scenario order

# An errno the spec does not know is kept distinct from every FreeBSD value: HOST_ERRNO_BASE + host value.
HOST_ERRNO_BASE = 10_000

# glibc <aio.h> on Linux (checked against the headers by tests/test_conformance_constants.py when a C
# compiler is present).  The spec (FreeBSD <sys/aio.h>) numbers them differently.
GLIBC_AIO_CANCELED = 0
GLIBC_AIO_NOTCANCELED = 1
GLIBC_AIO_ALLDONE = 2
GLIBC_LIO_READ = 0
GLIBC_LIO_WRITE = 1
GLIBC_LIO_NOP = 2
GLIBC_LIO_WAIT = 0
GLIBC_LIO_NOWAIT = 1
GLIBC_SIGEV_SIGNAL = 0
GLIBC_SIGEV_NONE = 1

_GLIBC_CANCEL = {GLIBC_AIO_CANCELED: AIO_CANCELED, GLIBC_AIO_NOTCANCELED: AIO_NOTCANCELED,
                 GLIBC_AIO_ALLDONE: AIO_ALLDONE}
GLIBC_LIO_MODES = {"LIO_WAIT": GLIBC_LIO_WAIT, "LIO_NOWAIT": GLIBC_LIO_NOWAIT}
GLIBC_LIO_OPS = {Op.LIO_READ: GLIBC_LIO_READ, Op.LIO_WRITE: GLIBC_LIO_WRITE, Op.LIO_NOP: GLIBC_LIO_NOP}


def spec_errno(host: int) -> int:
    """A host (Linux) errno value in the spec's FreeBSD numbering.

    Mapped by *name* (EINPROGRESS 115 -> 36, ECANCELED 125 -> 85, EAGAIN/EWOULDBLOCK 11 -> 35),
    because the meaning is what the spec compares.  An errno the spec has no name for becomes
    ``HOST_ERRNO_BASE + host`` so it can never be mistaken for an unrelated FreeBSD value.
    """
    if host == 0:
        return 0
    name = _host_errno.errorcode.get(host)
    if name == "EWOULDBLOCK":
        name = "EAGAIN"
    if name in Errno.__members__ and name != "ERESTART":
        return int(Errno[name])
    return HOST_ERRNO_BASE + host


def glibc_cancel_result(value: int) -> int:
    """glibc's ``aio_cancel`` return value (0/1/2) as the spec's AIO_* value (1/2/3).

    Raises ValueError for anything else (-1 is an error and must be handled with errno first).
    """
    try:
        return _GLIBC_CANCEL[value]
    except KeyError:
        raise ValueError(f"aio_cancel returned {value}, not a glibc AIO_* value") from None


def cancel_from_future(cancelled: bool, running: bool) -> int:
    """``concurrent.futures.Future.cancel()`` as an aio_cancel result for one request.

    ``cancel()`` True means the work will never run: AIO_CANCELED.  False while it runs: the
    request is in progress, AIO_NOTCANCELED.  False because it finished: AIO_ALLDONE.
    """
    if cancelled:
        return AIO_CANCELED
    return AIO_NOTCANCELED if running else AIO_ALLDONE


def combine_cancel(results: list[int]) -> int:
    """The result of an fd-wide cancel from per-request results, with FreeBSD's precedence
    (any NOTCANCELED wins, then any CANCELED, else ALLDONE), as ``sys_aio_cancel`` computes it."""
    if AIO_NOTCANCELED in results:
        return AIO_NOTCANCELED
    if AIO_CANCELED in results:
        return AIO_CANCELED
    return AIO_ALLDONE


def errno_name(e: int) -> str:
    """A readable name for a spec errno value, including host-only errnos."""
    if e >= HOST_ERRNO_BASE:
        return f"{_host_errno.errorcode.get(e - HOST_ERRNO_BASE, str(e - HOST_ERRNO_BASE))} (host errno)"
    try:
        return "OK" if e == 0 else Errno(e).name
    except ValueError:
        return str(e)


def format_result(kind: str, res: int, ret: object) -> str:
    """One call's result in words: ``EINVAL``, ``OK, AIO_ALLDONE``, ``OK, status 512``; for
    aio_error the error code it returned (``0``, ``EINPROGRESS``)."""
    if ret is None:
        return errno_name(res)
    if kind == "aio_cancel" and isinstance(ret, int):
        return f"{errno_name(res)}, {CANCEL_RESULT_NAMES.get(ret, str(ret))}"
    if kind == "aio_error" and isinstance(ret, int):
        return "0" if ret == 0 else errno_name(ret)  # the request's error code
    if isinstance(ret, tuple) and len(ret) == 2:
        status, name = ret
        if kind == "aio_waitcomplete":
            return f"{errno_name(res)}, reaped {name} with status {status}"
        return f"{errno_name(res)}, status {status}"
    return f"{errno_name(res)}, {ret!r}"


def call_kind(text: str) -> str:
    """``aio_return`` from ``aio_return(a)``."""
    return text.split("(", 1)[0].strip()


def format_observation(thread_names: list[str], obs: Observation) -> str:
    """Multi-line text: one line per thread, ``call -> result`` for each call."""
    lines = []
    for name, hist in zip(thread_names, obs):
        parts = [f"{text} -> {format_result(call_kind(text), res, ret)}" for text, res, ret in hist]
        lines.append(f"{name}: " + "; ".join(parts) if parts else f"{name}: (no call returned)")
    return "\n".join(lines)


@dataclass
class Notifications:
    """The completion notifications an implementation delivered by the end of a run (process
    exit included), counted by the adapter: per aiocb name (every request submitted with that
    aiocb whose ``sigev`` asked for one) and per ``lio_listio(LIO_NOWAIT, ..., sig)`` call (by its
    ``Call.lio`` slot).  A name or slot that is missing got none."""

    aiocbs: dict[str, int] = field(default_factory=dict)
    lists: dict[int, int] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """One run of one scenario on one implementation.

    ``status``: "ok" (every thread returned from every call), "timeout" (a call or the whole
    run did not finish in time), "crash" (the process running the implementation died),
    "error" (the adapter failed: a bug to fix, not a verdict on the implementation),
    "unsupported" (the scenario needs a call, file kind or notification the implementation lacks).
    ``observation`` holds what returned, even for a partial run.  ``initial`` / ``final`` are
    the bytes of each regular file before and after the run (process exit included), for the
    cancel-honesty and data-integrity checks.  ``reads`` holds the bytes each completed read
    handed back, keyed by the ``(thread index, call index)`` of the ``aio_return`` /
    ``aio_waitcomplete`` that reaped it (its first ``status`` bytes), for ``read_integrity``.
    ``notifications`` counts the notifications delivered (None: the adapter observed none,
    which is only right when the scenario asks for none).
    """

    status: str
    observation: Observation
    detail: str = ""
    initial: dict[str, bytes] = field(default_factory=dict)
    final: dict[str, bytes] = field(default_factory=dict)
    reads: dict[tuple[int, int], bytes] = field(default_factory=dict)
    notifications: Notifications | None = None
