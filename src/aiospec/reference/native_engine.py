"""The native engine: the reference engine's data path in C (``aiospec.reference._native``).

``NativeEngine`` has ``Engine``'s constructor, methods, results and ``AioError`` errnos (the
spec's FreeBSD values), on the same ``Aiocb`` and ``KeventFd`` objects; ``Engine(native=True)``
builds one.  The C side (``native/*.c``) mirrors ``vfs_aio.c`` with pthreads: ``struct kaiocb``,
``struct kaioinfo``, ``aio_jobs``/``aio_job_mtx``/``kaio_mtx``, daemons running
``aio_selectjob``/``aio_process_rw``/``aio_complete``/``aio_bio_done_notify``, the fsync task, the
cancel-function protocol and ``aio_proc_rundown``; the daemons never take the GIL and user calls
drop it only to sleep.  With a ``Recorder`` the C side records every step into a buffer, which
``flush_trace()`` (and ``close()``) turns into the recorder's steps, so ``tracecheck`` checks
native runs as it checks the Python engine's.  There is no controlled scheduler here: use
``Engine`` for scheduled runs.
"""

from __future__ import annotations

import importlib
import threading

from ..spec.model import Actor
from .trace import CallRecord, Recorder
from .types import AioError, Aiocb, KeventFd, Limits, Stats

try:
    _native = importlib.import_module(f"{__package__}._native")
except ImportError as exc:  # built without a compiler, or not built at all
    _native = None
    NATIVE_ERROR: str | None = (f"the native engine is not built ({exc}); reinstall with a C compiler and the "
                                "Python headers: pip install -e .")
else:
    NATIVE_ERROR = None
    _native._setup(AioError, KeventFd)


def native_available() -> bool:
    """Whether the C extension was built (``NATIVE_ERROR`` says why not)."""
    return _native is not None


class NativeUnavailable(RuntimeError):
    """The C extension ``aiospec.reference._native`` is not built."""


_Core: type = _native.Core if _native is not None else object
_LIO_WORD = {1: "write", 2: "read", 3: "sync", 0: "nop", 4: "mlock"}


def _sig(notify: object) -> str:
    return "NONE" if notify is None else "KEVENT" if isinstance(notify, KeventFd) else \
        "SIGNAL" if callable(notify) else "INVALID"


class NativeEngine(_Core):  # type: ignore[misc, valid-type]
    """``Engine`` in C: same arguments (``scheduler`` must be None), same calls and results."""

    def __new__(cls, daemons: int = 4, limits: Limits | None = None, recorder: Recorder | None = None,
                scheduler=None, rundown_timeout: float = 0.02):
        if _native is None:
            raise NativeUnavailable(NATIVE_ERROR)
        if recorder is not None and cls is NativeEngine:
            cls = TracedNativeEngine
        return _Core.__new__(cls)

    def __init__(self, daemons: int = 4, limits: Limits | None = None, recorder: Recorder | None = None,
                 scheduler=None, rundown_timeout: float = 0.02):
        if scheduler is not None:
            raise ValueError("the native engine runs free only; use Engine for controlled scheduling")
        lim = limits or Limits()
        self.limits = lim
        self.n_daemons = daemons
        self.rundown_timeout = rundown_timeout
        self._rec = recorder
        self._tls = threading.local()
        self._alock = threading.Lock()
        self._tlock = threading.Lock()
        self._next_thread = 0
        self._notifier: threading.Thread | None = None
        super().__init__(daemons, lim.max_aio_queue_per_proc, lim.max_queue_count, lim.max_aio_per_proc,
                         lim.enable_aio_unsafe, rundown_timeout, recorder is not None)

    def __enter__(self) -> "NativeEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- threads ------------------------------------------------------------------------------
    def bind_thread(self, index: int, name: str | None = None) -> Actor:
        """Make the calling thread the spec's user thread ``index`` (for traces)."""
        self._tls.actor = index
        if self._rec is not None:
            self._rec.thread_names[index] = name or f"T{index + 1}"
        return Actor(0, index)

    def unbind_thread(self) -> None:
        """Nothing to do without a scheduler (kept for ``Engine``'s interface)."""

    def _actor(self) -> int:
        a = getattr(self._tls, "actor", None)
        if a is None:  # (a bound thread calling a closed engine gets the C side's RuntimeError)
            if self._closed:
                raise RuntimeError("the engine is closed (the process has run down)")
            with self._alock:
                a = self._next_thread
                self._next_thread += 1
            self.bind_thread(a)
        return a

    def _start_notifier(self) -> None:
        """Called by the C side before the first job or lio that will post a notification."""
        with self._alock:
            if self._notifier is None:
                self._notifier = threading.Thread(target=self._notify_loop, name="aio_notify", daemon=True)
                self._notifier.start()

    # -- process exit, introspection ------------------------------------------------------------
    def close(self) -> None:
        """aio_proc_rundown, then stop and join the daemons, the task and the notifier."""
        if self._closed:
            return
        self._close()
        if self._notifier is not None:
            self._notifier.join()
        self._release()
        self.flush_trace()

    def _stop_threads(self, timeout: float = 5.0) -> None:
        self.close()

    def flush_trace(self) -> None:
        """Move the steps recorded in C so far to the recorder (``close()`` does it too)."""
        if self._rec is None:
            return
        with self._tlock:
            cache: dict = {}
            steps = self._rec.steps
            for kind, index, label, choice in self._trace_take():
                a = cache.get((kind, index))
                if a is None:
                    a = cache[(kind, index)] = Actor(kind, index)
                steps.append((a, label, choice))

    @property
    def stats(self) -> Stats:
        completes, notifies, frees, faults = self._stats()
        s = Stats(completes, notifies, frees)
        s.faults = faults
        return s

    def leaks(self) -> dict[str, int]:
        """What is still allocated: jobs, lios, queued work, counters, threads (all 0 after close)."""
        d = self._leaks()
        d["alive_threads"] += 1 if self._notifier is not None and self._notifier.is_alive() else 0
        return d


class TracedNativeEngine(NativeEngine):
    """``NativeEngine`` with a ``Recorder``: each call is recorded in the scenario syntax, as
    ``Engine`` records it, and passes the spec's thread index to the C side for its steps."""

    def _names(self, cb: Aiocb, fd: int | None = None, submit: bool = False) -> tuple[str, str]:
        """Engine._names, with a cache: naming an aiocb again changes the recorder only on its
        first submission or when a resubmission conflicts (other fd, offset sign or sigev)."""
        r = self._rec
        if isinstance(cb.fd, int):
            f = cb.fd if fd is None else fd
            fdn = r.fd_names.get(f) or r.name_fd(f)
        else:
            fdn = "BADFD"
        cache = self.__dict__.setdefault("_ncache", {})
        key = (fdn, isinstance(cb.offset, int) and cb.offset < 0, _sig(cb.notify))
        c = cache.get(id(cb))
        if c is not None and (not submit or (c[1] and c[0] == key)):
            return c[2], fdn
        name = r.name_aiocb(cb, fdn, submit)
        cache[id(cb)] = (key, submit or (c is not None and c[1]), name)
        return name, fdn

    def _call(self, a: int, text: str, fn, *args, retval: bool = False):
        try:
            r = fn(self, *args, a)
        except AioError as e:
            self._rec.call(a, text, e.errno)
            raise
        self._rec.call(a, text, 0, r if retval else None)
        return r

    def _submit(self, fn, kind: str, cb: Aiocb) -> None:  # the hot path, _call inlined
        a = self._actor()
        name, fdn = self._names(cb, submit=True)
        text = f"{kind}({name}, {fdn})"
        try:
            fn(self, cb, a)
        except AioError as e:
            self._rec.calls.append(CallRecord(a, text, e.errno, None))
            raise
        self._rec.calls.append(CallRecord(a, text, 0, None))

    def aio_read(self, cb: Aiocb) -> None:
        self._submit(_Core.aio_read, "aio_read", cb)

    def aio_write(self, cb: Aiocb) -> None:
        self._submit(_Core.aio_write, "aio_write", cb)

    def aio_mlock(self, cb: Aiocb) -> None:
        a = self._actor()
        name, _fdn = self._names(cb, submit=True)
        self._call(a, f"aio_mlock({name})", _Core.aio_mlock, cb)

    def aio_fsync(self, op: str, cb: Aiocb) -> None:
        a = self._actor()
        name, fdn = self._names(cb, submit=True)
        self._call(a, f"aio_fsync({op}, {name}, {fdn})", _Core.aio_fsync, op, cb)

    def lio_listio(self, mode: int, cbs: list, notify: object = None) -> None:
        a = self._actor()
        ents = []
        for cb in cbs:
            if cb is None:
                ents.append("NULL")
            else:
                word = _LIO_WORD.get(cb.opcode, "invalid") if isinstance(cb.opcode, int) else "invalid"
                ents.append(f"{word} {self._names(cb, submit=True)[0]}")
        mname = {1: "LIO_WAIT", 0: "LIO_NOWAIT"}.get(mode, "LIO_BADMODE")
        sig = "" if notify is None else f", {_sig(notify)}"
        self._call(a, f"lio_listio({mname}, [{', '.join(ents)}]{sig})", _Core.lio_listio, mode, cbs, notify)

    def aio_cancel(self, fd: int, cb: Aiocb | None = None) -> int:
        a = self._actor()
        fdn = self._rec.name_fd(fd) if isinstance(fd, int) else "BADFD"
        text = f"aio_cancel({fdn}, {self._names(cb, fd)[0] if cb is not None else 'NULL'})"
        return self._call(a, text, _Core.aio_cancel, fd, cb, retval=True)

    def aio_error(self, cb: Aiocb) -> int:
        a = self._actor()
        return self._call(a, f"aio_error({self._names(cb)[0]})", _Core.aio_error, cb, retval=True)

    def aio_return(self, cb: Aiocb) -> int:
        a = self._actor()
        return self._call(a, f"aio_return({self._names(cb)[0]})", _Core.aio_return, cb)

    def aio_waitcomplete(self, timeout: float | None = None) -> tuple[Aiocb, int]:
        a = self._actor()
        if timeout is None:
            text = "aio_waitcomplete()"
        else:
            valid = isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout >= 0
            text = f"aio_waitcomplete({'poll' if valid and timeout == 0 else 'timed' if valid else 'invalid'})"
        try:
            r = _Core.aio_waitcomplete(self, timeout, a)
        except AioError as e:
            self._rec.calls.append(CallRecord(a, text, e.errno, None))
            raise
        self._rec.calls.append(CallRecord(a, text, 0, None))
        return r

    def aio_suspend(self, cbs: list, timeout: float | None = None) -> None:
        a = self._actor()
        names = ", ".join("NULL" if cb is None else self._names(cb)[0] for cb in cbs)
        valid = timeout is None or (isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
                                    and timeout >= 0)
        arg = "" if timeout is None else ", timed" if valid else ", invalid"
        self._call(a, f"aio_suspend([{names}]{arg})", _Core.aio_suspend, cbs, timeout)


__all__ = ["NATIVE_ERROR", "NativeEngine", "NativeUnavailable", "TracedNativeEngine", "native_available"]
