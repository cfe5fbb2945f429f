"""``exec:CMD``: an implementation in any language, run as a child speaking JSON lines.

The protocol is in docs/conformance-protocol.md.  In short: the harness writes one JSON request
per line on the child's stdin (``hello``, one ``open`` per file, every scenario call, ``exit``)
and reads exactly one JSON answer per line on its stdout.  Calls are answered with the result in
the spec's vocabulary (errno by name, or a host errno number; AIO_* results by name), and the
``exit`` answer carries the final file contents for cancel honesty.

Threads: the harness runs each scenario thread on its own Python thread, as for every adapter,
but holds a lock around each request/answer pair, so the child sees one call at a time, in an
order that varies from run to run (calls of different threads interleave at call granularity).
What is exercised: requests in flight inside the implementation while the caller submits,
cancels, polls and waits.  What is not: two calls of the implementation running at the same
time (a call that blocks until another thread's call happens deadlocks: that is a timeout).

Protocol 2 adds notifications and read data: aiocb fields carry ``sigev``, ``lio_listio`` carries
its ``lio`` slot and list ``sigev``; the implementation lists the notification kinds it delivers in
``hello`` (``"notifications": ["SIGNAL"]``; a scenario asking for another kind is unsupported) and
reports each delivered notification as an event line ``{"event": "notify", "aiocb": name}`` or
``{"event": "notify", "lio": k}``, on its own line before any answer (at the latest before the
``exit`` answer); a reaped read may answer with ``"data"``, the hex of the bytes it read.  Protocol
1 implementations (no ``notifications``, no ``data``) still work.

Whatever the child does is a verdict, never a hung harness: no answer within the time limit is
"timeout" (the child is killed), an exit or a signal is "crash" (with the signal's name and the
end of its stderr), an answer that is not the protocol's is "crash" too ("answered garbage",
with the line).
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import shlex
import signal
import subprocess
import tempfile
import threading
import time

from collections import Counter

from ...spec.constants import AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, Errno, Op, Sigev
from ...spec.scenario import Call, Scenario
from ..observation import HOST_ERRNO_BASE, Notifications, RunOutcome, spec_errno
from .base import TIMED, Adapter, Unsupported, Workspace, run_threads, unsupported_reason

PROTOCOL_VERSION = 2
NOTIFICATION_KINDS = {"SIGNAL": Sigev.SIGNAL, "KEVENT": Sigev.KEVENT}
ALL_CALLS = frozenset({"aio_read", "aio_write", "aio_fsync", "lio_listio", "aio_cancel", "aio_error", "aio_return",
                       "aio_suspend", "aio_waitcomplete", "aio_mlock"})
_CANCEL = {"AIO_CANCELED": AIO_CANCELED, "AIO_NOTCANCELED": AIO_NOTCANCELED, "AIO_ALLDONE": AIO_ALLDONE}
_LIO_OPS = {Op.LIO_READ: "LIO_READ", Op.LIO_WRITE: "LIO_WRITE", Op.LIO_NOP: "LIO_NOP"}
_TIMEOUTS = {"none": None, "poll": {"sec": 0, "nsec": 0}, "timed": {"sec": 0, "nsec": int(TIMED * 1e9)},
             "invalid": {"sec": 0, "nsec": -1}}


class ProtocolError(Exception):
    """The child answered something that is not the protocol's."""


class ChildDied(Exception):
    """The child's stdout closed before it answered."""


def errno_value(v: object) -> int:
    """An errno from an answer: a name (``"EBADF"``; ``"0"`` or ``"OK"`` is success) or a host
    errno number; in the spec's numbering.  Raises ProtocolError for anything else."""
    import errno as host

    if isinstance(v, bool):
        raise ProtocolError(f"errno {v!r} is not a name or a number")
    if isinstance(v, int):
        return spec_errno(v) if v >= 0 else _bad(f"negative errno {v}")
    if isinstance(v, str):
        if v in ("0", "OK"):
            return 0
        name = "EAGAIN" if v == "EWOULDBLOCK" else v
        if name in Errno.__members__ and name != "ERESTART":
            return int(Errno[name])
        if hasattr(host, name) and isinstance(getattr(host, name), int):
            return HOST_ERRNO_BASE + getattr(host, name)
        if v.lstrip("-").isdigit():
            return errno_value(int(v))
    raise ProtocolError(f"errno {v!r} is not a name or a number")


def _bad(msg: str) -> int:
    raise ProtocolError(msg)


def _aiocb_fields(sc: Scenario, name: str, fd: str | None) -> dict:
    acb = sc.aiocbs[name]
    return {"aiocb": name, "fd": fd if fd is not None else acb.fd, "offset": acb.offset, "nbytes": acb.nbytes,
            "fill": 0xA0 + sc.aiocb_index.get(name, 0) % 64, "sigev": acb.sigev.name}


def request(sc: Scenario, t: int, call: Call) -> dict:
    """The protocol request for one scenario call of thread ``t`` (also used by the docs' example)."""
    r: dict = {"op": call.kind, "thread": t, "call": call.text}
    k = call.kind
    if k in ("aio_read", "aio_write", "aio_fsync", "aio_mlock"):
        r.update(_aiocb_fields(sc, call.aiocb, call.fd))
        if k == "aio_fsync":
            r["mode"] = call.fsync_op
    elif k == "lio_listio":
        r["mode"] = call.mode
        r["lio"] = call.lio
        r["sigev"] = call.sig.name if call.sig is not None else None
        r["list"] = [None if e.aiocb is None else
                     {"opcode": _LIO_OPS.get(e.op, e.op.name), **_aiocb_fields(sc, e.aiocb, None)}
                     for e in call.entries]
    elif k == "aio_cancel":
        r["fd"] = call.fd
        r["aiocb"] = call.aiocb
    elif k in ("aio_error", "aio_return"):
        r["aiocb"] = call.aiocb
    elif k == "aio_suspend":
        r["list"] = list(call.targets)
        r["timeout"] = _TIMEOUTS.get(call.timeout)
    elif k == "aio_waitcomplete":
        r["timeout"] = _TIMEOUTS.get(call.timeout)
    return r


def parse_answer(call: Call, ans: object) -> tuple[int, object]:
    """An answer line (decoded) as ``(result errno, retval)`` in the spec's shape."""
    if not isinstance(ans, dict) or "errno" not in ans:
        raise ProtocolError(f"expected an object with \"errno\" and \"retval\", got {json.dumps(ans)[:200]}")
    res = errno_value(ans["errno"])
    ret = ans.get("retval")
    k = call.kind
    if ret is None:
        return res, None
    if k == "aio_cancel":
        if ret not in _CANCEL:
            raise ProtocolError(f"aio_cancel retval must be AIO_CANCELED, AIO_NOTCANCELED or AIO_ALLDONE, got {ret!r}")
        return res, _CANCEL[ret]
    if k == "aio_error":
        return res, errno_value(ret)
    if k == "aio_return":
        if isinstance(ret, bool) or not isinstance(ret, int):
            raise ProtocolError(f"aio_return retval must be an integer or null, got {ret!r}")
        return res, (ret, call.aiocb)
    if k == "aio_waitcomplete":
        if not (isinstance(ret, dict) and isinstance(ret.get("aiocb"), str) and isinstance(ret.get("status"), int)):
            raise ProtocolError(f"aio_waitcomplete retval must be {{\"aiocb\": name, \"status\": n}}, got {ret!r}")
        return res, (ret["status"], ret["aiocb"])
    raise ProtocolError(f"{k} has no retval, got {ret!r}")


def answer_data(ans: object) -> bytes | None:
    """The ``data`` of an answer (the bytes a reaped read returned, in hex), or None."""
    data = ans.get("data") if isinstance(ans, dict) else None
    if data is None:
        return None
    try:
        return bytes.fromhex(data)
    except (TypeError, ValueError):
        raise ProtocolError(f"data must be the hex of the bytes read, got {str(data)[:60]!r}") from None


def parse_event(sc: Scenario, ev: dict) -> tuple[str, object]:
    """An event line as ``("aiocb", name)`` or ``("lio", slot)``; ProtocolError otherwise."""
    if ev.get("event") != "notify":
        raise ProtocolError(f"unknown event {json.dumps(ev)[:200]} (the only event is \"notify\")")
    if isinstance(ev.get("aiocb"), str) and ev["aiocb"] in sc.aiocbs:
        return "aiocb", ev["aiocb"]
    lios = {c.lio for th in sc.threads for c in th.calls if c.kind == "lio_listio"}
    if isinstance(ev.get("lio"), int) and not isinstance(ev.get("lio"), bool) and ev["lio"] in lios:
        return "lio", ev["lio"]
    raise ProtocolError(f"notify event {json.dumps(ev)[:200]} names no aiocb or lio_listio of the scenario")


class ExecSession:
    """One child process and its two pipes: ``ask`` writes a request and waits for the answer."""

    def __init__(self, argv: list[str], sc: Scenario | None = None) -> None:
        self.sc = sc
        self.events: Counter = Counter()  # ("aiocb", name) / ("lio", slot) -> notify events seen
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.failure: tuple[str, str] | None = None  # (status, detail): the first crash / garbage / hang
        threading.Thread(target=self._read, daemon=True, name="exec-reader").start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.put(line)
        self.lines.put(None)

    def fail(self, status: str, detail: str) -> None:
        if self.failure is None:
            self.failure = (status, detail)

    def ask(self, req: dict, timeout: float | None, limit: float | None = None) -> object:
        """Send ``req``, return the decoded answer; raises ChildDied / ProtocolError / TimeoutError
        (and records the first failure as the run's verdict)."""
        with self.lock:
            try:
                self.proc.stdin.write((json.dumps(req) + "\n").encode())  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, OSError, ValueError):
                pass  # the child is gone: reading tells how
            end = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    line = self.lines.get(timeout=None if end is None else max(0.0, end - time.monotonic()))
                except queue.Empty:
                    self.fail("timeout", f"no answer to `{req.get('call', req['op'])}` within {limit or timeout:g}s: "
                                         "the implementation's process was killed")
                    self.kill()
                    raise TimeoutError(req.get("call", req["op"])) from None
                if line is None:
                    self.lines.put(None)  # every later ask sees the end too
                    self.fail("crash", self.death(f"while answering `{req.get('call', req['op'])}`"))
                    raise ChildDied(req["op"])
                try:
                    ans = json.loads(line)
                except ValueError:
                    text = line.decode(errors="replace").strip()
                    self.fail("crash", f"the implementation answered garbage to `{req.get('call', req['op'])}`: "
                                       f"{text[:200]!r} is not a JSON line")
                    self.kill()
                    raise ProtocolError(text[:200]) from None
                if not (isinstance(ans, dict) and "event" in ans):
                    break
                try:  # an event line (a notification delivered): count it, the answer follows
                    self.events[parse_event(self.sc, ans) if self.sc is not None else ("?", None)] += 1
                except ProtocolError as e:
                    self.fail("crash", f"the implementation sent a bad event before answering "
                                       f"`{req.get('call', req['op'])}`: {e}")
                    self.kill()
                    raise
            if isinstance(ans, dict) and ("error" in ans or "unsupported" in ans):
                what = ans.get("error") or f"unsupported: {ans.get('unsupported')}"
                self.fail("crash", f"the implementation refused `{req.get('call', req['op'])}`: {what}")
                raise ProtocolError(str(what))
            return ans

    def death(self, when: str) -> str:
        try:
            rc = self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            return f"the implementation closed its stdout {when} but did not exit"
        if rc < 0:
            try:
                how = f"died with signal {signal.Signals(-rc).name}"
            except ValueError:
                how = f"died with signal {-rc}"
        else:
            how = f"exited with status {rc}"
        tail = self.stderr_tail()
        return f"the implementation's process {how} {when}" + (f": {tail}" if tail else "")

    def stderr_tail(self) -> str:
        try:
            self.stderr.seek(0)
            lines = self.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
        except (OSError, ValueError):
            return ""
        return " / ".join(lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()

    def close(self) -> None:
        self.kill()
        try:
            self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.stderr):
            try:
                f.close()  # type: ignore[union-attr]
            except (OSError, AttributeError):
                pass


class ExecDriver:
    """The ``Driver`` side of one run: scenario calls become requests (one at a time)."""

    def __init__(self, sc: Scenario, ws: Workspace, session: ExecSession, deadline: float) -> None:
        self.sc, self.ws, self.s, self.deadline = sc, ws, session, deadline
        self.limit = 0.0  # the run's time limit, for messages
        self.index = {id(c): t for t, th in enumerate(sc.threads) for c in th.calls}
        self.final: dict[str, bytes] | None = None

    def _left(self) -> float:
        return max(0.05, self.deadline - time.monotonic())

    def call(self, call: Call) -> tuple:
        ans = self.s.ask(request(self.sc, self.index.get(id(call), 0), call), self._left(), self.limit)
        try:
            res, ret = parse_answer(call, ans)
            data = answer_data(ans) if call.kind in ("aio_return", "aio_waitcomplete") else None
        except ProtocolError as e:
            self.s.fail("crash", f"the implementation answered garbage to `{call.text}`: {e}")
            self.s.kill()
            raise
        return (res, ret) if data is None else (res, ret, data)

    def notifications(self) -> Notifications:
        """The notify events the implementation sent (read after ``exit``)."""
        out = Notifications()
        for (what, who), n in self.s.events.items():
            if what == "aiocb":
                out.aiocbs[who] = n
            elif what == "lio":
                out.lists[who] = n
        return out

    def close(self, timeout: float) -> None:
        """Process exit: ``exit`` waits for in-flight requests and reports the files."""
        if self.s.failure is not None:
            return
        try:
            ans = self.s.ask({"op": "exit"}, max(0.05, timeout))
        except ChildDied:
            return
        except TimeoutError:
            raise TimeoutError(f"no answer to exit within {timeout:g}s: the implementation's process was killed") from None
        files = ans.get("files") if isinstance(ans, dict) else None
        if files is None:
            return  # optional: the harness reads the files itself
        try:
            self.final = {n: bytes.fromhex(h) for n, h in files.items()}
        except (AttributeError, TypeError, ValueError) as e:
            self.s.fail("crash", f"the implementation answered garbage to exit: files must map names to hex ({e})")


class ExecAdapter(Adapter):
    """``exec:CMD``: the implementation is the command ``CMD`` (split like a shell would),
    started once per run and spoken to in JSON lines (docs/conformance-protocol.md)."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("exec: needs a command, e.g. exec:./aio_protocol")
        self.name = f"exec:{command}"
        self.description = f"an external process speaking the JSON-lines protocol: {command}"
        self.startup = 5.0

    def run(self, sc: Scenario, timeout: float) -> RunOutcome:
        try:
            ws = Workspace(sc)
        except Unsupported as e:
            return RunOutcome("unsupported", (), str(e))
        with ws:
            try:
                s = ExecSession(self.argv, sc)
            except OSError as e:
                return RunOutcome("crash", (), f"cannot start {self.command!r}: {e}")
            try:
                return self._run(sc, ws, s, timeout)
            finally:
                s.close()

    def _run(self, sc: Scenario, ws: Workspace, s: ExecSession, timeout: float) -> RunOutcome:
        try:
            hello = s.ask({"op": "hello", "protocol": PROTOCOL_VERSION, "scenario": sc.name, "daemons": sc.daemons},
                          self.startup)
            if not isinstance(hello, dict) or not isinstance(hello.get("calls"), list):
                s.fail("crash", f"the implementation answered garbage to hello: {json.dumps(hello)[:200]} "
                                "(expected {\"protocol\": 1, \"calls\": [...]})")
                raise ProtocolError("hello")
            calls = frozenset(hello["calls"]) & ALL_CALLS
            kinds = hello.get("notifications") if isinstance(hello.get("notifications"), list) else []
            sigevs = frozenset({Sigev.NONE} | {NOTIFICATION_KINDS[k] for k in kinds if k in NOTIFICATION_KINDS})
            why = unsupported_reason(sc, calls, sigevs)
            if why:
                return RunOutcome("unsupported", (), why)
            for name, kind in sc.files.items():
                ans = s.ask({"op": "open", "fd": name, "path": ws.paths[name], "kind": kind.name.lower()},
                            self.startup)
                err = errno_value(ans.get("errno", 0)) if isinstance(ans, dict) else _bad("open")
                if err:
                    s.fail("crash", f"the implementation could not open {name} ({ws.paths[name]}): errno {err}")
                    raise ProtocolError("open")
            for name in sc.aiocbs:  # fill every control block before the threads start, as a C program would
                ans = s.ask({"op": "aiocb", **_aiocb_fields(sc, name, None)}, self.startup)
                if not isinstance(ans, dict):
                    s.fail("crash", f"the implementation answered garbage to aiocb {name}: {json.dumps(ans)[:200]}")
                    raise ProtocolError("aiocb")
        except (ProtocolError, ChildDied, TimeoutError):
            status, detail = s.failure or ("crash", "the implementation failed before the scenario started")
            return RunOutcome(status, (), detail, ws.initial, ws.snapshot())
        driver = ExecDriver(sc, ws, s, time.monotonic() + timeout)
        driver.limit = timeout
        out = run_threads(sc, driver, ws, timeout)  # type: ignore[arg-type]
        if s.failure is not None:
            status, detail = s.failure
            return RunOutcome(status, out.observation, detail, ws.initial, ws.snapshot())
        if out.status == "ok" and driver.final is not None:
            final = {n: driver.final.get(n, b"") for n in ws.initial}
            out = dataclasses.replace(out, final=final)
        return out


__all__ = ["ExecAdapter", "PROTOCOL_VERSION", "answer_data", "build_c_program", "c_program_source", "ProtocolError",
           "errno_value", "parse_answer", "parse_event", "request"]


def c_program_source():
    """The shipped C implementation of the protocol over <aio.h> (``c/aio_protocol.c``)."""
    from importlib import resources

    return resources.files("aiospec.conformance") / "c" / "aio_protocol.c"


def build_c_program(out_dir: str | os.PathLike, cc: str = "cc") -> str:
    """Compile ``c/aio_protocol.c`` into ``out_dir`` with the system compiler; returns the
    binary's path (use it as ``exec:PATH``).  Raises ``subprocess.CalledProcessError`` with the
    compiler's output when it does not build."""
    src = os.path.join(os.fspath(out_dir), "aio_protocol.c")
    exe = os.path.join(os.fspath(out_dir), "aio_protocol")
    with open(src, "w") as f:
        f.write(c_program_source().read_text())
    subprocess.run([cc, "-O2", "-o", exe, src, "-lrt"], check=True, capture_output=True, text=True)
    return exe
