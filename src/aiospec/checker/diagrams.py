"""Sequence diagrams of a counterexample: who did what to the kernel state, in which order.

A race is a story about several threads and one shared structure; a numbered list of 23 steps
hides the story, a sequence diagram shows it.  Lifelines: the user threads, the exiting thread
(rundown), the AIO daemons, the sync task and bio completions (the last four only when they act),
and one lifeline for the shared kernel state ("kaioinfo": the process's struct kaioinfo, the
global aio_jobs queue, the jobs and lios).  Every step is an arrow from its actor to kaioinfo,
labelled with its number, C function, lines and the locks it holds; the key state changes are a
note beside kaioinfo; a call's return is a dashed arrow back.  Two things are drawn because they
are what races in vfs_aio.c are made of:

- a *saved successor*: while a thread is inside ``aio_cancel_job`` with ``kaio_mtx`` dropped
  (CB_DAEMON .. CAN_END), its TAILQ_FOREACH_SAFE walk holds ``jobn`` in a local; the diagram
  draws a bar on that thread's lifeline and marks, in every note, changes to the job it holds;
- the violation: the last step in red, with the property and its message.

Two outputs: Mermaid (``sequenceDiagram``, for Markdown renderers) and SVG/PNG through
graphviz (``neato -n2`` with every position computed here, because dot has no sequence layout).
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass, field

from ..spec.actions import LABELS
from ..spec.constants import JOBFLAG_NAMES
from ..spec.model import KIND_THREAD, Actor, Model
from ..spec.program import calls_of
from ..spec.state import HALTING, S_ACTORS, State
from ..spec.variables import T
from .formats import actor_by_name, event_text
from .trace import Trace

KERNEL = "kaioinfo"
LOCK_TEXT = {"kaio": "kaio_mtx", "job": "aio_job_mtx", "job>kaio": "aio_job_mtx, kaio_mtx", "none": "no lock"}
CALLBACK_LABELS = frozenset({"CB_DAEMON", "CB_SYNC", "CB_COMPLETE", "CAN_END"})
MAX_NOTES = 6


class DiagramError(Exception):
    """A diagram that cannot be drawn (graphviz missing, or it failed)."""


@dataclass
class StepView:
    """What the diagram shows of one step."""

    number: int
    actor: str
    function: str
    lines: str
    lock: str
    notes: list[tuple[str, bool]] = field(default_factory=list)  # (text, concerns a saved jobn)
    returns: list[str] = field(default_factory=list)
    violation: str | None = None


def _flag_diff(a: str, b: str) -> str:
    old = set() if a in ("-", "0") else set(a.split("|"))
    new = set() if b in ("-", "0") else set(b.split("|"))
    order = list(JOBFLAG_NAMES.values())
    parts = [f"+{f}" for f in order if f in new - old] + [f"-{f}" for f in order if f in old - new]
    return " ".join(parts)


def saved_jobn(m: Model, s: State) -> dict[str, str]:
    """Actor name -> the job its cancel walk holds as ``jobn`` while kaio_mtx is dropped."""
    out = {}
    for a, act in enumerate(s[S_ACTORS]):
        if act[T.PC] >= 0 and LABELS[act[T.PC]].name in CALLBACK_LABELS:
            b = act[T.B]
            out[m.actor_name(Actor(KIND_THREAD, a))] = "NULL" if b < 0 else m.job_name(b)
    return out


def _job_name_of(m: Model, key: str) -> str | None:
    if key.startswith("job "):
        return key[4:].split(".", 1)[0]
    if key.startswith("aiocb "):
        return key[6:].split(" ", 1)[0]
    return None


def step_views(m: Model, t: Trace, prop: str | None = None) -> list[StepView]:
    """The notes of every step: grouped per job, most telling first, at most MAX_NOTES lines."""
    actor_names = set(actor_by_name(m))
    views = []
    for i, st in enumerate(t.steps):
        before, after = t.states[i], t.states[i + 1]
        watched = set(saved_jobn(m, before).values()) | set(saved_jobn(m, after).values())
        v = StepView(st.number, st.actor, st.label.c_function, st.label.lines, LOCK_TEXT.get(st.label.lock, st.label.lock))
        per_job: dict[str, list[tuple[int, str]]] = {}
        other: list[tuple[int, str]] = []
        for k, a, b in st.changes:
            if k in actor_names:
                continue  # the actor's own program counter: the arrow already says where it is
            job = _job_name_of(m, k)
            if a == "-" and not k.endswith(".alloc") and (k.startswith("job ") or k.startswith("lio")):
                continue  # a new record's initial fields: "allocated" says it
            if k.startswith("job "):
                fld = k.split(".", 1)[1]
                if fld == "jobflags":
                    d = _flag_diff(a, b)
                    if d:
                        per_job.setdefault(job, []).append((1, d))
                elif fld == "alloc":
                    per_job.setdefault(job, []).append((0, {"freed": "FREED (uma_zfree)", "live": "allocated"}.get(b, b)))
                elif fld == "(status,error)":
                    per_job.setdefault(job, []).append((2, b))
                elif fld in ("cancel_fn", "pending") and b != "-":
                    per_job.setdefault(job, []).append((3, f"{fld} = {b}"))
                continue
            if k.startswith("aiocb "):
                continue  # the user's copy; the return arrow says what the caller got
            if k.startswith("kaio_") and b.startswith("[") or k == "aio_jobs":
                other.append((0, f"{k}: {b}"))
            elif k == "kaio_sync_task":
                other.append((1, f"sync task: {b}"))
            elif k == "p_aioinfo":
                other.append((0, f"p_aioinfo: {b}"))
            elif k.startswith("lio") and "." in k:
                other.append((2, f"{k.split('.')[0]}: allocated" if b == "live" and k.endswith(".alloc") else f"{k} = {b}"))
            elif k in ("kaio_flags",) and a != "-":
                other.append((1, f"{k}: {b}"))
        notes: list[tuple[int, str, bool]] = []
        for job, items in per_job.items():
            items.sort()
            notes.append((min(p for p, _ in items), f"job {job}: " + ", ".join(x for _, x in items), job in watched))
        for p, x in other:
            notes.append((p, x, False))
        notes.sort(key=lambda n: n[0])
        shown = [(x, w) for _, x, w in notes]
        if len(shown) > MAX_NOTES:
            shown = shown[:MAX_NOTES - 1] + [(f"... {len(shown) - MAX_NOTES + 1} more changes", False)]
        prev_saved, now_saved = saved_jobn(m, before), saved_jobn(m, after)
        if st.actor in now_saved and prev_saved.get(st.actor) != now_saved[st.actor]:
            shown.insert(0, (f"{st.actor} saves jobn = {now_saved[st.actor]}, drops kaio_mtx", True))
        v.notes = shown
        for e in st.events:
            if e.kind == "return":
                v.returns.append(event_text(e))
            elif e.kind in HALTING:
                text = event_text(e)
                name = prop or t.prop
                v.violation = text if not name or text.startswith(name) else f"{name}: {text}"
        views.append(v)
    if views and views[-1].violation is None and t.prop:
        views[-1].violation = f"{t.prop}: {t.message}" if t.message else None
    return views


def lifelines(m: Model, t: Trace) -> list[str]:
    """User threads always; the exit, daemons, sync task and bios when they act; kaioinfo last."""
    acting = {st.actor for st in t.steps}
    names = [m.actor_name(Actor(KIND_THREAD, a)) for a in range(m.n_threads)]
    for n in actor_by_name(m):
        if n not in names and n in acting:
            names.append(n)
    return names + [KERNEL]


def _program(m: Model, name: str) -> str:
    for a in range(m.n_actors):
        if m.actor_name(Actor(KIND_THREAD, a)) == name:
            return "\n".join(c.text for c in calls_of(m.sc, a)) if a < m.n_threads else "process exit: aio_proc_rundown"
    return {"sync_task": "aio_schedule_fsync"}.get(name, "aio_daemon" if name.startswith("aiod") else "")


# --------------------------------------------------------------------------------------------------
# Mermaid


def _mm(s: str) -> str:
    """Text safe inside a Mermaid message: no statement separators or entity starts."""
    return "".join({"#": "#35;", ";": "#59;"}.get(c, c) for c in s.replace("->", "→"))


def to_mermaid(m: Model, t: Trace) -> str:
    """The trace as a Mermaid sequenceDiagram."""
    views = step_views(m, t)
    ids = {n: f"P{i}" for i, n in enumerate(lifelines(m, t))}
    k = ids[KERNEL]
    out = ["sequenceDiagram",
           f"    title {_mm(f'{t.prop} in scenario {t.scenario}: {len(t.steps)} steps')}"]
    for n, pid in ids.items():
        out.append(f"    participant {pid} as {_mm(n)}")
    bars: dict[str, bool] = {}
    for idx, v in enumerate(views):
        a = ids[v.actor]
        last = idx == len(views) - 1 and v.violation
        if last:
            out.append("    rect rgb(255, 215, 215)")
        arrow = "-x" if last else "->>"
        out.append(f"    {a}{arrow}{k}: {v.number}. {_mm(v.function)} ({_mm(v.lines)}) [{_mm(v.lock)}]")
        if v.notes:
            text = "<br/>".join(("⚠ " if w else "") + _mm(x) for x, w in v.notes)
            out.append(f"    Note right of {k}: {text}")
        for r in v.returns:
            out.append(f"    {k}-->>{a}: {_mm(r)}")
        saved = saved_jobn(m, t.states[idx + 1])
        for n, pid in ids.items():
            if n in saved and not bars.get(n):
                out.append(f"    activate {pid}")
                bars[n] = True
            elif n not in saved and bars.get(n):
                out.append(f"    deactivate {pid}")
                bars[n] = False
        if last:
            out.append(f"    Note over {a},{k}: ✖ {_mm(v.violation)}")
            out.append("    end")
    for n, on in bars.items():
        if on:
            out.append(f"    deactivate {ids[n]}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------
# graphviz


COL = 200.0  # points between lifelines
NOTE_W = 330.0  # width of the note column
LINE_H = 13.0
ARROW_DY = 26.0  # from the top of a row to its arrow (the step's label sits above the arrow)
FONT = "Helvetica"


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _h(s: str) -> str:
    return html.escape(s, quote=True)


def to_dot(m: Model, t: Trace) -> str:
    """DOT text for ``neato -n2``: every node placed here (y grows downwards, negated for graphviz)."""
    views = step_views(m, t)
    names = lifelines(m, t)
    x = {n: 80.0 + i * COL for i, n in enumerate(names)}
    kx = x[KERNEL]
    note_x = kx + 30.0 + NOTE_W / 2
    nodes: list[str] = []
    edges: list[str] = []
    back: list[str] = []

    def node(name: str, px: float, py: float, **attrs: str) -> None:
        a = ", ".join(f"{k}={v}" for k, v in attrs.items())
        nodes.append(f"  {name} [pos=\"{px:.1f},{-py:.1f}!\", {a}];")

    title = f"{t.prop} in scenario {t.scenario} ({m.sc.profile} profile): {len(t.steps)} steps"
    mid = (x[names[0]] + note_x + NOTE_W / 2) / 2 - 40
    node("title", mid, 0, shape="plaintext", fontname=_q(FONT + "-Bold"), fontsize="16", label=_q(title))
    node("legend", mid, 20, shape="plaintext", fontname=_q(FONT), fontsize="9", fontcolor=_q("#555555"),
         label=_q("arrow: one atomic step (C function, lines, [locks held]); yellow note: what it changed; "
                  "dashed green: a call returns; orange: a cancel walk's saved successor jobn while kaio_mtx is dropped"))
    progs = {n: (_program(m, n) if n != KERNEL else "struct kaioinfo, aio_jobs,\njobs, lios").split("\n")
             for n in names}
    head_lines = max(len(p) for p in progs.values())
    head_h = 22.0 + 10.0 * head_lines
    head_y = 50.0 + head_h / 2
    for n in names:
        small = "<BR/>".join(_h(line) for line in progs[n])
        lab = f"<<B>{_h(n)}</B><BR/><FONT POINT-SIZE=\"8\">{small}</FONT>>"
        fill = "#dfe8f5" if n != KERNEL else "#f3e6c8"
        node(f"head_{names.index(n)}", x[n], head_y, shape="box", style="\"rounded,filled\"", fillcolor=_q(fill),
             fontname=_q(FONT), fontsize="12", fixedsize="true", width=str(round((COL - 16) / 72, 2)),
             height=str(round(head_h / 72, 2)), label=lab)
    y = head_y + head_h / 2 + 40.0
    rows = []
    for v in views:
        h = max(len(v.notes) * LINE_H + 12.0, 30.0) + 16.0
        rows.append((v, y, h))
        y += h + len(v.returns) * 24.0
    bottom = y + 10.0
    if views and views[-1].violation:
        v, ry, h = rows[-1]
        node("band", (x[names[0]] + note_x + NOTE_W / 2) / 2 - 20, ry + h / 2 + 4, shape="box", style="filled",
             color=_q("#ffd6d6"), fillcolor=_q("#ffd6d6"), fixedsize="true",
             width=str(round((note_x + NOTE_W / 2 - x[names[0]] + 80) / 72, 2)), height=str(round((h + 16) / 72, 2)),
             label='""')
    # the saved-successor bars and the violation band go first so that arrows are drawn over them
    for n in names[:-1]:
        start: tuple[int, str] | None = None
        for idx in range(len(rows) + 1):
            held = saved_jobn(m, t.states[idx + 1]).get(n) if idx < len(rows) else None
            if held and start is None:
                start = (idx, held)
            elif start and held != start[1]:
                i0, job = start
                y0 = rows[i0][1] + ARROW_DY
                y1 = rows[min(idx, len(rows) - 1)][1] + ARROW_DY if idx < len(rows) or views[-1].violation else bottom
                nid = f"bar_{names.index(n)}_{idx}"
                node(nid, x[n], (y0 + y1) / 2, shape="box", style="filled", fillcolor=_q("#ffb347"),
                     color=_q("#c06000"), fixedsize="true", width="0.14", height=str(round((y1 - y0) / 72, 2)),
                     label='""')
                # the label goes beside the first row the holder itself acts in, where no arrow crosses
                own = next((r for r in range(i0 + 1, idx) if rows[r][0].actor == n), i0)
                text = [f"{n} holds jobn = {job}", "kaio_mtx dropped", "(in aio_cancel_job)"]
                w = max(len(s_) for s_ in text) * 5.4
                node(f"{nid}_l", x[n] - 12 - w / 2, rows[own][1] + ARROW_DY + 14.0, shape="plaintext", fontname=_q(FONT),
                     fontsize="10", fontcolor=_q("#a04000"), label="<" + "".join(_h(s_) + '<BR ALIGN="RIGHT"/>' for s_ in text) + ">", margin="0")
                start = (idx, held) if held else None
    for i, n in enumerate(names):
        node(f"foot_{i}", x[n], bottom, shape="point", width="0.01", color=_q("#999999"))
        back.append(f"  head_{i} -> foot_{i} [style=dashed, color=\"#999999\", arrowhead=none];")
    for idx, (v, ry, h) in enumerate(rows):
        last = idx == len(rows) - 1 and v.violation is not None
        color = "#cc0000" if last else "#1f4e8c"
        ay = ry + ARROW_DY
        node(f"s{idx}a", x[v.actor], ay, shape="point", width="0.05", color=_q(color))
        node(f"s{idx}k", kx, ay, shape="point", width="0.05", color=_q(color))
        edges.append(f"  s{idx}a -> s{idx}k [color={_q(color)}, penwidth={'2.5' if last else '1.2'}, "
                     f"arrowsize=0.7{', arrowhead=tee' if last else ''}];")
        lx = (x[v.actor] + kx) / 2 if v.actor != KERNEL else kx
        lab = (f"<<B>{v.number}.</B> {_h(v.function)} <FONT POINT-SIZE=\"8\">{_h(v.lines)}</FONT>"
               f"<BR/><FONT POINT-SIZE=\"8\" COLOR=\"#555555\">[{_h(v.lock)}]</FONT>>")
        node(f"s{idx}l", lx, ay - 14.0, shape="plaintext", fontname=_q(FONT), fontsize="10",
             fontcolor=_q(color), label=lab, margin="0")
        if v.notes:
            cells = []
            for text, hot in v.notes:
                t_ = _h(text)
                if hot:
                    t_ = f"<FONT COLOR=\"#a04000\"><B>{t_}</B></FONT>"
                cells.append(t_)
            body = "<BR ALIGN=\"LEFT\"/>".join(cells) + "<BR ALIGN=\"LEFT\"/>"
            lab = (f"<<TABLE BORDER=\"1\" COLOR=\"#c9b37e\" BGCOLOR=\"#fffbe8\" CELLBORDER=\"0\" CELLPADDING=\"2\" "
                   f"FIXEDSIZE=\"TRUE\" WIDTH=\"{int(NOTE_W)}\" HEIGHT=\"{int(len(v.notes) * LINE_H + 6)}\">"
                   f"<TR><TD ALIGN=\"LEFT\" BALIGN=\"LEFT\">{body}</TD></TR></TABLE>>")
            node(f"s{idx}n", note_x, ry + 14.0 + (len(v.notes) * LINE_H + 6) / 2, shape="plaintext",
                 fontname=_q(FONT), fontsize="10", label=lab, margin="0")
        ret_y = ry + h
        for r_i, r in enumerate(v.returns):
            yy = ret_y + r_i * 24.0 + 10.0
            node(f"s{idx}r{r_i}k", kx, yy, shape="point", width="0.01", color=_q("#2e7d32"))
            node(f"s{idx}r{r_i}a", x[v.actor], yy, shape="point", width="0.01", color=_q("#2e7d32"))
            edges.append(f"  s{idx}r{r_i}k -> s{idx}r{r_i}a [style=dashed, color=\"#2e7d32\", arrowsize=0.6];")
            node(f"s{idx}r{r_i}l", (x[v.actor] + kx) / 2, yy - 8.0, shape="plaintext", fontname=_q(FONT),
                 fontsize="9", fontcolor=_q("#2e7d32"), label=_q(r), margin="0")
        if last:
            node("violation", note_x, ry + h + 26.0, shape="box", style="\"filled,bold\"", color=_q("#cc0000"),
                 fillcolor=_q("#ffecec"), fontname=_q(FONT + "-Bold"), fontsize="11", fontcolor=_q("#cc0000"),
                 label=_q("\u2716 " + _wrap(v.violation or "", 55)))
    return "\n".join(["digraph trace {", "  graph [splines=line, outputorder=nodesfirst, bgcolor=white, pad=0.3];",
                      "  node [fontname=\"Helvetica\"];", *nodes, *back, *edges, "}"]) + "\n"


def _wrap(s: str, width: int) -> str:
    words, lines, cur = s.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return "\n".join(lines)


def have_dot() -> bool:
    """Is graphviz's ``neato``/``dot`` installed (the PyPI package alone cannot render)?"""
    return shutil.which("dot") is not None and shutil.which("neato") is not None


def render(dot_text: str, fmt: str = "svg") -> bytes:
    """Render the DOT of ``to_dot`` with ``neato -n2`` (positions fixed); raises DiagramError."""
    try:
        import graphviz
    except ImportError:
        raise DiagramError("the graphviz Python package is not installed (pip install graphviz)") from None
    if not have_dot():
        raise DiagramError("graphviz is not installed (no 'dot' on PATH): apt-get install graphviz")
    try:
        return graphviz.Source(dot_text, engine="neato").pipe(format=fmt, neato_no_op=2, quiet=True)
    except graphviz.backend.ExecutableNotFound as e:  # pragma: no cover - checked above
        raise DiagramError(str(e)) from None
    except graphviz.backend.CalledProcessError as e:
        raise DiagramError(f"graphviz failed: {e.stderr.decode(errors='replace') if e.stderr else e}") from None


def to_svg(m: Model, t: Trace) -> str:
    """The sequence diagram as SVG text."""
    return render(to_dot(m, t), "svg").decode("utf-8")


def to_png(m: Model, t: Trace) -> bytes:
    """The sequence diagram as PNG bytes."""
    return render(to_dot(m, t), "png")


__all__ = ["to_mermaid", "to_dot", "to_svg", "to_png", "render", "have_dot", "step_views", "lifelines",
           "saved_jobn", "DiagramError", "StepView", "KERNEL"]
