"""What the bytes say: cancel honesty, and data integrity of writes and reads.

The spec judges the results of the calls; these checks judge their *effects* on real files,
with the one fill-byte convention every adapter follows (a write of aiocb ``x`` writes
``fill_byte(sc, x)`` = 0xA0 + the aiocb's index; regular files start as ``00 01 .. ff``
repeated, ``adapters.base.initial_bytes``):

- ``cancel_honesty``: a request reported cancelled had no effect (a write did not land; on a
  pipe, a read did not consume data).
- ``data_integrity``: a write reported complete left its bytes in the file.
- ``read_integrity``: a read reported complete returned bytes the file could hold at that
  point: the initial pattern or the fill byte of a write that may have landed before it, and
  never the initial pattern where a write is *known* to precede the read (reaped, or finished
  by a ``lio_listio(LIO_WAIT)`` that returned 0, in the thread that submits the read, before it
  submits it).  On a pipe every byte must come from a write to that pipe.

Every check skips what it cannot decide (ambiguous resubmissions, writes whose buffer a read
refilled), so none of them raises a false alarm.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..spec.constants import AIO_CANCELED, Errno, FileKind, Op
from ..spec.scenario import Scenario
from .observation import RunOutcome

__all__ = ["cancel_honesty", "data_integrity", "fill_byte", "read_integrity"]


def _pipe_honesty(sc: Scenario, outcome: RunOutcome, cancelled: dict[str, str]) -> list[str]:
    """Reads reported cancelled that consumed data from a pipe (and writes that filled it).

    A pipe has no offsets, so the check is conservation: the bytes left in the pipe at exit
    (``outcome.final[P]``, drained by the workspace) must be what the reaped, not cancelled
    writes put in minus what the reaped, not cancelled reads took out.  Fewer left means a read
    reported cancelled consumed them; more, that a cancelled write landed.  Judged only when
    every request on the pipe was reaped or reported cancelled (otherwise the byte counts are
    unknown), so it never raises a false alarm.
    """
    obs = outcome.observation
    reqs: dict[str, tuple[str, str]] = {}  # aiocb -> (fd, "read" / "write"): one submission each, else ambiguous
    ambiguous: set[str] = set()
    for th in sc.threads:
        for c in th.calls:
            items = [(c.aiocb, c.fd, c.kind[4:])] if c.kind in ("aio_read", "aio_write") else []
            if c.kind == "lio_listio":
                items = [(e.aiocb, sc.aiocbs[e.aiocb].fd, "read" if e.op == Op.LIO_READ else "write")
                         for e in c.entries if e.aiocb is not None and e.op in (Op.LIO_READ, Op.LIO_WRITE)]
            for x, fd, kind in items:
                if x in reqs:
                    ambiguous.add(x)
                reqs[x] = (fd, kind)
    status: dict[str, int] = {}
    for th, hist in zip(sc.threads, obs):
        for call, (_text, res, ret) in zip(th.calls, hist):
            if call.kind in ("aio_return", "aio_waitcomplete") and isinstance(ret, tuple) and res == 0:
                status[ret[1]] = ret[0]
    problems = []
    for fd, kind in set(reqs.values()):
        if sc.files.get(fd) != FileKind.PIPE or fd not in outcome.final:
            continue
        mine = [x for x, (f, _k) in reqs.items() if f == fd]
        cancel_reads = [x for x in mine if x in cancelled and reqs[x][1] == "read"]
        cancel_writes = [x for x in mine if x in cancelled and reqs[x][1] == "write"]
        if not (cancel_reads or cancel_writes) or any(x in ambiguous for x in mine):
            continue
        if any(x not in cancelled and x not in status for x in mine):
            continue  # a request's byte count is unknown
        put = sum(status[x] for x in mine if x not in cancelled and reqs[x][1] == "write")
        took = sum(status[x] for x in mine if x not in cancelled and reqs[x][1] == "read")
        left = len(outcome.final[fd])
        if left < put - took and cancel_reads:
            names = ", ".join(cancel_reads)
            problems.append(f"read {names} was reported cancelled ({cancelled[cancel_reads[0]]}) but "
                            f"{put - took - left} byte(s) written to pipe {fd} are neither in a completed read nor "
                            f"left in the pipe ({left} of {put - took} left): the cancelled read consumed them")
        elif left > put - took and cancel_writes:
            problems.append(f"write {', '.join(cancel_writes)} was reported cancelled "
                            f"({cancelled[cancel_writes[0]]}) but pipe {fd} holds {left - (put - took)} byte(s) "
                            f"more than the completed requests account for: the write landed")
    return problems


def cancel_honesty(sc: Scenario, outcome: RunOutcome) -> list[str]:
    """Writes reported cancelled whose bytes reached the file anyway, and (pipes) reads reported
    cancelled that consumed data (``_pipe_honesty``).

    A request the implementation says it cancelled (aio_cancel(fd, a) gave AIO_CANCELED, or an
    aio_error/aio_return/aio_waitcomplete reported ECANCELED) must have had no effect.  For a
    write on a regular file the bytes in its range must still be the initial ones; ranges that
    another, not cancelled write may cover are skipped (no false alarms).
    """
    obs = outcome.observation
    cancelled: dict[str, str] = {}
    for th, hist in zip(sc.threads, obs):
        for call, (text, res, ret) in zip(th.calls, hist):
            x = call.aiocb
            if call.kind == "aio_cancel" and x and res == 0 and ret == AIO_CANCELED:
                cancelled.setdefault(x, f"`{text}` returned AIO_CANCELED")
            elif call.kind == "aio_error" and res == 0 and ret == Errno.ECANCELED:
                cancelled.setdefault(x, f"`{text}` returned ECANCELED")
            elif call.kind in ("aio_return", "aio_waitcomplete") and res == Errno.ECANCELED and isinstance(ret, tuple):
                cancelled.setdefault(ret[1], f"`{text}` reaped it with ECANCELED")
    writes: dict[str, list[str]] = defaultdict(list)  # aiocb -> fds it was written to
    for th in sc.threads:
        for call in th.calls:
            if call.kind == "aio_write":
                writes[call.aiocb].append(call.fd)
            elif call.kind == "lio_listio":
                for e in call.entries:
                    if e.aiocb is not None and e.op.name == "LIO_WRITE":
                        writes[e.aiocb].append(sc.aiocbs[e.aiocb].fd)
    problems = _pipe_honesty(sc, outcome, cancelled)
    for x, why in cancelled.items():
        if len(writes.get(x, [])) != 1:
            continue  # not a write, or written twice: which submission was cancelled is ambiguous
        fd, spec = writes[x][0], sc.aiocbs[x]
        if fd not in outcome.initial or fd not in outcome.final or spec.offset < 0:
            continue
        lo, hi = spec.offset, spec.offset + spec.nbytes
        overlap = any(y != x and y not in cancelled and fds[0] == fd and sc.aiocbs[y].offset < hi
                      and sc.aiocbs[y].offset + sc.aiocbs[y].nbytes > lo for y, fds in writes.items() if fds)
        if overlap:
            continue
        before, after = outcome.initial[fd][lo:hi], outcome.final[fd][lo:hi]
        if before != after:
            changed = sum(1 for p, q in zip(before, after) if p != q) + abs(len(before) - len(after))
            problems.append(f"write {x} was reported cancelled ({why}) but {changed} of its {hi - lo} bytes "
                            f"at [{lo}, {hi}) in {fd} changed: the write landed")
    return problems


def fill_byte(sc: Scenario, aiocb: str) -> int:
    """The byte every adapter writes for ``aiocb`` (0xA0 + its index): what a write must leave."""
    return 0xA0 + sc.aiocb_index.get(aiocb, 0) % 64


def data_integrity(sc: Scenario, outcome: RunOutcome) -> list[str]:
    """Writes reported successful whose bytes are not in the file afterwards.

    A write counts as successful when aio_return or aio_waitcomplete handed out its full byte
    count.  Writes whose range another write may also cover are skipped (either could land last).
    """
    done: dict[str, str] = {}
    for th, hist in zip(sc.threads, outcome.observation):
        for call, (text, res, ret) in zip(th.calls, hist):
            if call.kind in ("aio_return", "aio_waitcomplete") and res == 0 and isinstance(ret, tuple):
                status, x = ret
                if x in sc.aiocbs and status == sc.aiocbs[x].nbytes:
                    done.setdefault(x, f"`{text}` returned {status}")
    writes: dict[str, list[str]] = defaultdict(list)
    read: set[str] = set()  # a read refills the buffer: a later write of it writes file data
    for th in sc.threads:
        for call in th.calls:
            if call.kind == "aio_write":
                writes[call.aiocb].append(call.fd)
            elif call.kind == "aio_read":
                read.add(call.aiocb)
            elif call.kind == "lio_listio":
                for e in call.entries:
                    if e.aiocb is not None and e.op.name == "LIO_WRITE":
                        writes[e.aiocb].append(sc.aiocbs[e.aiocb].fd)
                    elif e.aiocb is not None:
                        read.add(e.aiocb)
    problems = []
    for x, why in done.items():
        if len(writes.get(x, [])) != 1 or x in read:
            continue
        fd, spec = writes[x][0], sc.aiocbs[x]
        if fd not in outcome.initial or fd not in outcome.final or spec.offset < 0 or spec.nbytes <= 0:
            continue
        lo, hi = spec.offset, spec.offset + spec.nbytes
        if any(y != x and fds and fds[0] == fd and sc.aiocbs[y].offset < hi and
               sc.aiocbs[y].offset + sc.aiocbs[y].nbytes > lo for y, fds in writes.items()):
            continue
        got, want = outcome.final[fd][lo:hi], bytes([fill_byte(sc, x)]) * (hi - lo)
        if got != want:
            bad = sum(1 for p, q in zip(got, want) if p != q) + abs(len(got) - len(want))
            problems.append(f"write {x} was reported done ({why}) but {bad} of its {hi - lo} bytes at "
                            f"[{lo}, {hi}) in {fd} are not what it wrote")
    return problems


# -- reads ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Site:
    """One submission of an aiocb: thread, call index, operation, descriptor name."""

    thread: int
    call: int
    op: Op
    fd: str | None


def _sites(sc: Scenario) -> dict[str, list[_Site]]:
    """Every submission of every aiocb, in scenario order."""
    out: dict[str, list[_Site]] = defaultdict(list)
    for t, th in enumerate(sc.threads):
        for i, c in enumerate(th.calls):
            if c.kind in ("aio_read", "aio_write", "aio_fsync", "aio_mlock") and c.aiocb:
                out[c.aiocb].append(_Site(t, i, c.op, c.fd))
            elif c.kind == "lio_listio":
                for e in c.entries:
                    if e.aiocb is not None and e.op != Op.LIO_NOP:
                        out[e.aiocb].append(_Site(t, i, e.op, sc.aiocbs[e.aiocb].fd))
    return out


def _site_of(sites: dict[str, list[_Site]], x: str, t: int, i: int) -> _Site | None:
    """The submission a reap of ``x`` at thread ``t``, call ``i`` collected: the latest one of
    ``x`` earlier in the same thread, else the only one; None when that is ambiguous."""
    mine = [s for s in sites.get(x, []) if s.thread == t and s.call < i]
    if mine:
        return mine[-1]
    return sites[x][0] if len(sites.get(x, [])) == 1 else None


def _hx(b: int) -> str:
    return f"0x{b:02x}"


class _ReadJudge:
    """The facts every read of one run is judged with."""

    def __init__(self, sc: Scenario, outcome: RunOutcome) -> None:
        self.sc, self.out = sc, outcome
        self.sites = _sites(sc)
        self.read_aiocbs = {x for x, ss in self.sites.items() if any(s.op == Op.LIO_READ for s in ss)}
        # writes: (aiocb, site); the content is the fill byte unless a read refilled the buffer
        self.writes = [(x, s) for x, ss in self.sites.items() for s in ss if s.op == Op.LIO_WRITE]
        may_fail = {s.aiocb for s in sc.slots if s.may_fail}
        # per thread: (call index, write aiocb, its site, how we know) for writes known complete from that call on
        self.known: dict[int, list[tuple[int, str, _Site, str]]] = defaultdict(list)
        obs = outcome.observation
        for t, th in enumerate(sc.threads):
            hist = obs[t] if t < len(obs) else ()
            for i, (call, (text, res, ret)) in enumerate(zip(th.calls, hist)):
                where = f"`{text}` ({th.name} call {i + 1})"
                if call.kind in ("aio_return", "aio_waitcomplete") and res == 0 and isinstance(ret, tuple):
                    status, y = ret
                    site = _site_of(self.sites, y, t, i) if y in sc.aiocbs else None
                    if site is not None and site.op == Op.LIO_WRITE and status == sc.aiocbs[y].nbytes:
                        self.known[t].append((i, y, site, where))
                elif call.kind == "lio_listio" and call.mode == "LIO_WAIT" and res == 0:
                    for e in call.entries:
                        if e.aiocb is not None and e.op == Op.LIO_WRITE and e.aiocb not in may_fail:
                            self.known[t].append((i, e.aiocb, _Site(t, i, Op.LIO_WRITE, sc.aiocbs[e.aiocb].fd), where))

    def _fill(self, y: str) -> int | None:
        return None if y in self.read_aiocbs else fill_byte(self.sc, y)

    def judge(self, t: int, i: int, data: bytes) -> str | None:
        sc, obs = self.sc, self.out.observation
        text, res, ret = obs[t][i]
        if res != 0 or not isinstance(ret, tuple) or ret[1] not in sc.aiocbs:
            return None
        status, x = ret
        site = _site_of(self.sites, x, t, i)
        if site is None or site.op != Op.LIO_READ or status < 0:
            return None
        why = f"`{text}` returned {status}"
        if len(data) != status:
            return f"read {x} was reported done ({why}) but the implementation handed back {len(data)} byte(s)"
        kind = sc.files.get(site.fd or "")
        # writes that may have landed before the read completed: not submitted after the reap in the reaping thread
        maybe = [(y, s) for y, s in self.writes if s.fd == site.fd and not (s.thread == t and s.call > i)]
        if kind == FileKind.PIPE:
            return self._pipe(x, site.fd, data, maybe, why)
        if kind != FileKind.REGULAR or site.fd not in self.out.initial or sc.aiocbs[x].offset < 0:
            return None
        return self._regular(x, site, data, maybe, why)

    def _pipe(self, x: str, fd: str, data: bytes, maybe: list, why: str) -> str | None:
        fills = {self._fill(y) for y, _s in maybe}
        if None in fills or not data:
            return None  # a write of unknown content went to the pipe
        bad = [k for k, b in enumerate(data) if b not in fills]
        if not bad:
            return None
        can = ", ".join(f"{_hx(f)} (write {y})" for y, f in sorted({(y, self._fill(y)) for y, _s in maybe}))
        return (f"read {x} was reported done ({why}) but {len(bad)} of its {len(data)} bytes from pipe {fd} were never "
                f"written to it: byte {bad[0]} is {_hx(data[bad[0]])}, where a pipe only holds what writes put in "
                f"({can or 'no write to the pipe precedes the read'})")

    def _regular(self, x: str, site: _Site, data: bytes, maybe: list, why: str) -> str | None:
        sc, fd = self.sc, site.fd
        lo = sc.aiocbs[x].offset
        initial = self.out.initial[fd]  # type: ignore[index]
        before = [(y, s, w) for (i, y, s, w) in self.known.get(site.thread, []) if i < site.call and s.fd == fd]

        def covers(y: str, p: int) -> bool:
            return sc.aiocbs[y].offset <= p < sc.aiocbs[y].offset + sc.aiocbs[y].nbytes

        def allowed(p: int) -> dict[int, str] | None:
            """The bytes the file may hold at ``p`` when the read runs, each with where it comes from."""
            out: dict[int, str] = {}
            for y, _s in maybe:
                if covers(y, p):
                    f = self._fill(y)
                    if f is None:
                        return None  # a write of unknown content may cover this byte
                    out.setdefault(f, f"written by {y}")
            if not any(covers(y, p) for y, _s, _w in before):
                out.setdefault(initial[p] if p < len(initial) else 0, "the file's initial pattern")
            return out

        bad = []
        for k, got in enumerate(data):
            ok = allowed(lo + k)
            if ok is not None and got not in ok:
                bad.append(lo + k)
        if not bad:
            return None
        p = bad[0]
        alts = " or ".join(f"{_hx(b)} ({w})" for b, w in sorted((allowed(p) or {}).items()))
        known = [(y, w) for y, _s, w in before if covers(y, p)]
        because = (f"; write {known[0][0]} was reaped by {known[0][1]} before the read was submitted, so the "
                   "initial pattern is gone there") if known else ""
        return (f"read {x} was reported done ({why}) but {len(bad)} of its {len(data)} bytes at [{lo}, {lo + len(data)}) "
                f"in {fd} are not what the file held: at offset {p} it returned {_hx(data[p - lo])}, where only {alts} "
                f"is possible{because}")


def read_integrity(sc: Scenario, outcome: RunOutcome) -> list[str]:
    """Reads reported complete whose bytes (``outcome.reads``, keyed by the reaping call) the
    file could not have held: see the module's docstring.  Empty when nothing is wrong or the
    adapter reports no read data."""
    if not outcome.reads:
        return []
    judge = _ReadJudge(sc, outcome)
    problems = []
    for (t, i), data in sorted(outcome.reads.items()):
        if t < len(outcome.observation) and i < len(outcome.observation[t]):
            why = judge.judge(t, i, data)
            if why:
                problems.append(why)
    return problems
