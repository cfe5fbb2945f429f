"""Documentation generated from the spec definition itself (so it cannot go stale)."""

from __future__ import annotations

from . import model as _model  # noqa: F401  (registers every label)
from .actions import LABELS
from .properties import PROPERTIES
from .variables import ALL_VARS

_RECORD_TITLES = {
    "job": "Per job (struct kaiocb)",
    "aiocb": "Per user aiocb (user memory)",
    "lio": "Per lio (struct aioliojob)",
    "ki": "Per process (struct kaioinfo)",
    "lists": "Lists (TAILQs, as ordered sequences)",
    "glob": "Globals and the fsync task",
    "actor": "Per user thread (and the exiting thread that runs rundown)",
    "daemon": "Per AIO daemon",
}


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def variables_markdown() -> str:
    lines = []
    for rec, title in _RECORD_TITLES.items():
        lines += [f"### {title}", "", "| variable | C name | lock | domain | seed | meaning |", "|---|---|---|---|---|---|"]
        for v in ALL_VARS:
            if v.record == rec:
                lines.append(f"| `{v.attr}` | `{_cell(v.c_name)}` | {v.lock} | {_cell(v.domain)} | {v.line} | {_cell(v.doc)} |")
        lines.append("")
    return "\n".join(lines)


def actions_markdown() -> str:
    lines = ["| action | actor | C function | lines | lock | guard | effect |", "|---|---|---|---|---|---|---|"]
    for lb in LABELS:
        lines.append(f"| `{lb.name}` | {'/'.join(lb.actors)} | `{lb.c_function}` | {lb.lines} | {lb.lock} | "
                     f"{_cell(lb.guard)} | {_cell(lb.effect)} |")
    return "\n".join(lines)


def properties_markdown() -> str:
    lines = ["| property | kind | statement | source |", "|---|---|---|---|"]
    for p in PROPERTIES:
        lines.append(f"| `{p.name}` | {p.kind} | {_cell(p.title)} | {p.source} |")
    return "\n".join(lines)


def spec_markdown() -> str:
    return "\n".join([
        "## State variables", "",
        "Lock keys as in the seed (L206-216): `a` kaio_mtx, `c` aio_job_mtx, `*` not locked, "
        "`private` owned by one actor, `user` user memory (written unlocked, read by any thread), "
        "`ghost` a history variable of the model only.", "",
        variables_markdown(),
        "## Actions", "",
        "One action per critical section (SEMANTICS.md 12.3). Lock: the mutexes held during the step "
        "(`job>kaio`: aio_job_mtx, then kaio_mtx inside).", "",
        actions_markdown(), "",
        "## Properties", "",
        properties_markdown(), "",
    ])


BEGIN = "<!-- BEGIN GENERATED: aiospec spec --markdown -->"
END = "<!-- END GENERATED -->"


def update_doc(text: str) -> str:
    """Replace the generated part of docs/spec.md (between the markers) with the current tables."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{spec_markdown()}\n{END}{tail}"
