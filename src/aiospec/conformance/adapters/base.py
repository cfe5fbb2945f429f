"""What every adapter shares: temporary files for a scenario, a thread per scenario thread,
time limits, and running an implementation in a child process.

An adapter turns a scenario into a ``RunOutcome``.  Most do it through a ``Driver``: one object
per run that performs a single scenario call (the syntax of ``spec.scenario``) and returns the
result in the spec's vocabulary.  ``run_threads`` then runs each scenario thread on its own Python
thread, all starting together, so the implementation sees real concurrency as the spec's threads
would.  Time limits are everywhere: a call that never returns becomes a "timeout" outcome with
the stuck call named, never a hung harness.  Implementations that can take the process down
(glibc: a C library writing into our memory) run in a child process (``run_isolated``): a crash
becomes a "crash" outcome.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from typing import Callable

from ...reference.harness import BADFD_NUMBER, FILE_SIZE, TIMED
from ...spec.constants import FileKind, Sigev
from ...spec.scenario import BADFD, Call, Scenario
from ..observation import Notifications, RunOutcome

__all__ = ["Adapter", "BADFD_NUMBER", "Driver", "DriverAdapter", "FILE_SIZE", "TIMED", "Unsupported", "Workspace",
           "initial_bytes", "run_isolated", "run_threads"]


def initial_bytes() -> bytes:
    """The initial contents of every regular file, the same as the reference harness writes,
    so a write that lands is visible wherever it goes."""
    return bytes(range(256)) * (FILE_SIZE // 256)


class Unsupported(Exception):
    """The scenario needs something the implementation does not have (a call, a file kind)."""


class Workspace:
    """Real files for a scenario's fd names, in a temporary directory.

    ``regular``: a file filled with ``initial_bytes()``; ``pipe``: a FIFO opened read-write (as
    the reference harness does); ``BADFD``: a descriptor number that is not open.  ``disk`` and
    ``nfs`` have no userland equivalent here and raise ``Unsupported``.
    """

    def __init__(self, sc: Scenario) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="aiospec-conform-")
        self.fds: dict[str, int] = {BADFD: BADFD_NUMBER}
        self.initial: dict[str, bytes] = {}
        self.paths: dict[str, str] = {}  # fd name -> path (for implementations that open files themselves)
        self._regular: list[str] = []
        self._pipes: list[str] = []
        self._opened: list[int] = []
        try:
            for name, kind in sc.files.items():
                path = os.path.join(self._tmp.name, name)
                self.paths[name] = path
                if kind == FileKind.REGULAR:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                    os.pwrite(fd, initial_bytes(), 0)
                    self.initial[name] = initial_bytes()
                    self._regular.append(name)
                elif kind == FileKind.PIPE:
                    os.mkfifo(path, 0o600)
                    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
                    self._pipes.append(name)
                else:
                    raise Unsupported(f"file {name}: kind {kind.name.lower()} has no userland equivalent")
                self._opened.append(fd)
                self.fds[name] = fd
        except BaseException:
            self.close()
            raise

    def fd(self, name: str | None) -> int:
        """The descriptor of an fd name (an unknown name is a bad descriptor)."""
        return self.fds.get(name or BADFD, BADFD_NUMBER)

    def snapshot(self) -> dict[str, bytes]:
        """The current bytes of every regular file, and the bytes left unread in every pipe
        (drained: call it once, at process exit; ``verdict.cancel_honesty`` uses them to see a
        cancelled read that consumed data)."""
        out = {}
        for name in self._regular:
            fd = self.fds[name]
            out[name] = os.pread(fd, max(os.fstat(fd).st_size, 0), 0)
        for name in self._pipes:
            chunks = []
            while True:
                try:
                    chunk = os.read(self.fds[name], 65536)
                except (BlockingIOError, OSError):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            out[name] = b"".join(chunks)
        return out

    def close(self) -> None:
        for fd in self._opened:
            try:
                os.close(fd)
            except OSError:
                pass
        self._opened = []
        self._tmp.cleanup()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cancel_targets(ws: "Workspace", lock, jobs: dict, call) -> list | None:
    """The jobs an aio_cancel(fd, aiocb) names: every job on the fd, or the aiocb's first one
    there; None when the fd is bad (EBADF).  ``jobs`` maps aiocb names to jobs with an ``fd``."""
    fd = ws.fd(call.fd)
    try:
        os.fstat(fd)
    except OSError:
        return None
    with lock:
        if call.aiocb is None:
            return [j for js in jobs.values() for j in js if j.fd == fd]
        return [j for j in jobs.get(call.aiocb, []) if j.fd == fd][:1]


class Driver(ABC):
    """One run of one scenario on an implementation: performs calls, returns spec results.

    ``call`` is called from several threads at once (one per scenario thread) and must return
    ``(result errno, retval)`` exactly as ``spec.program.finish_call`` records them, with
    FreeBSD constants (use ``observation.spec_errno`` / ``glibc_cancel_result``).  A reap
    (``aio_return`` / ``aio_waitcomplete``) of a read returns ``(result, retval, data)``: the
    bytes the read handed back (its first ``status`` bytes), for ``read_integrity``.  ``close`` is
    the process exit: in-flight requests are waited for (or cancelled), so the final file
    contents include every write that was going to land.  ``notifications`` is read after
    ``close``: what the implementation delivered (None when the driver delivers none).
    """

    #: the scenario calls this implementation has
    supported_calls: frozenset[str] = frozenset()

    def __init__(self, sc: Scenario, ws: Workspace) -> None:
        self.sc, self.ws = sc, ws

    @abstractmethod
    def call(self, call: Call) -> tuple[int, object]:
        """Perform one scenario call."""

    def close(self, timeout: float) -> None:  # noqa: B027 - optional hook
        """Process exit: wait for in-flight requests for at most ``timeout`` seconds."""

    def notifications(self) -> Notifications | None:
        """The notifications delivered so far (read after ``close``); None: not observed."""
        return None


def unsupported_reason(sc: Scenario, calls: frozenset[str], sigevs: frozenset[Sigev] = frozenset({Sigev.NONE}),
                       files: frozenset[FileKind] = frozenset({FileKind.REGULAR, FileKind.PIPE})) -> str | None:
    """Why ``sc`` cannot run on an implementation with these calls, notifications and file
    kinds; None if it can.  A skipped scenario is reported as such, never as a pass."""
    for th in sc.threads:
        for c in th.calls:
            if c.kind not in calls:
                return f"{c.kind} is not available ({th.name}: {c.text})"
            if c.kind == "lio_listio" and c.sig not in (None, Sigev.NONE) and c.sig not in sigevs:
                return (f"unsupported notification: `{c.text}` asks for a SIGEV_{c.sig.name} list notification, "
                        "which this implementation cannot deliver")
            if c.kind == "aio_fsync" and c.fsync_op != "O_SYNC" and "aio_fsync_dsync" not in calls:
                return f"aio_fsync({c.fsync_op}) is not supported"
    for name, acb in sc.aiocbs.items():
        if acb.sigev not in sigevs:
            return (f"unsupported notification: aiocb {name} asks for SIGEV_{acb.sigev.name}, which this "
                    "implementation cannot deliver")
        if acb.nbytes_too_big or acb.invalid_signo:
            return f"aiocb {name}: nbytes_too_big / invalid_signo are not supported"
    for name, kind in sc.files.items():
        if kind not in files:
            return f"file {name}: kind {kind.name.lower()} is not supported"
    return None


def run_threads(sc: Scenario, driver: Driver, ws: Workspace, timeout: float) -> RunOutcome:
    """Run every scenario thread's calls on its own thread through ``driver``.

    The threads start together (a barrier).  After ``timeout`` seconds a thread still inside a
    call makes the outcome "timeout", naming the call; the threads are daemons, so a stuck call
    cannot keep the process alive.  An exception from the driver is an adapter bug: "error".
    """
    n = len(sc.threads)
    results: list[list] = [[] for _ in range(n)]
    reads: dict[tuple[int, int], bytes] = {}
    current: list[str | None] = [None] * n
    errors: list[str] = []
    barrier = threading.Barrier(n)

    def body(t: int) -> None:
        th = sc.threads[t]
        try:
            barrier.wait(timeout)
            for i, call in enumerate(th.calls):
                current[t] = call.text
                got = driver.call(call)
                res, ret = got[0], got[1]
                if len(got) > 2 and got[2] is not None:
                    reads[(t, i)] = bytes(got[2])
                results[t].append((call.text, int(res), ret))
            current[t] = None
        except Exception as e:  # an adapter bug: report it, do not hang
            errors.append(f"{th.name}: {current[t]}: {type(e).__name__}: {e}")
            current[t] = None

    threads = [threading.Thread(target=body, args=(t,), name=f"conform-{sc.threads[t].name}", daemon=True)
               for t in range(n)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.0, start + timeout - time.monotonic()))
    obs = tuple(tuple(r) for r in results)
    stuck = [(sc.threads[t].name, current[t]) for t, th in enumerate(threads) if th.is_alive()]
    if stuck:
        what = "; ".join(f"{name} did not return from {text or 'its start'}" for name, text in stuck)
        final = ws.snapshot()
        try:  # process exit: give the implementation a chance to release the stuck threads
            driver.close(1.0)
        except Exception:  # noqa: BLE001 - the verdict is already "timeout"
            pass
        for th in threads:
            th.join(0.5)  # a thread stuck for good stays behind (daemon); isolate such implementations
        return RunOutcome("timeout", obs, f"{what} within {timeout:g}s", ws.initial, final, dict(reads))
    status, detail = ("error", "; ".join(errors)) if errors else ("ok", "")
    try:
        driver.close(max(1.0, start + timeout - time.monotonic()))
    except TimeoutError as e:
        return RunOutcome("timeout", obs, f"process exit: {e}", ws.initial, ws.snapshot(), dict(reads))
    return RunOutcome(status, obs, detail, ws.initial, ws.snapshot(), dict(reads), driver.notifications())


def _run_driver(driver_cls: type[Driver], sc: Scenario, timeout: float) -> RunOutcome:
    try:
        ws = Workspace(sc)
    except Unsupported as e:
        return RunOutcome("unsupported", (), str(e))
    with ws:
        try:
            driver = driver_cls(sc, ws)
        except Unsupported as e:
            return RunOutcome("unsupported", (), str(e))
        return run_threads(sc, driver, ws, timeout)


def run_isolated(fn: Callable[..., RunOutcome], args: tuple, timeout: float) -> RunOutcome:
    """``fn(*args)`` in a child Python process, with a hard time limit.

    The child is ``python -m aiospec.conformance.adapters._child``: ``fn`` and ``args`` go in
    pickled on stdin (``fn`` must be a module-level function), the ``RunOutcome`` comes back
    pickled on stdout.  A fresh interpreter rather than ``multiprocessing``: nothing of the
    parent's threads or locks is inherited, and the caller's ``__main__`` is never re-imported
    (a script without an ``if __name__ == "__main__"`` guard works).  No result within
    ``timeout`` seconds: the child is killed, "timeout".  The child dies without a result (a
    signal, abort, a non-zero exit): "crash", with the signal's name and the end of its stderr.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.Popen([sys.executable, "-m", "aiospec.conformance.adapters._child"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = proc.communicate(pickle.dumps((fn, args)), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return RunOutcome("timeout", (), f"no result within {timeout:g}s: the implementation's process was killed")
    tail = err.decode(errors="replace").strip().splitlines()[-3:]
    if proc.returncode == 0 and out:
        try:
            res = pickle.loads(out)
        except Exception as e:  # noqa: BLE001 - a garbled answer is a crash of the child
            return RunOutcome("crash", (), f"the implementation's process answered garbage ({e})")
        if isinstance(res, RunOutcome):
            return res
    if proc.returncode is not None and proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = str(-proc.returncode)
        what = f"died with signal {sig}"
    else:
        what = f"exited with status {proc.returncode} and no result"
    return RunOutcome("crash", (), f"the implementation's process {what}" + (f": {' / '.join(tail)}" if tail else ""))


def waitcomplete_fifo(cv: threading.Condition, done, call: Call, reap: Callable) -> tuple[int, object]:
    """aio_waitcomplete over a FIFO of finished jobs guarded by ``cv``: poll, timed or forever.

    Shared by the adapters that keep their own completion queue (futures, io_uring).
    """
    from ...spec.constants import Errno

    if call.timeout == "invalid":
        return int(Errno.EINVAL), None
    with cv:
        if call.timeout == "poll":
            ok = bool(done)
        else:
            ok = cv.wait_for(lambda: bool(done), TIMED if call.timeout == "timed" else None)
        if not ok:
            return int(Errno.EAGAIN), None
        return reap(done[0])


class Adapter(ABC):
    """An AIO implementation under test.

    ``run`` never raises for anything the implementation does: every failure (a hang, a crash,
    a missing call) is an outcome.  ``startup`` is the extra time a run may take before the
    scenario starts (a child process to spawn).
    """

    name: str = ""
    description: str = ""
    startup: float = 0.0

    @abstractmethod
    def run(self, sc: Scenario, timeout: float) -> RunOutcome:
        """Run ``sc`` once; ``timeout`` bounds the scenario's calls."""


class DriverAdapter(Adapter):
    """An adapter made of a ``Driver`` class, run in-process or (``isolated``) in a child."""

    driver_cls: type[Driver]
    isolated: bool = False
    sigevs: frozenset[Sigev] = frozenset({Sigev.NONE})

    def unsupported(self, sc: Scenario) -> str | None:
        """Why this implementation cannot run ``sc`` (None: it can)."""
        return unsupported_reason(sc, self.driver_cls.supported_calls, self.sigevs)

    def run(self, sc: Scenario, timeout: float) -> RunOutcome:
        why = self.unsupported(sc)
        if why:
            return RunOutcome("unsupported", (), why)
        if self.isolated:
            return run_isolated(_run_driver, (self.driver_cls, sc, timeout), timeout + self.startup)
        return _run_driver(self.driver_cls, sc, timeout)
