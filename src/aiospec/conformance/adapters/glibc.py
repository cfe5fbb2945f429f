"""glibc's POSIX AIO (``libc.so.6``) through ctypes, each run in a child process.

glibc implements AIO in userland with a pool of threads that run ``pread``/``pwrite``/``fsync``
(one queue per descriptor, so requests on one fd run one at a time in priority order).  Its
constants differ from FreeBSD's (``AIO_CANCELED`` is 0, ``LIO_WAIT`` is 0, ``LIO_READ`` is 0,
Linux errno numbers); the driver maps them to the spec's meanings (``observation.py``).

Runs happen in a child process because a C library that writes into Python-owned memory can take
the process down (a signal interrupting ``lio_listio(LIO_WAIT)`` makes glibc crash later): a crash
or a hang is then a verdict on glibc, not the end of the harness.

Result mapping: ``aio_return`` returns the request's value and does not set errno, so a result
of -1 is reported with the request's error (``__error_code``), as FreeBSD's ``aio_return`` reports
it (result = the error, retval = (-1, aiocb)).  ``aio_waitcomplete`` and ``aio_mlock`` are FreeBSD
extensions glibc lacks: scenarios using them are skipped.

Notifications: an aiocb with ``sigev = "SIGNAL"`` gets ``SIGEV_SIGNAL`` with a real-time signal of
its own (``SIGRTMIN + 1 + its index``), a ``lio_listio(..., SIGNAL)`` list sigevent another one
(after the aiocbs' signals), so the signal number says which request or list was notified
(Python cannot read ``si_value``).  The driver blocks those signals before any thread starts
(glibc's helper threads block every signal), so glibc's ``rt_sigqueueinfo`` leaves them pending
on the process; at process exit, once no request is in progress, it counts them with
``sigtimedwait`` (real-time signals queue, so each one counts).  glibc sets a request's result
and sends its signal in one critical section of ``__aio_requests_mutex``, so a request that is
no longer EINPROGRESS has sent its signal.  KEVENT: unsupported (no kqueue).  A reaped read hands
back the bytes of its buffer.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections import Counter

from ...spec.constants import Op, Sigev
from ...spec.scenario import Call, Scenario
from ..observation import (
    GLIBC_LIO_MODES,
    GLIBC_LIO_OPS,
    GLIBC_SIGEV_NONE,
    GLIBC_SIGEV_SIGNAL,
    Notifications,
    glibc_cancel_result,
    spec_errno,
)
from .base import TIMED, Driver, DriverAdapter, Unsupported, Workspace

LIBC_NAME = "libc.so.6"


class Sigevent(ctypes.Structure):
    """``struct sigevent`` on x86_64 Linux: 64 bytes, sigev_notify at offset 12."""

    _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int), ("sigev_notify", ctypes.c_int),
                ("_sigev_un", ctypes.c_byte * 48)]


class GlibcAiocb(ctypes.Structure):
    """``struct aiocb`` of x86_64 glibc (<aio.h>; 64-bit off_t): 168 bytes, aio_buf at 16,
    aio_sigevent at 32, __error_code at 112, __return_value at 120, aio_offset at 128."""

    _fields_ = [("aio_fildes", ctypes.c_int), ("aio_lio_opcode", ctypes.c_int), ("aio_reqprio", ctypes.c_int),
                ("aio_buf", ctypes.c_void_p), ("aio_nbytes", ctypes.c_size_t), ("aio_sigevent", Sigevent),
                ("_next_prio", ctypes.c_void_p), ("_abs_prio", ctypes.c_int), ("_policy", ctypes.c_int),
                ("error_code", ctypes.c_int), ("return_value", ctypes.c_ssize_t),
                ("aio_offset", ctypes.c_int64), ("_glibc_reserved", ctypes.c_char * 32)]


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


assert ctypes.sizeof(GlibcAiocb) == 168 and GlibcAiocb.aio_offset.offset == 128, "struct aiocb layout (x86_64 only)"
assert ctypes.sizeof(Sigevent) == 64

_P = ctypes.POINTER(GlibcAiocb)


def load_libc() -> ctypes.CDLL:
    """``libc.so.6`` with the AIO prototypes declared (glibc >= 2.34 has AIO in libc proper)."""
    libc = ctypes.CDLL(LIBC_NAME, use_errno=True)
    for fn in ("aio_read", "aio_write"):
        getattr(libc, fn).argtypes, getattr(libc, fn).restype = [_P], ctypes.c_int
    libc.aio_fsync.argtypes, libc.aio_fsync.restype = [ctypes.c_int, _P], ctypes.c_int
    libc.aio_error.argtypes, libc.aio_error.restype = [_P], ctypes.c_int
    libc.aio_return.argtypes, libc.aio_return.restype = [_P], ctypes.c_ssize_t
    libc.aio_cancel.argtypes, libc.aio_cancel.restype = [ctypes.c_int, _P], ctypes.c_int
    libc.aio_suspend.argtypes = [ctypes.POINTER(_P), ctypes.c_int, ctypes.POINTER(Timespec)]
    libc.aio_suspend.restype = ctypes.c_int
    libc.lio_listio.argtypes = [ctypes.c_int, ctypes.POINTER(_P), ctypes.c_int, ctypes.POINTER(Sigevent)]
    libc.lio_listio.restype = ctypes.c_int
    return libc


class GlibcDriver(Driver):
    """One run: a ``struct aiocb`` and a buffer per scenario aiocb, kept alive until every
    request finished (glibc writes the result into the aiocb from its own threads)."""

    supported_calls = frozenset({"aio_read", "aio_write", "aio_fsync", "lio_listio", "aio_cancel", "aio_error",
                                 "aio_return", "aio_suspend", "aio_fsync_dsync"})

    def __init__(self, sc: Scenario, ws: Workspace) -> None:
        super().__init__(sc, ws)
        self.libc = load_libc()
        self.cbs: dict[str, GlibcAiocb] = {}
        self.bufs: dict[str, ctypes.Array] = {}
        self.signals = notification_signals(sc)  # signal number -> aiocb name or lio slot
        self.by_target = {v: k for k, v in self.signals.items()}
        self.counted: Counter = Counter()
        if self.signals:
            self._block_signals()
        for name, spec in sc.aiocbs.items():
            buf = ctypes.create_string_buffer(bytes([0xA0 + sc.aiocb_index[name] % 64]) * max(1, spec.nbytes))
            cb = GlibcAiocb()
            cb.aio_fildes = ws.fd(spec.fd)
            cb.aio_buf = ctypes.cast(buf, ctypes.c_void_p)
            cb.aio_nbytes = spec.nbytes
            cb.aio_offset = spec.offset
            cb.aio_sigevent.sigev_notify = GLIBC_SIGEV_NONE
            if name in self.by_target:
                cb.aio_sigevent.sigev_notify = GLIBC_SIGEV_SIGNAL
                cb.aio_sigevent.sigev_signo = self.by_target[name]
            self.cbs[name], self.bufs[name] = cb, buf
        self.submitted: set[str] = set()
        self.last_op: dict[str, Op] = {}

    def _block_signals(self) -> None:
        """Block the notification signals in this thread before any other starts (they inherit
        the mask), with a counting handler in case one is delivered anyway (a real-time signal
        without a handler would kill the process)."""
        if threading.current_thread() is not threading.main_thread():
            raise Unsupported("SIGEV_SIGNAL notifications need the driver on the main thread (run it isolated)")
        for sig in self.signals:
            signal.signal(sig, lambda n, _f: self.counted.update([n]))
        signal.pthread_sigmask(signal.SIG_BLOCK, set(self.signals))

    def notifications(self) -> Notifications | None:
        if not self.signals:
            return Notifications()
        for sig in self.signals:  # pending: each queued real-time signal once
            while signal.sigtimedwait([sig], 0) is not None:
                self.counted[sig] += 1
        out = Notifications()
        for sig, n in self.counted.items():
            target = self.signals[sig]
            if isinstance(target, str):
                out.aiocbs[target] = out.aiocbs.get(target, 0) + n
            else:
                out.lists[target] = out.lists.get(target, 0) + n
        return out

    def _err(self) -> int:
        return spec_errno(ctypes.get_errno())

    def _p(self, name: str) -> ctypes._Pointer:
        return ctypes.pointer(self.cbs[name])

    def call(self, call: Call) -> tuple[int, object]:
        k, libc = call.kind, self.libc
        if k in ("aio_read", "aio_write", "aio_fsync"):
            cb = self.cbs[call.aiocb]
            cb.aio_fildes = self.ws.fd(call.fd)
            self.submitted.add(call.aiocb)
            self.last_op[call.aiocb] = call.op
            if k == "aio_fsync":
                r = libc.aio_fsync(os.O_SYNC if call.fsync_op == "O_SYNC" else os.O_DSYNC, self._p(call.aiocb))
            else:
                r = getattr(libc, k)(self._p(call.aiocb))
            return (self._err(), None) if r == -1 else (0, None)
        if k == "lio_listio":
            mode = GLIBC_LIO_MODES.get(call.mode, 7)
            arr = (_P * max(1, len(call.entries)))()
            for i, e in enumerate(call.entries):
                if e.aiocb is None:
                    continue  # a NULL pointer in the list
                cb = self.cbs[e.aiocb]
                cb.aio_lio_opcode = GLIBC_LIO_OPS.get(e.op, 99)
                arr[i] = self._p(e.aiocb)
                self.submitted.add(e.aiocb)
                self.last_op[e.aiocb] = e.op
            sev = None
            if call.lio in self.by_target:  # the list notification (glibc honours it for LIO_NOWAIT only)
                sev = ctypes.pointer(Sigevent(None, self.by_target[call.lio], GLIBC_SIGEV_SIGNAL))
            r = libc.lio_listio(mode, arr, len(call.entries), sev)
            return (self._err(), None) if r == -1 else (0, None)
        if k == "aio_cancel":
            r = libc.aio_cancel(self.ws.fd(call.fd), self._p(call.aiocb) if call.aiocb else None)
            return (self._err(), None) if r == -1 else (0, glibc_cancel_result(r))
        if k == "aio_error":
            r = libc.aio_error(self._p(call.aiocb))
            return (0, self._err()) if r == -1 else (0, spec_errno(r))
        if k == "aio_return":
            r = libc.aio_return(self._p(call.aiocb))
            if r == -1:
                return spec_errno(self.cbs[call.aiocb].__getattribute__("error_code")) or self._err(), (-1, call.aiocb)
            if self.last_op.get(call.aiocb) == Op.LIO_READ and 0 <= r <= len(self.bufs[call.aiocb]):
                return 0, (int(r), call.aiocb), self.bufs[call.aiocb].raw[:r]
            return 0, (int(r), call.aiocb)
        if k == "aio_suspend":
            arr = (_P * max(1, len(call.targets)))()
            for i, x in enumerate(call.targets):
                if x is not None:
                    arr[i] = self._p(x)
            ts = None
            if call.timeout == "timed":
                ts = ctypes.pointer(Timespec(0, int(TIMED * 1e9)))
            elif call.timeout == "invalid":
                ts = ctypes.pointer(Timespec(0, -1))
            r = libc.aio_suspend(arr, len(call.targets), ts)
            return (self._err(), None) if r == -1 else (0, None)
        raise ValueError(f"unsupported call {call.text}")

    def close(self, timeout: float) -> None:
        """Process exit: wait until no submitted request is in progress, so glibc never writes
        into a freed aiocb or buffer and the final file contents are final."""
        deadline = time.monotonic() + timeout
        einprogress = 115  # Linux
        while any(self.libc.aio_error(self._p(x)) == einprogress for x in self.submitted):
            if time.monotonic() > deadline:
                busy = [x for x in self.submitted if self.libc.aio_error(self._p(x)) == einprogress]
                raise TimeoutError(f"requests {', '.join(sorted(busy))} still in progress after {timeout:g}s")
            time.sleep(0.002)


def notification_signals(sc: Scenario) -> dict[int, str | int]:
    """A real-time signal per aiocb that asks for SIGEV_SIGNAL (its name) and per lio_listio
    call with a SIGNAL list sigevent (its lio slot); empty when none asks."""
    out: dict[int, str | int] = {}
    base = signal.SIGRTMIN + 1
    for name, acb in sc.aiocbs.items():
        if acb.sigev == Sigev.SIGNAL:
            out[base + sc.aiocb_index[name]] = name
    base += len(sc.aiocbs)
    for th in sc.threads:
        for c in th.calls:
            if c.kind == "lio_listio" and c.sig == Sigev.SIGNAL:
                out[base + c.lio] = c.lio
    return out


class GlibcAdapter(DriverAdapter):
    """glibc POSIX AIO via ctypes, one child process per run."""

    name = "glibc"
    description = f"glibc POSIX AIO ({LIBC_NAME}) via ctypes, one child process per run"
    driver_cls = GlibcDriver
    isolated = True
    startup = 10.0  # spawning a Python child and importing aiospec
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})  # SIGEV_SIGNAL with a real-time signal

    def unsupported(self, sc: Scenario) -> str | None:
        why = super().unsupported(sc)
        if why:
            return why
        if notification_signals(sc) and max(notification_signals(sc)) > signal.SIGRTMAX:
            return "unsupported notification: more aiocbs and lists ask for SIGEV_SIGNAL than there are real-time signals"
        for th in sc.threads:
            for c in th.calls:
                for e in c.entries:
                    if e.aiocb is not None and e.op not in GLIBC_LIO_OPS:
                        return f"lio_listio entry {e.op.name} has no glibc opcode ({c.text})"
        return None

