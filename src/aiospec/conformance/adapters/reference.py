"""The reference engine (``aiospec.reference``) as an implementation under test.

It runs through the reference harness (``run_scenario``, free-running real threads on real
files), so the conformance path is checked against the same engine the trace checker accepts:
every conformance scenario must pass here under the ``freebsd`` profile, which is the
conformance suite's own sanity check.

Two things the harness does not hand back are recovered with an ``Engine`` subclass passed as
``engine_cls`` (no change to the harness): the status of a request that was reaped with an error
(the harness keeps only the errno of the ``AioError``, but the spec's observation includes
``(-1, aiocb)``), and the file contents after process exit (the harness closes its temporary
files before returning).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ...reference.engine import Engine
from ...reference.harness import run_scenario
from ...reference.types import AioError
from ...spec.constants import FileKind
from ...spec.scenario import Scenario
from ..observation import RunOutcome
from .base import Adapter, initial_bytes


@dataclass(frozen=True)
class _Reaped:
    """A request reaped with an error: returned instead of raised, so the harness keeps it."""

    status: int
    error: int


class _ConformEngine(Engine):
    """The engine, unchanged, except that a failed reap returns ``_Reaped`` (the harness would
    drop its status) and ``close`` snapshots the regular files it saw before they are closed."""

    final: dict[str, bytes]

    def aio_return(self, cb):  # type: ignore[override]
        try:
            return super().aio_return(cb)
        except AioError as e:
            if e.status is None:
                raise
            return _Reaped(e.status, e.errno)

    def aio_waitcomplete(self, timeout=None):  # type: ignore[override]
        try:
            return super().aio_waitcomplete(timeout)
        except AioError as e:
            if e.aiocb is None:
                raise
            return e.aiocb, _Reaped(e.status if e.status is not None else -1, e.errno)

    def close(self) -> None:
        super().close()
        self.final = {}
        rec = self._rec
        for fd, name in (rec.fd_names.items() if rec is not None else ()):
            try:
                self.final[name] = os.pread(fd, os.fstat(fd).st_size, 0)
            except OSError:
                pass


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
        r = run_scenario(sc, mode="free", engine_cls=_ConformEngine, timeout=timeout)
        obs = []
        for t, th in enumerate(sc.threads):
            got = r.results.get(t, [])
            obs.append(tuple((text, *_result(call.kind, call.aiocb, out)) for call, (text, out) in zip(th.calls, got)))
        status, detail = "ok", ""
        if r.error:
            status = "timeout" if "did not finish" in r.error else "error"
            detail = r.error
        initial = {n: initial_bytes() for n, k in sc.files.items() if k == FileKind.REGULAR}
        final = getattr(r.engine, "final", {})
        return RunOutcome(status, tuple(obs), detail, initial, {n: b for n, b in final.items() if n in initial})
