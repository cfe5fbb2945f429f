"""Scenarios: which threads make which AIO calls, as data read from TOML.

A scenario fixes everything the model leaves open: the programs of the user threads, the
number of daemons, what each fd refers to, the profile, which I/O may fail and the sysctl
limits.  Job and lio *slots* are assigned statically here, one per submitting call site
(one per non-NULL lio entry), so the state can be a fixed-shape tuple.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .constants import FileKind, Op, Sigev

PROFILES = ("freebsd", "rtems")
BADFD = "BADFD"


class ScenarioError(Exception):
    """A malformed scenario: says which file, which line and what is wrong."""

    def __init__(self, source: str, line: int | None, message: str):
        self.source, self.line, self.message = source, line, message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Limits:
    """The sysctl knobs of section 1.5 that the model reads."""

    max_aio_queue_per_proc: int = 256
    max_queue_count: int = 1024
    max_aio_per_proc: int = 32
    max_buf_aio: int = 16
    enable_aio_unsafe: bool = False


@dataclass(frozen=True)
class AiocbSpec:
    """The user's struct aiocb: the fields the model looks at."""

    name: str
    fd: str = "F"
    offset: int = 0
    nbytes: int = 512
    sigev: Sigev = Sigev.NONE
    nbytes_too_big: bool = False  # aio_nbytes > IOSIZE_MAX
    past_eof: bool = False  # the file ends at or before aio_offset: a read transfers 0 bytes
    invalid_signo: bool = False


@dataclass(frozen=True)
class LioEntry:
    op: Op
    aiocb: str | None  # None = a NULL pointer in the list


@dataclass(frozen=True)
class Call:
    """One system call in a thread's program."""

    kind: str
    text: str
    line: int | None
    aiocb: str | None = None
    fd: str | None = None
    op: Op | None = None
    mode: str | None = None  # lio_listio: LIO_WAIT / LIO_NOWAIT / other
    entries: tuple[LioEntry, ...] = ()
    sig: Sigev | None = None  # lio_listio list notification
    targets: tuple[str | None, ...] = ()  # aio_suspend list
    timeout: str = "none"  # none | poll | timed | invalid
    fsync_op: str = "O_SYNC"
    slots: tuple[int, ...] = ()  # job slots this call submits
    lio: int = -1  # lio slot


@dataclass(frozen=True)
class JobSlot:
    """Static facts about one submission site: what the kaiocb will hold."""

    index: int
    aiocb: str
    op: Op
    fd: str
    thread: int
    call: int
    entry: int
    lio: int
    may_fail: bool


@dataclass(frozen=True)
class ThreadSpec:
    name: str
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    profile: str
    daemons: int
    files: dict[str, FileKind]
    aiocbs: dict[str, AiocbSpec]
    threads: tuple[ThreadSpec, ...]
    slots: tuple[JobSlot, ...]
    lio_count: int
    limits: Limits = field(default_factory=Limits)
    signals: bool = False
    source: str = "<scenario>"
    aiocb_index: dict[str, int] = field(default_factory=dict)

    @property
    def rtems(self) -> bool:
        return self.profile == "rtems"

    def aiocb_names(self) -> tuple[str, ...]:
        return tuple(self.aiocbs)

    def file_kind(self, fd: str) -> FileKind | None:
        return self.files.get(fd)


_CALL_RE = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.S)
_SUBMIT = {"aio_read": Op.LIO_READ, "aio_write": Op.LIO_WRITE, "aio_mlock": Op.LIO_MLOCK}
_ENTRY_OPS = {"read": Op.LIO_READ, "write": Op.LIO_WRITE, "sync": Op.LIO_SYNC, "nop": Op.LIO_NOP,
              "mlock": Op.LIO_MLOCK, "invalid": Op.LIO_INVALID}
_SIGEVS = {"NONE": Sigev.NONE, "SIGEV_NONE": Sigev.NONE, "SIGNAL": Sigev.SIGNAL, "SIGEV_SIGNAL": Sigev.SIGNAL,
           "KEVENT": Sigev.KEVENT, "SIGEV_KEVENT": Sigev.KEVENT, "INVALID": Sigev.INVALID}
CALL_KINDS = ("aio_read", "aio_write", "aio_mlock", "aio_fsync", "lio_listio", "aio_cancel", "aio_error",
              "aio_return", "aio_suspend", "aio_waitcomplete")


def _split_args(s: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in s:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _list_items(s: str, err) -> list[str]:
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")):
        err(f"expected a bracketed list, got {s!r}")
    inner = s[1:-1].strip()
    return [x.strip() for x in inner.split(",")] if inner else []


class _Loader:
    def __init__(self, source: str, text: str):
        self.source = source
        self.lines = text.splitlines()

    def line_of(self, needle: object, start: int = 1) -> int | None:
        """The most likely line of ``needle``: quoted, then as a key, then as a word."""
        n = str(needle)
        if not n:
            return None
        pats = [re.compile(r'["\']' + re.escape(n) + r'["\']'),
                re.compile(r"^\s*" + re.escape(n) + r"\s*="),
                re.compile(r"\[\s*[\w.]*\b" + re.escape(n) + r"\b[\w.]*\s*\]"),
                re.compile(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])"),
                re.compile(re.escape(n))]
        for pat in pats:
            for i in range(start, len(self.lines) + 1):
                if pat.search(self.lines[i - 1]):
                    return i
        return None

    def fail(self, message: str, needle: str | None = None, line: int | None = None):
        if line is None and needle:
            line = self.line_of(needle)
        raise ScenarioError(self.source, line, message)


def _name(tok: str, what: str, err) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok or ""):
        err(f"{what} must be a name, got {tok!r}")
    return tok


def parse_call(text: str, line: int | None, err) -> Call:
    """Parse one call written as in C, e.g. ``lio_listio(LIO_WAIT, [write a, read b])``."""
    m = _CALL_RE.match(text)
    if not m:
        err(f"cannot parse call {text!r}: expected name(arguments)")
    kind, argstr = m.group(1), m.group(2)
    args = _split_args(argstr)
    if kind in _SUBMIT:
        if kind == "aio_mlock":
            if len(args) != 1:
                err(f"{kind} takes (aiocb), got {len(args)} arguments")
            return Call(kind, text, line, aiocb=_name(args[0], "aiocb", err), op=_SUBMIT[kind])
        if len(args) != 2:
            err(f"{kind} takes (aiocb, fd), got {len(args)} arguments")
        return Call(kind, text, line, aiocb=_name(args[0], "aiocb", err), fd=_name(args[1], "fd", err), op=_SUBMIT[kind])
    if kind == "aio_fsync":
        if len(args) != 3:
            err("aio_fsync takes (O_SYNC|O_DSYNC, aiocb, fd)")
        if args[0] not in ("O_SYNC", "O_DSYNC"):
            err(f"aio_fsync op must be O_SYNC or O_DSYNC, got {args[0]!r}")
        return Call(kind, text, line, aiocb=_name(args[1], "aiocb", err), fd=_name(args[2], "fd", err),
                    op=Op.LIO_SYNC, fsync_op=args[0])
    if kind == "lio_listio":
        if len(args) not in (2, 3):
            err("lio_listio takes (LIO_WAIT|LIO_NOWAIT, [entries], [sigev])")
        mode = args[0]
        if mode not in ("LIO_WAIT", "LIO_NOWAIT", "LIO_BADMODE"):
            err(f"lio_listio mode must be LIO_WAIT or LIO_NOWAIT (or LIO_BADMODE), got {mode!r}")
        entries = []
        for item in _list_items(args[1], err):
            if item == "NULL":
                entries.append(LioEntry(Op.LIO_NOP, None))
                continue
            parts = item.split()
            if len(parts) != 2 or parts[0] not in _ENTRY_OPS:
                err(f"lio entry {item!r} must be 'OP aiocb' with OP in {sorted(_ENTRY_OPS)} or NULL")
            entries.append(LioEntry(_ENTRY_OPS[parts[0]], _name(parts[1], "aiocb", err)))
        sig = None
        if len(args) == 3:
            if args[2] not in _SIGEVS and args[2] != "NULL":
                err(f"lio_listio sigevent must be one of {sorted(_SIGEVS)} or NULL, got {args[2]!r}")
            sig = None if args[2] == "NULL" else _SIGEVS[args[2]]
        return Call(kind, text, line, mode=mode, entries=tuple(entries), sig=sig)
    if kind == "aio_cancel":
        if len(args) != 2:
            err("aio_cancel takes (fd, aiocb|NULL)")
        acb = None if args[1] == "NULL" else _name(args[1], "aiocb", err)
        return Call(kind, text, line, fd=_name(args[0], "fd", err), aiocb=acb)
    if kind in ("aio_error", "aio_return"):
        if len(args) != 1:
            err(f"{kind} takes (aiocb)")
        return Call(kind, text, line, aiocb=_name(args[0], "aiocb", err))
    if kind == "aio_suspend":
        if len(args) not in (1, 2):
            err("aio_suspend takes ([aiocbs], [timeout])")
        targets = tuple(None if x == "NULL" else _name(x, "aiocb", err) for x in _list_items(args[0], err))
        timeout = args[1] if len(args) == 2 else "none"
        if timeout not in ("none", "timed", "invalid", "NULL"):
            err(f"aio_suspend timeout must be NULL, timed or invalid, got {timeout!r}")
        return Call(kind, text, line, targets=targets, timeout="none" if timeout == "NULL" else timeout)
    if kind == "aio_waitcomplete":
        if len(args) > 1:
            err("aio_waitcomplete takes ([timeout])")
        timeout = args[0] if args else "none"
        if timeout not in ("none", "NULL", "poll", "timed", "invalid"):
            err(f"aio_waitcomplete timeout must be NULL, poll, timed or invalid, got {timeout!r}")
        return Call(kind, text, line, timeout="none" if timeout == "NULL" else timeout)
    err(f"unknown call {kind!r}; known calls: {', '.join(CALL_KINDS)}")
    raise AssertionError  # unreachable


MAX_THREADS = 6
MAX_REPEAT = MAX_THREADS  # copies of one thread
_TOP_KEYS = {"name", "description", "profile", "daemons", "files", "aiocbs", "threads", "may_fail", "limits", "signals"}


def load_text(text: str, source: str = "<string>", repeat: dict[str, int] | None = None) -> Scenario:
    """Parse and validate a scenario; every problem raises ScenarioError with a line.

    ``repeat`` sets ``repeat`` on the named threads, so that one file checks a family at
    the size asked for (the scenario's name then says which)."""
    ld = _Loader(source, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise ScenarioError(source, int(m.group(1)) if m else None, f"invalid TOML: {e}") from None
    if repeat:
        data = _with_repeats(data, repeat, source)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        k = sorted(unknown)[0]
        ld.fail(f"unknown key {k!r}; allowed: {', '.join(sorted(_TOP_KEYS))}", needle=k)
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        ld.fail("name must be a string", needle="name")
    if not isinstance(data.get("description", ""), str):
        ld.fail("description must be a string", needle="description")
    profile = data.get("profile", "freebsd")
    if profile not in PROFILES:
        ld.fail(f"profile must be one of {PROFILES}, got {profile!r}", needle="profile")
    daemons = data.get("daemons", 1)
    if not isinstance(daemons, int) or isinstance(daemons, bool) or not 0 <= daemons <= 8:
        ld.fail(f"daemons must be an integer from 0 to 8, got {daemons!r}", needle="daemons")
    signals = data.get("signals", False)
    if not isinstance(signals, bool):
        ld.fail("signals must be true or false", needle="signals")

    files: dict[str, FileKind] = {}
    raw_files = data.get("files", {"F": "regular"})
    if not isinstance(raw_files, dict):
        ld.fail("files must be a table of fd = kind", needle="files")
    for fd, kind in raw_files.items():
        if not isinstance(kind, str) or kind.upper() not in FileKind.__members__:
            ld.fail(f"file {fd!r}: kind must be one of {[k.lower() for k in FileKind.__members__]}, got {kind!r}", needle=fd)
        if fd == BADFD:
            ld.fail(f"{BADFD} is reserved for an invalid descriptor", needle=fd)
        files[fd] = FileKind[kind.upper()]

    limits_raw = data.get("limits", {})
    if not isinstance(limits_raw, dict):
        ld.fail("limits must be a table", needle="limits")
    try:
        limits = Limits(**limits_raw)
    except TypeError as e:
        ld.fail(f"bad limits: {e}", needle="limits")
    for k, v in limits_raw.items():
        if k != "enable_aio_unsafe" and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            ld.fail(f"limit {k} must be a non-negative integer, got {v!r}", needle=k)

    aiocbs: dict[str, AiocbSpec] = {}
    raw_aiocbs = data.get("aiocbs", {})
    if not isinstance(raw_aiocbs, dict):
        ld.fail("aiocbs must be a table of tables", needle="aiocbs")
    allowed_acb = {"fd", "offset", "nbytes", "sigev", "nbytes_too_big", "invalid_signo", "past_eof"}
    may_fail = data.get("may_fail", [])
    if not isinstance(may_fail, list) or not all(isinstance(x, str) for x in may_fail):
        ld.fail("may_fail must be a list of aiocb names", needle="may_fail")
    raw_threads = data.get("threads")
    if isinstance(raw_threads, list) and isinstance(raw_aiocbs, dict):
        raw_threads, raw_aiocbs, may_fail = _expand_repeats(raw_threads, dict(raw_aiocbs), list(may_fail), ld)
    for an, spec in raw_aiocbs.items():
        if not isinstance(spec, dict):
            ld.fail(f"aiocb {an!r} must be a table", needle=an)
        bad = set(spec) - allowed_acb
        if bad:
            ld.fail(f"aiocb {an!r}: unknown field {sorted(bad)[0]!r}; allowed: {sorted(allowed_acb)}", needle=sorted(bad)[0])
        sig = spec.get("sigev", "NONE")
        if not isinstance(sig, str) or sig not in _SIGEVS:
            ld.fail(f"aiocb {an!r}: sigev must be one of {sorted(_SIGEVS)}", needle="sigev")
        if not isinstance(spec.get("fd", "F"), str):
            ld.fail(f"aiocb {an!r}: fd must be a name", needle="fd")
        for k in ("offset", "nbytes"):
            if k in spec and (not isinstance(spec[k], int) or isinstance(spec[k], bool)):
                ld.fail(f"aiocb {an!r}: {k} must be an integer", needle=k)
        if spec.get("nbytes", 512) < 0:
            ld.fail(f"aiocb {an!r}: nbytes is a size_t and cannot be negative", needle="nbytes")
        aiocbs[an] = AiocbSpec(an, fd=spec.get("fd", "F"), offset=spec.get("offset", 0), nbytes=spec.get("nbytes", 512),
                               sigev=_SIGEVS[sig], nbytes_too_big=bool(spec.get("nbytes_too_big", False)),
                               past_eof=bool(spec.get("past_eof", False)),
                               invalid_signo=bool(spec.get("invalid_signo", False)))

    if not isinstance(raw_threads, list) or not raw_threads:
        ld.fail("a scenario needs [[threads]] with at least one thread", needle="threads")
    if len(raw_threads) > MAX_THREADS:
        ld.fail(f"at most {MAX_THREADS} threads (got {len(raw_threads)}, counting repeats)", needle="threads")
    threads: list[ThreadSpec] = []
    slots: list[JobSlot] = []
    lio_count = 0
    seen_names = set()
    cursor = 1
    for ti, th in enumerate(raw_threads):
        if not isinstance(th, dict):
            ld.fail("each [[threads]] entry must be a table", needle="threads")
        bad = set(th) - {"name", "calls"}
        if bad:
            ld.fail(f"thread {ti + 1}: unknown key {sorted(bad)[0]!r}", needle=sorted(bad)[0])
        tname = th.get("name", f"T{ti + 1}")
        if not isinstance(tname, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", tname):
            ld.fail(f"thread {ti + 1}: name must be an identifier string, got {tname!r}", needle="name")
        if tname in seen_names:
            hits = [i for i, ln in enumerate(ld.lines, 1) if f'"{tname}"' in ln or f"'{tname}'" in ln]
            ld.fail(f"duplicate thread name {tname!r}", line=hits[1] if len(hits) > 1 else None)
        seen_names.add(tname)
        calls_raw = th.get("calls", [])
        if not isinstance(calls_raw, list) or not all(isinstance(c, str) for c in calls_raw):
            ld.fail(f"thread {tname}: calls must be a list of strings", needle=tname)
        calls = []
        for ci, ctext in enumerate(calls_raw):
            line = ld.line_of(ctext, cursor) if ctext.strip() else None
            if line is None:
                line = ld.line_of("calls", cursor)
            cursor = line or cursor

            def err(msg, _line=line, _t=tname):
                raise ScenarioError(source, _line, f"thread {_t}: {msg}")

            call = parse_call(ctext, line, err)
            for acb in [call.aiocb] + [e.aiocb for e in call.entries] + list(call.targets):
                if acb is not None and acb not in aiocbs:
                    aiocbs[acb] = AiocbSpec(acb)
            for fd in [call.fd] + [aiocbs[e.aiocb].fd for e in call.entries if e.aiocb]:
                if fd is not None and fd != BADFD and fd not in files:
                    err(f"unknown fd {fd!r}; declare it under [files] (or use {BADFD})")
            if call.kind in ("aio_read", "aio_write", "aio_fsync", "aio_mlock"):
                slot = len(slots)
                fd = call.fd if call.fd is not None else aiocbs[call.aiocb].fd
                slots.append(JobSlot(slot, call.aiocb, call.op, fd, ti, ci, -1, -1, call.aiocb in may_fail))
                call = _replace(call, slots=(slot,))
            elif call.kind == "lio_listio":
                lio = lio_count
                lio_count += 1
                got = []
                for ei, e in enumerate(call.entries):
                    if e.aiocb is None:
                        got.append(-1)
                        continue
                    slot = len(slots)
                    slots.append(JobSlot(slot, e.aiocb, e.op, aiocbs[e.aiocb].fd, ti, ci, ei, lio, e.aiocb in may_fail))
                    got.append(slot)
                call = _replace(call, slots=tuple(got), lio=lio)
            calls.append(call)
        threads.append(ThreadSpec(tname, tuple(calls)))
    for acb in may_fail:
        if acb not in aiocbs:
            ld.fail(f"may_fail names unknown aiocb {acb!r}", needle=acb)
    if len(slots) > 12:
        ld.fail(f"at most 12 submitted requests per scenario (got {len(slots)})", needle="threads")
    return Scenario(name=name, description=data.get("description", ""), profile=profile, daemons=daemons,
                    files=files, aiocbs=aiocbs, threads=tuple(threads), slots=tuple(slots), lio_count=lio_count,
                    limits=limits, signals=signals, source=source,
                    aiocb_index={n: i for i, n in enumerate(aiocbs)})


def aiocbs_of(call: Call) -> list[str]:
    """The aiocb names a call mentions, in order (its own, its lio entries', its suspend list's)."""
    return [a for a in [call.aiocb] + [e.aiocb for e in call.entries] + list(call.targets) if a is not None]


def program_aiocbs(calls) -> list[str]:
    """The aiocbs a program uses, each once, in order of first use."""
    out: list[str] = []
    for c in calls:
        out += [a for a in aiocbs_of(c) if a not in out]
    return out


def _without_aiocbs(call: Call) -> Call:
    """The call with its text and aiocb names blanked: what a rename must leave alone."""
    return _replace(call, text="", aiocb=None, entries=tuple(LioEntry(e.op, None) for e in call.entries),
                    targets=tuple(None for _ in call.targets))


def _with_repeats(data: dict, repeat: dict[str, int], source: str) -> dict:
    """``data`` with ``repeat = n`` set on each named thread (checked like one written in the file)."""
    threads = data.get("threads")
    threads = threads if isinstance(threads, list) else []
    names = [th.get("name", f"T{i + 1}") if isinstance(th, dict) else None for i, th in enumerate(threads)]
    for name, n in repeat.items():
        if not 1 <= n <= MAX_REPEAT:
            raise ScenarioError(source, None, f"--repeat {name}={n}: a thread can be repeated 1 to {MAX_REPEAT} times")
        if name not in names:
            raise ScenarioError(source, None, f"--repeat {name}={n}: no thread named {name!r}"
                                + (f" (threads: {', '.join(str(x) for x in names if x)})" if any(names) else ""))
    data = dict(data, threads=[dict(th, repeat=repeat[nm]) if nm in repeat else th for th, nm in zip(threads, names)])
    base = data.get("name", Path(source).stem)
    if isinstance(base, str):
        data["name"] = f"{base}[{','.join(f'{k}={v}' for k, v in repeat.items())}]"
    return data


def _expand_repeats(raw_threads: list, raw_aiocbs: dict, may_fail: list, ld) -> tuple[list, dict, list]:
    """``repeat = n`` on a thread: n copies T1..Tn, each with its own aiocbs (a -> a1..an, with
    a's fields), so a scenario family ("n requests racing one cancel") is one file."""
    out = []
    for ti, th in enumerate(raw_threads):
        if not isinstance(th, dict) or "repeat" not in th:
            out.append(th)
            continue
        n = th["repeat"]
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_REPEAT:
            ld.fail(f"thread {ti + 1}: repeat must be an integer from 1 to {MAX_REPEAT}, got {n!r}", needle="repeat")
        calls = th.get("calls", [])
        if not isinstance(calls, list) or not all(isinstance(c, str) for c in calls):
            ld.fail(f"thread {ti + 1}: calls must be a list of strings", needle="calls")
        parsed = []
        for ctext in calls:
            def err(msg, _t=ti, _c=ctext):
                raise ScenarioError(ld.source, ld.line_of(_c, 1), f"thread {_t + 1}: {msg}")
            parsed.append(parse_call(ctext, None, err))
        names = program_aiocbs(parsed)
        base = th.get("name", f"T{ti + 1}")
        for k in range(1, n + 1):
            ren = {a: f"{a}{k}" for a in names}
            pat = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b") if names else None
            copy = {key: v for key, v in th.items() if key not in ("repeat", "name", "calls")}
            copy["name"] = f"{base}{k}" if isinstance(base, str) else base
            copy["calls"] = [pat.sub(lambda m: ren[m.group(1)], c) if pat else c for c in calls]
            for before, ctext in zip(parsed, copy["calls"]):  # the rename touched aiocbs and nothing else
                after = parse_call(ctext, None, lambda msg: None)
                if aiocbs_of(after) != [ren[a] for a in aiocbs_of(before)] or \
                        _without_aiocbs(after) != _without_aiocbs(before):
                    ld.fail(f"thread {ti + 1}: repeat cannot rename the aiocbs of {before.text!r}: an aiocb name is "
                            f"also a word of the call (an fd, an op); rename the aiocb", needle="repeat")
            out.append(copy)
            for a in names:
                if a in raw_aiocbs:
                    raw_aiocbs[ren[a]] = raw_aiocbs[a]
                if a in may_fail:
                    may_fail.append(ren[a])
        for a in names:
            raw_aiocbs.pop(a, None)
            if a in may_fail:
                may_fail.remove(a)
        shared = [a for other in raw_threads if isinstance(other, dict) and other is not th
                  for c in other.get("calls", []) if isinstance(c, str)
                  for a in names if re.search(rf"\b{re.escape(a)}\b", c)]
        if shared:
            ld.fail(f"thread {ti + 1}: repeat gives each copy its own aiocbs, but {shared[0]!r} is also used by "
                    f"another thread", needle="repeat")
    return out, raw_aiocbs, may_fail


def _replace(call: Call, **kw) -> Call:
    from dataclasses import replace

    return replace(call, **kw)


def load_file(path: str | Path, repeat: dict[str, int] | None = None) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ScenarioError(str(p), None, f"cannot read scenario: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(p), None, "scenario is not UTF-8 text") from None
    return load_text(text, str(p), repeat)


def builtin_names() -> list[str]:
    files = resources.files("aiospec") / "scenarios"
    return sorted(f.name[:-5] for f in files.iterdir() if f.name.endswith(".toml"))


DEFAULT_SCENARIO = "default"


def load(name_or_path: str, repeat: dict[str, int] | None = None) -> Scenario:
    """A built-in scenario by name, else a TOML file path (``repeat``: see ``load_text``)."""
    if name_or_path in builtin_names():
        res = resources.files("aiospec") / "scenarios" / f"{name_or_path}.toml"
        return load_text(res.read_text(), f"{name_or_path}.toml", repeat)
    p = Path(name_or_path)
    if p.exists():
        return load_file(p, repeat)
    raise ScenarioError(name_or_path, None,
                        f"no such scenario file or built-in name; built-ins: {', '.join(builtin_names())}")
