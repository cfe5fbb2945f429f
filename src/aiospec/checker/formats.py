"""Counterexample files: export a Trace as ITF, plain JSON or text, and read any of them back.

A trace file is useful only if it can be checked again: every format records, per step, the
actor (by name), the label (by name, not by index, so files survive a re-numbering of the
label registry) and the nondeterministic choice.  That is the path the checker followed, and
importing a file rebuilds it against the scenario's model, checking at every step that the
actor really could take that step there.  Replaying the path with ``trace.replay`` then gives
back exactly the trace that was exported.

ITF (the Informal Trace Format of Apalache and Quint, https://apalache-mc.org/docs/adr/015adr-trace.html):

- ``#meta``: ``format`` ("ITF"), ``format-description``, ``source`` (the scenario), ``profile``,
  ``property``, ``message`` and ``description``.
- ``vars``: ``action_taken``, ``events``, then the structured state (``jobs``, ``aiocbs``,
  ``lios``, ``kaioinfo``, ``lists``, ``globals``, ``threads``, ``daemons``) and ``view``.
- every state: ``#meta: {"index": i}`` and one field per variable.  Integers are
  ``{"#bigint": "n"}``, records are objects, lists are arrays, tuples ``{"#tup": [...]}``.
- ``action_taken`` is the step that led to the state, in the spirit of Quint's
  ``mbt::actionTaken`` but as a record, because a step here is more than an action name:
  ``{actor, label, c_function, lines, lock, choice}``.  In state 0 the label is ``"init"``.
  ``choice`` is a Quint-style variant ``{"tag": ..., "value": ...}``: ``None`` (value
  ``{"#tup": []}``), ``Reason`` (a string: ``wakeup``/``timeout``/``signal``) or ``IoResult``
  (a record ``{status, errno, error}``).
- the structured state holds every model variable exactly (field names are the lower-cased
  attribute names of ``spec/variables.py``; program counters are label names; list members are
  job and lio names), so a file can be decoded back into the model's State; ``view`` is the
  same state in the seed's vocabulary (``trace.describe``), for people reading the file.

Plain JSON is a superset of what ``aiospec check --trace-out`` wrote before (scenario, property,
message, initial, steps with actor, label, c_function, lines, choice, changes, events), plus
``format``, ``profile`` and ``states`` (the structured state with plain integers).  Text is
``trace.format_trace``; its step lines carry actor, label and choice, so it imports too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from ..spec.actions import BY_NAME, LABELS
from ..spec.constants import Errno, errname
from ..spec.model import KIND_BIO, KIND_DAEMON, KIND_TASK, KIND_THREAD, Actor, Model
from ..spec.program import DONE
from ..spec.scenario import ScenarioError, builtin_names, load
from ..spec.state import S_ACTORS, S_AIOCBS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS, Event, State
from ..spec.variables import DM, G, J, K, L, Q, T, U
from .trace import LIST_C_NAMES, Trace, describe, format_trace

ITF_FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
JSON_FORMAT = "aiospec-trace/1"
FORMATS = ("itf", "json", "text")
SUFFIXES = {"itf": ".itf.json", "json": ".json", "text": ".txt"}
ITF_VARS = ["action_taken", "events", "jobs", "aiocbs", "lios", "kaioinfo", "lists", "globals", "threads",
            "daemons", "view"]


class TraceFileError(Exception):
    """A trace file that cannot be read or does not replay; the message says where and why."""


@dataclass
class LoadedTrace:
    """What a trace file gives back: enough to replay it (``replay(model, path, prop, message)``)."""

    scenario: str
    profile: str | None
    prop: str
    message: str
    path: list[tuple[Actor, int, object]]
    format: str
    states: list[State] | None = None  # decoded from the file, when it has them (ITF, JSON)
    scenario_file: str | None = None  # where a scenario that is not built in was read from


# --------------------------------------------------------------------------------------------------
# small encoders


def _big(n: int) -> dict[str, str]:
    return {"#bigint": str(int(n))}


def _plain(n: int) -> int:
    return int(n)


def _unbig(v: Any, where: str) -> int:
    if isinstance(v, dict) and set(v) == {"#bigint"} and isinstance(v["#bigint"], str):
        try:
            return int(v["#bigint"])
        except ValueError:
            pass
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise TraceFileError(f"{where}: expected an integer, got {json.dumps(v)[:60]}")


def event_text(e: Event) -> str:
    """One line for an event: what traces and diagrams show of it."""
    if e.kind in ("kassert", "panic"):
        return f"{e.kind.upper()} {e.a}: {e.b}"
    if e.kind in ("uaf", "stale", "nullki"):
        return f"{e.kind.upper()}: {e.b}"
    if e.kind == "return":
        _ci, kind, result = e.b
        ret = f", retval {e.c}" if e.c is not None else ""
        return f"{kind} returns {errname(result)}{ret}"
    args = ", ".join(repr(x) for x in (e.a, e.b, e.c) if x is not None)
    return f"{e.kind}({args})"


def choice_json(c: object) -> object:
    """A choice as plain JSON: null, a string, or [status, errno]."""
    return list(c) if isinstance(c, tuple) else c


def choice_from_json(c: object, where: str) -> object:
    if c is None or isinstance(c, str):
        return c
    if isinstance(c, list) and len(c) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in c):
        return (c[0], c[1])
    raise TraceFileError(f"{where}: bad choice {json.dumps(c)[:60]} (null, a string or [status, errno])")


def choice_itf(c: object) -> dict:
    """A choice as a Quint-style variant."""
    if c is None:
        return {"tag": "None", "value": {"#tup": []}}
    if isinstance(c, str):
        return {"tag": "Reason", "value": c}
    if isinstance(c, tuple) and len(c) == 2:
        return {"tag": "IoResult", "value": {"status": _big(c[0]), "errno": _big(c[1]), "error": errname(c[1])}}
    raise ValueError(f"cannot encode choice {c!r}")


def choice_from_itf(v: Any, where: str) -> object:
    if not isinstance(v, dict) or "tag" not in v:
        raise TraceFileError(f"{where}: choice must be a variant {{\"tag\": ..., \"value\": ...}}")
    tag, val = v["tag"], v.get("value")
    if tag == "None":
        return None
    if tag == "Reason" and isinstance(val, str):
        return val
    if tag == "IoResult" and isinstance(val, dict):
        return (_unbig(val.get("status"), where + ".status"), _unbig(val.get("errno"), where + ".errno"))
    raise TraceFileError(f"{where}: unknown choice variant {json.dumps(v)[:80]}")


# --------------------------------------------------------------------------------------------------
# the structured state


def _pc_name(p: int) -> str:
    return "DONE" if p == DONE else LABELS[p].name


def _pc_value(name: Any, where: str) -> int:
    if name == "DONE":
        return DONE
    if not isinstance(name, str) or name not in BY_NAME:
        raise TraceFileError(f"{where}: unknown label {name!r}")
    return BY_NAME[name].index


def _lio_names(m: Model) -> list[str]:
    return [f"lio{i}" for i in range(m.sc.lio_count)]


def _daemon_names(m: Model) -> list[str]:
    return [f"aiod{d}" for d in range(m.sc.daemons)]


def _thread_names(m: Model) -> list[str]:
    return [m.actor_name(Actor(KIND_THREAD, a)) for a in range(m.n_actors)]


def encode_state(m: Model, s: State, num: Callable[[int], Any] = _big) -> dict[str, Any]:
    """Every variable of a state, as records keyed by the names people use (job a, lio0, T1, aiod0)."""

    def rec(fields, values, special=None):
        out = {}
        for name, val in zip(fields.names, values):
            key = name.lower()
            out[key] = special[name](val) if special and name in special else num(val)
        return out

    jobs = {m.job_name(j): rec(J, job) for j, job in enumerate(s[S_JOBS])}
    aiocbs = {name: rec(U, s[S_AIOCBS][i]) for i, name in enumerate(m.sc.aiocbs)}
    lios = {n: rec(L, s[S_LIOS][i]) for i, n in enumerate(_lio_names(m))}
    lists = {}
    for q, lst in enumerate(s[S_LISTS]):
        lists[LIST_C_NAMES[q]] = [f"lio{x}" if q == Q.LIOS else m.job_name(x) for x in lst]
    glob = rec(G, s[S_GLOB], {"TASK_PC": _pc_name})
    threads = {n: rec(T, s[S_ACTORS][a], {"PC": _pc_name}) for a, n in enumerate(_thread_names(m))}
    daemons = {n: rec(DM, s[S_DAEMONS][d], {"PC": _pc_name}) for d, n in enumerate(_daemon_names(m))}
    return {"jobs": jobs, "aiocbs": aiocbs, "lios": lios, "kaioinfo": rec(K, s[S_KI]), "lists": lists,
            "globals": glob, "threads": threads, "daemons": daemons}


def decode_state(m: Model, d: dict[str, Any], where: str) -> State:
    """The inverse of ``encode_state`` (integers plain or ``#bigint``); raises TraceFileError."""

    def get(obj: Any, key: str, w: str) -> Any:
        if not isinstance(obj, dict) or key not in obj:
            raise TraceFileError(f"{w}: missing {key!r}")
        return obj[key]

    def rec(fields, obj, w, special=None) -> tuple:
        out = []
        for name in fields.names:
            v = get(obj, name.lower(), w)
            out.append(special[name](v, f"{w}.{name.lower()}") if special and name in special
                       else _unbig(v, f"{w}.{name.lower()}"))
        return tuple(out)

    jobs_d = get(d, "jobs", where)
    jobs = tuple(rec(J, get(jobs_d, m.job_name(j), f"{where}.jobs"), f"{where}.jobs.{m.job_name(j)}")
                 for j in range(len(m.sc.slots)))
    aiocbs_d = get(d, "aiocbs", where)
    aiocbs = tuple(rec(U, get(aiocbs_d, n, f"{where}.aiocbs"), f"{where}.aiocbs.{n}") for n in m.sc.aiocbs)
    lios_d = get(d, "lios", where)
    lios = tuple(rec(L, get(lios_d, n, f"{where}.lios"), f"{where}.lios.{n}") for n in _lio_names(m))
    ki = rec(K, get(d, "kaioinfo", where), f"{where}.kaioinfo")
    job_index = {m.job_name(j): j for j in range(len(m.sc.slots))}
    lio_index = {n: i for i, n in enumerate(_lio_names(m))}
    lists_d = get(d, "lists", where)
    lists = []
    for q in range(Q.width):
        cname = LIST_C_NAMES[q]
        names = get(lists_d, cname, f"{where}.lists")
        index = lio_index if q == Q.LIOS else job_index
        if not isinstance(names, list) or any(x not in index for x in names):
            raise TraceFileError(f"{where}.lists.{cname}: expected a list of names from {sorted(index)}")
        lists.append(tuple(index[x] for x in names))
    glob = rec(G, get(d, "globals", where), f"{where}.globals", {"TASK_PC": _pc_value})
    threads_d = get(d, "threads", where)
    actors = tuple(rec(T, get(threads_d, n, f"{where}.threads"), f"{where}.threads.{n}", {"PC": _pc_value})
                   for n in _thread_names(m))
    daemons_d = get(d, "daemons", where)
    daemons = tuple(rec(DM, get(daemons_d, n, f"{where}.daemons"), f"{where}.daemons.{n}", {"PC": _pc_value})
                    for n in _daemon_names(m))
    return (jobs, aiocbs, lios, ki, tuple(lists), glob, actors, daemons)


# --------------------------------------------------------------------------------------------------
# export


def scenario_file_of(m: Model) -> str | None:
    """The absolute path of a scenario that is not built in (so that its traces can be re-read)."""
    if m.sc.name in builtin_names():
        return None
    p = Path(m.sc.source)
    return str(p.resolve()) if p.exists() else None


def to_itf(m: Model, t: Trace) -> dict[str, Any]:
    """The trace as an ITF document (a dict ready for json.dumps)."""
    states = []
    for i, s in enumerate(t.states):
        if i == 0:
            action = {"actor": "", "label": "init", "c_function": "", "lines": "", "lock": "",
                      "choice": choice_itf(None)}
            events: list[dict] = []
        else:
            st = t.steps[i - 1]
            action = {"actor": st.actor, "label": st.label.name, "c_function": st.label.c_function,
                      "lines": st.label.lines, "lock": st.label.lock, "choice": choice_itf(st.choice)}
            events = [{"kind": e.kind, "text": event_text(e)} for e in st.events]
        state = {"#meta": {"index": i}, "action_taken": action, "events": events, **encode_state(m, s),
                 "view": describe(m, s)}
        states.append(state)
    return {
        "#meta": {"format": "ITF", "format-description": ITF_FORMAT_DESCRIPTION, "source": t.scenario,
                  "profile": m.sc.profile, "property": t.prop, "message": t.message,
                  "description": f"aiospec counterexample for {t.prop} in scenario {t.scenario}",
                  **({"scenario_file": scenario_file_of(m)} if scenario_file_of(m) else {})},
        "vars": list(ITF_VARS),
        "states": states,
    }


def to_json(m: Model, t: Trace) -> dict[str, Any]:
    """The trace as plain JSON: the steps as the text shows them, plus every state."""
    return {
        "format": JSON_FORMAT, "scenario": t.scenario, "profile": m.sc.profile,
        **({"scenario_file": scenario_file_of(m)} if scenario_file_of(m) else {}), "property": t.prop,
        "message": t.message, "initial": t.initial,
        "steps": [{"n": st.number, "actor": st.actor, "label": st.label.name, "c_function": st.label.c_function,
                   "lines": st.label.lines, "lock": st.label.lock, "choice": choice_json(st.choice),
                   "changes": [{"var": k, "from": a, "to": b} for k, a, b in st.changes],
                   "events": [{"kind": e.kind, "text": event_text(e)} for e in st.events]}
                  for st in t.steps],
        "states": [encode_state(m, s, _plain) for s in t.states],
    }


def dumps(m: Model, t: Trace, fmt: str) -> str:
    """The text of a trace file in one of FORMATS."""
    if fmt == "itf":
        return json.dumps(to_itf(m, t), indent=1) + "\n"
    if fmt == "json":
        return json.dumps(to_json(m, t), indent=1) + "\n"
    if fmt == "text":
        return format_trace(t) + "\n"
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------------------------------
# import


@dataclass
class _Raw:
    scenario: str
    profile: str | None
    prop: str
    message: str
    steps: list[tuple[str, str, object]]  # (actor name, label name, choice)
    states: list[dict] | None
    format: str
    scenario_file: str | None = None


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise TraceFileError(f"{where}: expected a string, got {json.dumps(v)[:60]}")
    return v


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _parse_itf(doc: dict) -> _Raw:
    meta = doc.get("#meta")
    states = doc.get("states")
    if not isinstance(meta, dict) or not isinstance(states, list) or not states:
        raise TraceFileError("ITF: needs a '#meta' object and a non-empty 'states' list")
    scenario = _str(meta.get("source"), "ITF #meta.source (the scenario)")
    steps = []
    for i, st in enumerate(states):
        w = f"ITF state {i}"
        if not isinstance(st, dict):
            raise TraceFileError(f"{w}: expected an object")
        if i == 0:
            continue
        act = st.get("action_taken")
        if not isinstance(act, dict):
            raise TraceFileError(f"{w}: missing the 'action_taken' record")
        steps.append((_str(act.get("actor"), f"{w}.action_taken.actor"),
                      _str(act.get("label"), f"{w}.action_taken.label"),
                      choice_from_itf(act.get("choice"), f"{w}.action_taken.choice")))
    has_states = all("jobs" in st for st in states)
    return _Raw(scenario, meta.get("profile"), str(meta.get("property", "")), str(meta.get("message", "")),
                steps, states if has_states else None, "itf", _opt_str(meta.get("scenario_file")))


def _parse_json(doc: dict) -> _Raw:
    scenario = _str(doc.get("scenario"), "JSON 'scenario'")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list):
        raise TraceFileError("JSON: 'steps' must be a list")
    steps = []
    for i, st in enumerate(raw_steps, 1):
        w = f"JSON step {i}"
        if not isinstance(st, dict):
            raise TraceFileError(f"{w}: expected an object")
        steps.append((_str(st.get("actor"), f"{w}.actor"), _str(st.get("label"), f"{w}.label"),
                      choice_from_json(st.get("choice"), f"{w}.choice")))
    states = doc.get("states")
    if states is not None and (not isinstance(states, list) or len(states) != len(steps) + 1):
        raise TraceFileError("JSON: 'states' must list one state more than there are steps")
    return _Raw(scenario, doc.get("profile"), str(doc.get("property", "")), str(doc.get("message", "")),
                steps, states, "json", _opt_str(doc.get("scenario_file")))


_HEADER = re.compile(r"^Counterexample for (?P<prop>\S*) in scenario (?P<sc>\S+): ?(?P<msg>.*)$")
_STEP = re.compile(r"^\s*(?P<n>\d+)\. (?P<actor>\S+)\s+.*? \[(?P<label>[A-Z][A-Z0-9_]*)\](?: \[(?P<choice>.*)\])?\s*$")
_IO = re.compile(r"^I/O result \((?P<st>-?\d+), (?P<err>[A-Z]+|-?\d+)\)$")


def _parse_text(text: str) -> _Raw:
    lines = text.splitlines()
    m = _HEADER.match(lines[0]) if lines else None
    if not m:
        raise TraceFileError("text: the first line must be 'Counterexample for PROP in scenario NAME: message'")
    steps = []
    for ln, line in enumerate(lines[1:], 2):
        sm = _STEP.match(line)
        if not sm:
            continue
        if int(sm["n"]) != len(steps) + 1:
            raise TraceFileError(f"text line {ln}: step {sm['n']} out of order (expected {len(steps) + 1})")
        c = sm["choice"]
        choice: object = None
        if c is not None:
            io = _IO.match(c)
            if io:
                err = io["err"]
                try:
                    errno = int(err) if err.lstrip("-").isdigit() else int(Errno[err])
                except KeyError:
                    raise TraceFileError(f"text line {ln}: unknown errno {err}") from None
                choice = (int(io["st"]), errno)
            else:
                choice = c
        steps.append((sm["actor"], sm["label"], choice))
    return _Raw(m["sc"], None, m["prop"], m["msg"], steps, None, "text")


def parse(text: str) -> _Raw:
    """Recognise the format and read the steps; no model needed yet."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise TraceFileError(f"not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise TraceFileError("JSON: expected an object at the top level")
        if "#meta" in doc and "states" in doc:
            return _parse_itf(doc)
        if "steps" in doc:
            return _parse_json(doc)
        raise TraceFileError("JSON but neither ITF ('#meta' and 'states') nor an aiospec trace ('steps')")
    if stripped.startswith("Counterexample for"):
        return _parse_text(stripped)
    raise TraceFileError("not a trace: expected ITF or aiospec JSON, or the text of 'aiospec check'")


def actor_by_name(m: Model) -> dict[str, Actor]:
    """Every actor of the model by the name traces use for it."""
    out = {m.actor_name(Actor(KIND_THREAD, a)): Actor(KIND_THREAD, a) for a in range(m.n_actors)}
    out.update({f"aiod{d}": Actor(KIND_DAEMON, d) for d in range(m.sc.daemons)})
    out["sync_task"] = Actor(KIND_TASK, 0)
    out.update({f"bio({m.job_name(j)})": Actor(KIND_BIO, j) for j in range(len(m.sc.slots))})
    return out


def resolve(m: Model, steps: list[tuple[str, str, object]]) -> list[tuple[Actor, int, object]]:
    """The replayable path of named steps, checking each step is enabled where the file takes it.

    Daemons: files name the real daemon; the checker's paths (and ``replay``) name daemons by their
    position in the canonical state (sorted daemons), so the position is recomputed from the
    real state, exactly as ``replay`` maps it back.
    """
    actors = actor_by_name(m)
    s = m.initial()
    path = []
    for i, (aname, lname, choice) in enumerate(steps, 1):
        if aname not in actors:
            raise TraceFileError(f"step {i}: unknown actor {aname!r} in scenario {m.sc.name} "
                                 f"(actors: {', '.join(actors)})")
        if lname not in BY_NAME:
            raise TraceFileError(f"step {i}: unknown label {lname!r}")
        real, lb = actors[aname], BY_NAME[lname]
        enabled = [(a, l, c) for a, l, c in m.enabled(s) if a == real]
        if not any(l.index == lb.index and c == choice for _a, l, c in enabled):
            can = ", ".join(sorted({f"{l.name}{'' if c is None else f' [{c}]'}" for _a, l, c in enabled})) or "nothing"
            raise TraceFileError(f"step {i}: {aname} cannot take {lname}"
                                 f"{'' if choice is None else f' [{choice}]'} here (it can take: {can})")
        path_actor = real
        if real.kind == KIND_DAEMON and m.symmetric:
            path_actor = Actor(KIND_DAEMON, m.daemon_order(s).index(real.index))
        path.append((path_actor, lb.index, choice))
        s = m.step(s, real, lb, choice, canonical=False).target
    return path


def model_for(scenario: str, profile: str | None, scenario_file: str | Path | None = None) -> Model:
    """The model a trace file refers to: a built-in name, or the scenario file given instead."""
    try:
        sc = load(str(scenario_file) if scenario_file else scenario)
    except ScenarioError as e:
        hint = "" if scenario_file else " (for a trace of a scenario file, give that file with --scenario)"
        raise TraceFileError(f"unknown scenario {scenario!r}: {e}{hint}") from None
    if profile and profile != sc.profile:
        if profile not in ("freebsd", "rtems"):
            raise TraceFileError(f"unknown profile {profile!r}")
        sc = replace(sc, profile=profile)
    return Model(sc)


def loads(text: str, scenario_file: str | Path | None = None) -> tuple[Model, LoadedTrace]:
    """Read a trace file's text (any format) into its model and replayable path."""
    raw = parse(text)
    if scenario_file is None and raw.scenario not in builtin_names() and raw.scenario_file \
            and Path(raw.scenario_file).is_file():
        scenario_file = raw.scenario_file  # the file the trace says it came from
    m = model_for(raw.scenario, raw.profile, scenario_file)
    if scenario_file and m.sc.name != raw.scenario:
        raise TraceFileError(f"the trace is of scenario {raw.scenario!r} but {scenario_file} is {m.sc.name!r}")
    path = resolve(m, raw.steps)
    states = None
    if raw.states is not None:
        states = [decode_state(m, d, f"state {i}") for i, d in enumerate(raw.states)]
    return m, LoadedTrace(raw.scenario, raw.profile, raw.prop, raw.message, path, raw.format, states,
                          str(scenario_file) if scenario_file else None)


def load_trace(path: str | Path, scenario_file: str | Path | None = None) -> tuple[Model, LoadedTrace]:
    """Read a trace file (ITF, JSON or text) from disk; every problem is a TraceFileError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise TraceFileError(f"{p}: is a directory") from None
    except OSError as e:
        raise TraceFileError(f"{p}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise TraceFileError(f"{p}: not UTF-8 text") from None
    try:
        return loads(text, scenario_file)
    except TraceFileError as e:
        raise TraceFileError(f"{p}: {e}") from None


def first_state_mismatch(loaded: LoadedTrace, t: Trace) -> int | None:
    """The index of the first state the file records differently from the replay (None: all agree).

    A mismatch means the file was edited or the model changed since it was written.
    """
    if loaded.states is None:
        return None
    for i, (a, b) in enumerate(zip(loaded.states, t.states)):
        if a != b:
            return i
    return None if len(loaded.states) == len(t.states) else min(len(loaded.states), len(t.states))
