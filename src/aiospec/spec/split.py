"""The model with every step cut at its ``View.cut`` points: each iteration of a walk over
``kaio_jobqueue`` becomes a step of its own, the walker still holding the step's lock.

Why: one atomic step of the fd-wide cancel or of the rundown touches every job on the
queue (``checker/footprint.py`` measures it), which the any-size argument of docs/proofs.md
cannot afford.  Split at its cuts, a walk touches one job a step.  Every run of the atomic
model is a run of this one (the walker's steps following one another), so an invariant of
this model holds in every state the atomic one reaches.  The converse is what checking both
shows: the new states are mid-walk states, where only steps that take no lock the walker
holds may come in between (the I/O a daemon does unlocked, ``aio_free_entry``'s tail).

The state gains one component, last: per thread, () or where its suspended step resumes
(the function the cut names, by its place in this model's registry, and the cut's other
arguments).  Owner: the thread; guarded by the lock of the label at its program counter.
"""

from __future__ import annotations

from typing import Iterator

from .actions import LABELS, Label
from .model import KIND_THREAD, Actor, Model, Transition
from .scenario import Scenario
from .state import S_ACTORS, Halt, State, View
from .variables import T

CONTINUE = "continue"  # the choice of a step that resumes a suspended one


def mutexes(lock: str) -> frozenset[str]:
    """The mutexes a label's lock annotation holds ("job>kaio": both)."""
    return frozenset(m for m in lock.split(">") if m != "none")


class _Suspend(Exception):
    def __init__(self, fn, args: tuple) -> None:
        self.fn, self.args = fn, args


class SplitView(View):
    """A cut ends the step, unless it is the one the step resumes from."""

    __slots__ = ("resume_from",)

    def __init__(self, s: State, sc) -> None:
        super().__init__(s, sc)
        self.resume_from: tuple | None = None

    def cut(self, fn, *args) -> None:
        r, self.resume_from = self.resume_from, None
        if r is not None and r == (fn, args):
            return
        raise _Suspend(fn, args)

    @property
    def recording(self) -> bool:  # the last component is where steps resume, not the threads' results
        return False

    def observe(self, a: int, entry: tuple) -> None:
        pass


class SplitModel(Model):
    """``Model`` with its steps split at their cuts (see the module docstring)."""

    def __init__(self, sc: Scenario, mutations: dict[str, object] | None = None):
        super().__init__(sc, mutations)
        self.View = SplitView
        self._fns: list = []  # the functions cuts named, in the order met: a resume names one by index

    def initial(self) -> State:
        s = super().initial()
        return s + (tuple(() for _ in range(self.n_actors)),)

    def suspended(self, s: State) -> Iterator[tuple[int, Label]]:
        """The threads inside a suspended step, with the label whose lock they hold."""
        for a, r in enumerate(s[-1]):
            if r:
                yield a, LABELS[s[S_ACTORS][a][T.PC]]

    def resume_text(self, s: State) -> dict[str, str]:
        """For traces: where each suspended thread resumes."""
        out = {}
        for a, lb in self.suspended(s):
            fn, *args = s[-1][a]
            name = self._fns[fn].__name__
            if name == "cancel_walk":
                where = f"the walk of kaio_jobqueue at job {self.job_name(args[0])}"
            else:
                where = f"{name}({', '.join(str(x) for x in args)})"
            out[f"{self.actor_name(Actor(KIND_THREAD, a))}.resumes"] = f"{where} (in {lb.name}, {lb.lock} held)"
        return out

    def enabled_for(self, s: State, actor: Actor) -> Iterator[tuple[Actor, Label, object]]:
        held: frozenset[str] = frozenset()
        for a, lb in self.suspended(s):
            if actor.kind == KIND_THREAD and a == actor.index:
                yield actor, lb, CONTINUE
                return
            held |= mutexes(lb.lock)
        for step in super().enabled_for(s, actor):
            if not mutexes(step[1].lock) & held:
                yield step

    def step(self, s: State, actor: Actor, lb: Label, choice: object, canonical: bool = True,
             view: View | None = None) -> Transition:
        pending = s[-1][actor.index] if actor.kind == KIND_THREAD else ()
        v = view if view is not None else SplitView(s, self.sc)
        after: tuple = ()
        try:
            if pending:
                fn = self._fns[pending[0]]
                args = (actor.index, *pending[1:])
                v.resume_from = (fn, args)
                fn(v, *args)
            else:
                self.mutations.get(lb.name, lb.body)(v, actor.index, choice)
        except _Suspend as e:
            if actor.kind != KIND_THREAD or not e.args or e.args[0] != actor.index:
                raise AssertionError(f"a cut in {lb.name} does not name the thread that takes the step") from None
            if e.fn not in self._fns:
                self._fns.append(e.fn)
            after = (self._fns.index(e.fn), *e.args[1:])
        except Halt:
            pass
        t = v.freeze()
        if after != pending:
            res = list(t[-1])
            res[actor.index] = after
            t = t[:-1] + (tuple(res),)
        if canonical and self.symmetric:
            t = self.canonical(t)
        return Transition(actor, lb, choice, tuple(v.events), t)
