"""Counterexample traces: replay a recorded path and describe each step by what changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec.actions import LABELS, Label
from ..spec.constants import (
    JOBFLAG_NAMES,
    KAIOFLAG_NAMES,
    LIOFLAG_NAMES,
    Alloc,
    CancelFn,
    HandleFn,
    errname,
)
from ..spec.model import Actor, Model
from ..spec.program import calls_of
from ..spec.state import S_ACTORS, S_AIOCBS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS, Event, State
from ..spec.variables import DM, G, J, K, L, Q, T, U

LIST_C_NAMES = {Q.ALL: "kaio_all", Q.JOBQ: "kaio_jobqueue", Q.DONE: "kaio_done", Q.LIOS: "kaio_liojoblist",
                Q.SYNCQ: "kaio_syncqueue", Q.SYNCREADY: "kaio_syncready", Q.AIOJOBS: "aio_jobs"}


def _bits(v: int, names: dict[int, str]) -> str:
    return "|".join(n for b, n in names.items() if v & b) or "0"


def describe(m: Model, s: State, ghosts: bool = False) -> dict[str, str]:
    """A flat name -> value view of a state, in the seed's vocabulary."""
    out: dict[str, str] = {}
    jn = m.job_name
    for j, job in enumerate(s[S_JOBS]):
        if job[J.ALLOC] == Alloc.NEVER:
            continue
        p = f"job {jn(j)}"
        out[f"{p}.alloc"] = Alloc(job[J.ALLOC]).name.lower()
        out[f"{p}.jobflags"] = _bits(job[J.FLAGS], JOBFLAG_NAMES)
        out[f"{p}.cancel_fn"] = {0: "NULL", 1: "aio_cancel_daemon_job", 2: "aio_cancel_sync"}[int(CancelFn(job[J.CANCEL_FN]))]
        if job[J.HANDLE_FN]:
            out[f"{p}.handle_fn"] = HandleFn(job[J.HANDLE_FN]).name.lower()
        out[f"{p}.(status,error)"] = f"({job[J.KSTATUS]}, {errname(job[J.KERROR])})"
        if job[J.SEQNO] >= 0:
            out[f"{p}.seqno"] = str(job[J.SEQNO])
        if job[J.PENDING]:
            out[f"{p}.pending"] = str(job[J.PENDING])
        if job[J.BIO]:
            out[f"{p}.bio"] = ("", "in flight", "buffer released", "done")[job[J.BIO]]
        if ghosts:
            for f in ("G_COMPLETES", "G_NOTIFIES", "G_POSTS", "G_RETURNED", "G_CALLBACKS", "G_COMMITTED"):
                out[f"{p}.{f.lower()}"] = str(job[getattr(J, f)])
    for i, name in enumerate(m.sc.aiocbs):
        u = s[S_AIOCBS][i]
        if u != (0, 0):
            out[f"aiocb {name} (user)"] = f"status={u[U.USTATUS]} error={errname(u[U.UERROR])}"
    for lj, lio in enumerate(s[S_LIOS]):
        if lio[L.ALLOC] == Alloc.NEVER:
            continue
        p = f"lio{lj}"
        out[f"{p}.alloc"] = Alloc(lio[L.ALLOC]).name.lower()
        out[f"{p}.lioj_count"] = str(lio[L.COUNT])
        out[f"{p}.lioj_finished_count"] = str(lio[L.FINISHED])
        out[f"{p}.lioj_flags"] = _bits(lio[L.LFLAGS], LIOFLAG_NAMES)
    ki = s[S_KI]
    out["p_aioinfo"] = "allocated" if ki[K.EXISTS] else "NULL"
    if ki[K.EXISTS]:
        out["kaio_flags"] = _bits(ki[K.KFLAGS], KAIOFLAG_NAMES)
        out["kaio_count"] = str(ki[K.COUNT])
        out["kaio_active_count"] = str(ki[K.ACTIVE])
        if ki[K.BUFFERS]:
            out["kaio_buffer_count"] = str(ki[K.BUFFERS])
        if ki[K.LEAKED]:
            out["kaio_mtx"] = "held forever"
    for q, lst in enumerate(s[S_LISTS]):
        if q == Q.LIOS:
            out[LIST_C_NAMES[q]] = "[" + ", ".join(f"lio{x}" for x in lst) + "]"
        else:
            out[LIST_C_NAMES[q]] = "[" + ", ".join(jn(x) for x in lst) + "]"
    g = s[S_GLOB]
    out["num_queue_count"] = str(g[G.NQUEUE])
    out["jobseqno"] = str(g[G.JOBSEQNO])
    out["kaio_sync_task"] = ("pending" if g[G.TASK_PENDING] else "idle") + \
        ("" if LABELS[g[G.TASK_PC]].name == "TASK_START" else f", at {LABELS[g[G.TASK_PC]].name}")
    for a, act in enumerate(s[S_ACTORS]):
        name = m.actor_name(Actor(0, a))
        calls = calls_of(m.sc, a)
        if act[T.PC] < 0:
            out[f"{name}"] = "returned from every call"
        else:
            call = calls[act[T.CALL]]
            sleeping = " (asleep)" if LABELS[act[T.PC]].sleeps else ""
            out[f"{name}"] = f"in {call.text} at {LABELS[act[T.PC]].name}{sleeping}"
    for d, dm in enumerate(s[S_DAEMONS]):
        nm = LABELS[dm[DM.PC]].name
        out[f"aiod{d}"] = "idle" if nm == "D_SELECT" else f"{nm} job {jn(dm[DM.JOB])}"
    resume = getattr(m, "resume_text", None)  # a SplitModel: steps suspended at a cut
    if resume is not None:
        out.update(resume(s))
    return out


@dataclass
class Step:
    number: int
    actor: str
    label: Label
    choice: object
    events: tuple[Event, ...]
    changes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Trace:
    scenario: str
    prop: str
    message: str
    initial: dict[str, str]
    steps: list[Step]
    states: list[State]


def replay(m: Model, path: list[tuple], prop: str = "", message: str = "") -> Trace:
    """Re-run a path of (actor, label index, choice) from the initial state."""
    s = m.initial()  # the real state; the path names daemons by their place in the canonical one
    states = [s]
    prev = describe(m, s)
    steps = []
    for i, (actor, li, choice) in enumerate(path, 1):
        lb = LABELS[li]
        if actor.kind == 1 and m.symmetric:
            actor = Actor(1, m.daemon_order(s)[actor.index])
        tr = m.step(s, actor, lb, choice, canonical=False)
        cur = describe(m, tr.target)
        changes = [(k, prev.get(k, "-"), cur.get(k, "-")) for k in list(dict.fromkeys([*prev, *cur]))
                   if prev.get(k) != cur.get(k)]
        steps.append(Step(i, m.actor_name(actor), lb, choice, tr.events, changes))
        s = tr.target
        states.append(s)
        prev = cur
    return Trace(m.sc.name, prop, message, describe(m, states[0]), steps, states)


def _choice_text(c: object) -> str:
    if c is None:
        return ""
    if isinstance(c, tuple) and len(c) == 2:
        return f" [I/O result ({c[0]}, {errname(c[1])})]"
    return f" [{c}]"


def format_trace(t: Trace, width: int = 100) -> str:
    """Numbered steps: actor, C function (lines), label, and only the state that changed."""
    lines = [f"Counterexample for {t.prop} in scenario {t.scenario}: {t.message}",
             f"{len(t.steps)} steps.", ""]
    for st in t.steps:
        lines.append(f"{st.number:3d}. {st.actor:<10} {st.label.c_function} ({st.label.lines}) "
                     f"[{st.label.name}]{_choice_text(st.choice)}")
        for k, a, b in st.changes:
            if a == "-":
                lines.append(f"       {k} = {b}")
            else:
                lines.append(f"       {k}: {a} -> {b}")
        for e in st.events:
            if e.kind in ("kassert", "panic", "uaf", "stale", "nullki"):
                lines.append(f"       !! {e.kind.upper()}: {e.b if e.kind in ('kassert', 'panic') else e.b}")
            elif e.kind == "return":
                _ci, kind, result = e.b
                ret = f", retval {e.c}" if e.c is not None else ""
                lines.append(f"       -> {kind} returns {errname(result)}{ret}")
    return "\n".join(lines)
