"""The reference engine (``aiospec.reference``) as an implementation under test.

It runs through the reference harness (``run_scenario``, free-running real threads on real
files), so the conformance path is checked against the same engine the trace checker accepts:
every conformance scenario must pass here under the ``freebsd`` profile, which is the
conformance suite's own sanity check.

What the harness does not hand back is recovered with an ``Engine`` subclass passed as
``engine_cls`` (no change to the harness): the status of a request that was reaped with an error
(the harness keeps only the errno of the ``AioError``, but the spec's observation includes
``(-1, aiocb)``), the file contents after process exit (the harness closes its temporary files
before returning), the bytes a reaped read handed back (the status of such a reap is an ``int``
carrying them), and the notifications the engine posted, counted per aiocb and per lio_listio
call where the engine posts them (``_post``: a SIGEV_THREAD-style callback for SIGNAL, a
``KeventFd`` for KEVENT).
"""

from __future__ import annotations

import functools
import os
import stat
import threading
from collections import Counter
from dataclasses import dataclass

from ...reference.engine import Engine
from ...reference.harness import run_scenario
from ...reference.types import AioError, Op
from ...spec.constants import FileKind
from ...spec.scenario import Scenario
from ..observation import Notifications, RunOutcome
from .base import Adapter, initial_bytes


@dataclass(frozen=True)
class _Reaped:
    """A request reaped with an error: returned instead of raised, so the harness keeps it."""

    status: int
    error: int


class _ReadStatus(int):
    """The status of a reaped read, carrying the bytes it read (the harness keeps the int)."""

    data: bytes


class _ConformEngine(Engine):
    """The engine, unchanged, except that a failed reap returns ``_Reaped`` (the harness would
    drop its status), a reaped read's status carries its bytes, posted notifications are
    counted, and ``close`` snapshots the regular files it saw before they are closed and drains
    the pipes."""

    final: dict[str, bytes]

    def __init__(self, *args, scenario: Scenario | None = None, **kw) -> None:
        self.scenario = scenario
        self.ops: dict[int, Op] = {}  # id(aiocb) -> what it was last submitted for
        self.posted: Counter = Counter()  # ("aiocb", name) / ("lio", slot) -> notifications posted
        self.lio_slot: dict[int, int] = {}  # id(list) -> the lio slot of its lio_listio call
        self.lists: list = []  # the lists, kept alive so their ids stay theirs
        self.lio_calls: Counter = Counter()  # thread index -> lio_listio calls made so far
        self.plock = threading.Lock()
        super().__init__(*args, **kw)

    # -- what a reaped read returned ---------------------------------------------------------
    def aio_read(self, cb):  # type: ignore[override]
        self.ops[id(cb)] = Op.LIO_READ
        return super().aio_read(cb)

    def aio_write(self, cb):  # type: ignore[override]
        self.ops[id(cb)] = Op.LIO_WRITE
        return super().aio_write(cb)

    def aio_fsync(self, op, cb):  # type: ignore[override]
        self.ops[id(cb)] = Op.LIO_SYNC
        return super().aio_fsync(op, cb)

    def aio_mlock(self, cb):  # type: ignore[override]
        self.ops[id(cb)] = Op.LIO_MLOCK
        return super().aio_mlock(cb)

    def _read(self, cb, status: int) -> int:
        if self.ops.get(id(cb)) == Op.LIO_READ and status >= 0 and isinstance(cb.buffer, (bytes, bytearray)):
            out = _ReadStatus(status)
            out.data = bytes(cb.buffer[:status])
            return out
        return status

    def aio_return(self, cb):  # type: ignore[override]
        try:
            return self._read(cb, super().aio_return(cb))
        except AioError as e:
            if e.status is None:
                raise
            return _Reaped(e.status, e.errno)

    def aio_waitcomplete(self, timeout=None):  # type: ignore[override]
        try:
            cb, status = super().aio_waitcomplete(timeout)
            return cb, self._read(cb, status)
        except AioError as e:
            if e.aiocb is None:
                raise
            return e.aiocb, _Reaped(e.status if e.status is not None else -1, e.errno)

    # -- notifications --------------------------------------------------------------------------
    def lio_listio(self, mode, cbs, notify=None):  # type: ignore[override]
        for cb in cbs:
            if cb is not None:
                self.ops[id(cb)] = cb.opcode
        actor = getattr(self._tls, "actor", None)
        sc = self.scenario
        if actor is not None and sc is not None and actor.index < len(sc.threads):
            mine = [c.lio for c in sc.threads[actor.index].calls if c.kind == "lio_listio"]
            k = self.lio_calls[actor.index]
            self.lio_calls[actor.index] += 1
            if k < len(mine):
                self.lists.append(cbs)
                self.lio_slot[id(cbs)] = mine[k]
        return super().lio_listio(mode, cbs, notify)

    def _post(self, notify, ident) -> None:  # type: ignore[override]
        """Count the notification where the engine posts it (job: ident is the aiocb; list: the list)."""
        key = ("lio", self.lio_slot.get(id(ident))) if isinstance(ident, list) else ("aiocb", getattr(ident, "name", None))
        with self.plock:
            self.posted[key] += 1
        super()._post(notify, ident)

    def notifications(self) -> Notifications:
        out = Notifications()
        with self.plock:
            for (what, who), n in self.posted.items():
                if what == "aiocb" and who is not None:
                    out.aiocbs[who] = out.aiocbs.get(who, 0) + n
                elif what == "lio" and who is not None:
                    out.lists[who] = out.lists.get(who, 0) + n
        return out

    def close(self) -> None:
        super().close()
        self.final = {}
        rec = self._rec
        for fd, name in (rec.fd_names.items() if rec is not None else ()):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):  # the bytes left unread, drained (as Workspace.snapshot)
                    self.final[name] = _drain(fd)
                else:
                    self.final[name] = os.pread(fd, os.fstat(fd).st_size, 0)
            except OSError:
                pass


def _drain(fd: int) -> bytes:
    """Everything left in a FIFO (the harness opens it non-blocking: an empty pipe ends the loop)."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # BlockingIOError: empty
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _result(kind: str, name: str | None, out: object) -> tuple[int, object]:
    """A harness outcome as ``(result errno, retval)`` in the spec's shape."""
    if isinstance(out, tuple) and len(out) == 2 and out[0] == "errno":
        return int(out[1]), None
    if kind == "aio_return":
        if isinstance(out, _Reaped):
            return out.error, (out.status, name)
        return 0, (int(out), name)  # type: ignore[arg-type]
    if kind == "aio_waitcomplete":
        who, st = out  # type: ignore[misc]
        if isinstance(st, _Reaped):
            return st.error, (st.status, who)
        return 0, (int(st), who)
    if kind in ("aio_cancel", "aio_error"):
        return 0, int(out)  # type: ignore[arg-type]
    return 0, None


class ReferenceAdapter(Adapter):
    """``aiospec.reference.Engine`` through ``run_scenario(mode="free")``, in-process."""

    name = "reference"
    description = "aiospec's reference engine (FreeBSD semantics on real files), free-running threads"

    def run(self, sc: Scenario, timeout: float) -> RunOutcome:
        bad = [n for n, k in sc.files.items() if k not in (FileKind.REGULAR, FileKind.PIPE)]
        if sc.rtems or sc.daemons < 1 or bad:
            return RunOutcome("unsupported", (), "the engine runs the FreeBSD profile with at least one daemon on "
                                                 "regular files and pipes only")
        engine = functools.partial(_ConformEngine, scenario=sc)
        r = run_scenario(sc, mode="free", engine_cls=engine, timeout=timeout)  # type: ignore[arg-type]
        obs, reads = [], {}
        for t, th in enumerate(sc.threads):
            got = r.results.get(t, [])
            obs.append(tuple((text, *_result(call.kind, call.aiocb, out)) for call, (text, out) in zip(th.calls, got)))
            for i, (_text, out) in enumerate(got):
                status = out[1] if isinstance(out, tuple) and len(out) == 2 and out[0] != "errno" else out
                if isinstance(status, _ReadStatus):
                    reads[(t, i)] = status.data
        status, detail = "ok", ""
        if r.error:
            status = "timeout" if "did not finish" in r.error else "error"
            detail = r.error
        initial = {n: initial_bytes() for n, k in sc.files.items() if k == FileKind.REGULAR}
        final = getattr(r.engine, "final", {})
        pipes = {n for n, k in sc.files.items() if k == FileKind.PIPE}
        return RunOutcome(status, tuple(obs), detail, initial,
                          {n: b for n, b in final.items() if n in initial or n in pipes},
                          reads, r.engine.notifications())
