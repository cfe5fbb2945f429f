"""Atomic steps ("labels", as in PlusCal) declared as data.

Every label is one critical section of vfs_aio.c (SEMANTICS.md section 12.3): it names the
C function and lines it models, the lock it holds, its guard and effect in words, and a
body that performs the step on a View.  The checker, the documentation table, the lock
audit and the trace checker all read this registry; nothing else defines a step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

LOCKS = ("none", "kaio", "job", "job>kaio")
ACTORS = ("thread", "rundown", "daemon", "task", "bio")


@dataclass(frozen=True)
class Label:
    name: str
    actors: tuple[str, ...]
    c_function: str
    lines: str
    lock: str
    guard: str
    effect: str
    body: Callable
    choices: Callable | None = None
    sleeps: bool = False
    index: int = field(default=-1, compare=False)


LABELS: list[Label] = []
BY_NAME: dict[str, Label] = {}


def label(name: str, *, actors: str, fn: str, lines: str, lock: str, guard: str, effect: str,
          choices: Callable | None = None, sleeps: bool = False) -> Callable:
    """Register the decorated function as the body of one atomic step."""
    if lock not in LOCKS:
        raise ValueError(f"{name}: unknown lock {lock!r}")
    acts = tuple(actors.split("|"))
    for a in acts:
        if a not in ACTORS:
            raise ValueError(f"{name}: unknown actor {a!r}")

    def deco(body: Callable) -> Callable:
        if name in BY_NAME:
            raise ValueError(f"duplicate label {name}")
        lb = Label(name, acts, fn, lines, lock, guard, effect, body, choices, sleeps, len(LABELS))
        LABELS.append(lb)
        BY_NAME[name] = lb
        return body

    return deco


def pc(name: str) -> int:
    """The program-counter value of a label."""
    return BY_NAME[name].index
