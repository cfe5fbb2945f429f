"""The state as a compact, hashable tuple, and a mutable View used inside one step.

State = (jobs, aiocbs, lios, ki, lists, glob, actors, daemons); every component is a
tuple of small ints (or of such tuples).  The record layouts come from ``variables.py``.
A fixed shape of small integers is what lets a fast path pack states into integers.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import NamedTuple

from .variables import DM, G, J, K, L, Q, T, U

State = tuple


class Event(NamedTuple):
    """Something a step did that properties and traces look at (not part of the state)."""

    kind: str
    a: object = None
    b: object = None
    c: object = None


# kinds of Event that stop the path: the kernel would have panicked or touched freed memory
HALTING = frozenset({"kassert", "panic", "uaf", "stale", "nullki"})

def ite(c: object, a: object, b: object) -> object:
    """``a if c else b`` that a symbolic condition can keep as a term instead of forking."""
    f = getattr(c, "ite", None)
    return f(a, b) if f is not None else (a if c else b)


def member(x: object, values: frozenset | tuple) -> object:
    """``x in values`` that a symbolic x can keep as one condition instead of one fork per value."""
    f = getattr(x, "member", None)
    return f(values) if f is not None else x in values


def successor(lst: list, x: object) -> object:
    """TAILQ_NEXT: the element after x on lst (x must be on it), -1 at the end.  A symbolic list
    answers with one term instead of one fork per position."""
    f = getattr(lst, "after", None)
    if f is not None:
        return f(x)
    i = lst.index(x)
    return lst[i + 1] if i + 1 < len(lst) else -1


class Halt(Exception):
    """Raised inside a step when it emits a halting event."""


S_JOBS, S_AIOCBS, S_LIOS, S_KI, S_LISTS, S_GLOB, S_ACTORS, S_DAEMONS = range(8)
S_HISTORY = 8  # optional: what each thread's calls returned (observable behaviour, for conformance)


def initial_state(n_jobs: int, n_aiocbs: int, n_lios: int, n_actors: int, n_daemons: int, task_idle: int, idle_pc: int,
                  daemon_idle: int) -> State:
    job0 = J.initial
    actor0 = list(T.initial)
    actor0[T.PC] = idle_pc
    d0 = list(DM.initial)
    d0[DM.PC] = daemon_idle
    glob = list(G.initial)
    glob[G.TASK_PC] = task_idle
    return (
        tuple(job0 for _ in range(n_jobs)),
        tuple(U.initial for _ in range(n_aiocbs)),
        tuple(L.initial for _ in range(n_lios)),
        K.initial,
        tuple(() for _ in range(Q.width)),
        tuple(glob),
        tuple(tuple(actor0) for _ in range(n_actors)),
        tuple(tuple(d0) for _ in range(n_daemons)),
    )


_INTERN: dict[tuple, tuple] = {}
_NOTHING = nullcontext()


def clear_intern() -> None:
    """Forget the shared records (between independent runs)."""
    _INTERN.clear()


class View:
    """A mutable copy of one state, with the primitives the C code uses.

    Steps mutate a View; ``freeze`` turns it back into a State.  ``events`` collects what
    the step did for properties and traces.
    """

    __slots__ = ("_s", "_c", "events", "sc", "rtems")

    def __init__(self, s: State, sc) -> None:
        self._s = s
        self._c: list = [None] * len(s)  # components copied on first access (copy on write)
        self.events: list[Event] = []
        self.sc = sc
        self.rtems = sc.rtems

    def _nested(self, i: int) -> list:
        c = self._c[i]
        if c is None:
            c = self._c[i] = [list(r) for r in self._s[i]]
        return c

    def _flat(self, i: int) -> list:
        c = self._c[i]
        if c is None:
            c = self._c[i] = list(self._s[i])
        return c

    jobs = property(lambda self: self._nested(S_JOBS))
    aiocbs = property(lambda self: self._nested(S_AIOCBS))
    lios = property(lambda self: self._nested(S_LIOS))
    ki = property(lambda self: self._flat(S_KI))
    lists = property(lambda self: self._nested(S_LISTS))
    glob = property(lambda self: self._flat(S_GLOB))
    actors = property(lambda self: self._nested(S_ACTORS))
    daemons = property(lambda self: self._nested(S_DAEMONS))

    def cut(self, fn, *args) -> None:
        """A point inside one atomic step where the rest of the step is ``fn(view, *args)``.

        Nothing happens here in an explicit run.  The z3 encoder (``checker/symbolic``) stops
        each symbolic path at a cut, merges the paths that reached it into one state, and runs
        ``fn`` once on the merge: a loop then costs the sum of its iterations' branches, not
        their product.  Put one at the head of a loop whose carried values are all in ``args``,
        in a function the step tail-calls (nothing may run after ``fn`` returns).
        """

    def alike(self) -> AbstractContextManager:
        """Marks reads of every job alike, each result from that job's own record (the cancel
        call's ghost snapshot).  Projecting a state onto some of its jobs commutes with such a
        read, so ``checker/footprint.py`` does not count it among the jobs one step touches.
        Nothing happens here."""
        return _NOTHING

    @property
    def recording(self) -> bool:
        """Whether this run keeps each thread's results (conformance); cheap to ask first."""
        return len(self._s) > S_HISTORY

    def observe(self, a: int, entry: tuple) -> None:
        """Append a call's observable result to thread a's history, if the run records one."""
        if len(self._s) > S_HISTORY:
            c = self._c[S_HISTORY]
            if c is None:
                c = self._c[S_HISTORY] = list(self._s[S_HISTORY])
            c[a] = c[a] + (entry,)

    def freeze(self) -> State:
        """Back to a State; untouched components are reused, equal records are shared."""
        g = _INTERN.setdefault
        out = []
        for i, c in enumerate(self._c):
            if c is None:
                out.append(self._s[i])
            elif i == S_HISTORY:
                out.append(tuple(c))
            elif i == S_KI or i == S_GLOB:
                t = tuple(c)
                out.append(g(t, t))
            else:
                recs = []
                for x in c:
                    t = tuple(x)
                    recs.append(g(t, t))
                t = tuple(recs)
                out.append(g(t, t))
        return tuple(out)

    # -- events -------------------------------------------------------------------------
    def emit(self, kind: str, a: object = None, b: object = None, c: object = None) -> None:
        self.events.append(Event(kind, a, b, c))
        if kind in HALTING:
            raise Halt(kind)  # the kernel panicked or touched freed memory: this path ends here

    def kassert(self, prop: str, cond: bool, what: str) -> None:
        """A KASSERT/MPASS of the seed: failing it panics the kernel (the path stops)."""
        if not cond:
            self.emit("kassert", prop, what)

    # -- jobs -----------------------------------------------------------------------------
    def touch(self, j: int, why: str) -> bool:
        """Dereference job j; a freed job is a use after free (the path stops)."""
        if self.jobs[j][J.ALLOC] != 1:
            self.emit("uaf", j, why)
            return False
        return True

    def has(self, j: int, flag: int) -> bool:
        return bool(self.jobs[j][J.FLAGS] & flag)

    def set_flag(self, j: int, flag: int) -> None:
        self.jobs[j][J.FLAGS] |= flag

    def clear_flag(self, j: int, flag: int) -> None:
        self.jobs[j][J.FLAGS] &= ~flag

    # -- TAILQs ----------------------------------------------------------------------------
    def append(self, q: int, x: int) -> None:
        self.lists[q].append(x)

    def remove(self, q: int, x: int) -> None:
        """TAILQ_REMOVE: the element must be on the list (else memory corruption)."""
        lst = self.lists[q]
        if x in lst:
            lst.remove(x)
        else:
            self.emit("kassert", "TAILQ", f"TAILQ_REMOVE of job {x} not on {Q.names[q]}")

    def on(self, q: int, x: int) -> bool:
        return x in self.lists[q]

    def plist_next(self, j: int) -> int | None:
        """TAILQ_NEXT(job, plist): the plist link is shared by kaio_jobqueue and kaio_done.

        Returns None when the job is on neither list (its link is stale).
        """
        for q in (Q.JOBQ, Q.DONE):
            lst = self.lists[q]
            if j in lst:
                return successor(lst, j)
        return None
