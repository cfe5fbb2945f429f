"""The model with every step cut at its ``View.cut`` points: each iteration of a walk over
``kaio_jobqueue`` becomes a step of its own, the walker still holding the step's lock.

Why: one atomic step of the fd-wide cancel or of the rundown touches every job on the
queue (``checker/footprint.py`` measures it), which the any-size argument of docs/proofs.md
cannot afford.  Split at its cuts, a walk touches one job a step.  Every run of the atomic
model is a run of this one (the walker's steps following one another), so an invariant of
this model holds in every state the atomic one reaches.  The converse is what checking both
shows: the new states are mid-walk states, where only steps that take no lock the walker
holds may come in between (the I/O a daemon does unlocked, ``aio_free_entry``'s tail).

The state gains one component, last (``S_RESUME``): per thread, ``NOT_HELD`` or where its
suspended step resumes, as (the function the cut names, by its place in ``RESUMABLE`` from
1; the job the walk is at; how many jobs it has passed).  Owner: the thread; guarded by the
lock of the label at its program counter, which the thread holds while suspended.
"""

from __future__ import annotations

from typing import Iterator

from .actions import LABELS, Label
from .cancel import cancel_walk, walk_done
from .model import KIND_THREAD, Actor, Model, Transition
from .scenario import Scenario
from .state import S_ACTORS, Halt, State, View, member
from .variables import T

CONTINUE = "continue"  # the choice of a step that resumes a suspended one

# The functions a cut may name, with how many arguments they take (the thread first).  A
# suspended step is stored as (its function's place here, from 1; the other arguments,
# padded to RESUME_WIDTH - 1 with NOT_HELD): a fixed shape, which the z3 layout needs.
RESUMABLE = ((cancel_walk, 3), (walk_done, 1))
RESUME_WIDTH = 3
NOT_HELD = (0, -1, 0)  # no step suspended
S_RESUME = 8  # the state's component: the last one (a SplitModel keeps no call results)


def mutexes(lock: str) -> frozenset[str]:
    """The mutexes a label's lock annotation holds ("job>kaio": both)."""
    return frozenset(m for m in lock.split(">") if m != "none")


class _Suspend(Exception):
    """A step reached a cut it does not resume from: it ends there."""

    def __init__(self, fn, cut_args: tuple) -> None:
        super().__init__("cut")
        self.fn, self.cut_args = fn, cut_args


class SplitView(View):
    """A cut ends the step, unless it is the one the step resumes from."""

    __slots__ = ("resume_from",)

    def __init__(self, s: State, sc) -> None:
        super().__init__(s, sc)
        self.resume_from: tuple | None = None

    def cut(self, fn, *args) -> None:
        r, self.resume_from = self.resume_from, None
        if r is not None and r[0] is fn and len(r[1]) == len(args) and all(
                x is y or (type(x) is int and type(y) is int and x == y) for x, y in zip(r[1], args)):
            return  # (by identity: the arguments may be z3 terms)
        raise _Suspend(fn, args)

    @property
    def recording(self) -> bool:  # the last component is where steps resume, not the threads' results
        return False

    def observe(self, a: int, entry: tuple) -> None:
        pass


class SplitModel(Model):
    """``Model`` with its steps split at their cuts (see the module docstring).

    Written so that the z3 encoder can run it on symbolic states: a condition on the state
    is one test (``member``, ``&``, ``|``), not a loop that forks per thread."""

    resumes = True  # the state has the S_RESUME component (``checker/symbolic/layout.py``)

    def __init__(self, sc: Scenario, mutations: dict[str, object] | None = None):
        super().__init__(sc, mutations)
        self.View = SplitView
        self._held_at = {m: frozenset(lb.index for lb in LABELS if m in mutexes(lb.lock)) for m in ("kaio", "job")}

    def initial(self) -> State:
        s = super().initial()
        return s + (tuple(NOT_HELD for _ in range(self.n_actors)),)

    def suspended(self, s: State) -> Iterator[tuple[int, Label]]:
        """The threads inside a suspended step, with the label whose lock they hold (explicit states)."""
        for a, r in enumerate(s[S_RESUME]):
            if r[0]:
                yield a, LABELS[s[S_ACTORS][a][T.PC]]

    def resume_text(self, s: State) -> dict[str, str]:
        """For traces: where each suspended thread resumes."""
        out = {}
        for a, lb in self.suspended(s):
            fn, *args = s[S_RESUME][a]
            f, n = RESUMABLE[fn - 1]
            if f is cancel_walk:
                where = f"the walk of kaio_jobqueue at job {self.job_name(args[0])}"
            else:
                where = f"{f.__name__}({', '.join(str(x) for x in args[:n - 1])})"
            out[f"{self.actor_name(Actor(KIND_THREAD, a))}.resumes"] = f"{where} (in {lb.name}, {lb.lock} held)"
        return out

    def _held(self, s: State, mutex: str, but: int):
        """Whether a thread other than ``but`` is suspended holding ``mutex``: a bool, or a
        symbolic one."""
        acc = False
        for a, r in enumerate(s[S_RESUME]):
            if a != but:
                acc = acc | ((r[0] != 0) & member(s[S_ACTORS][a][T.PC], self._held_at[mutex]))
        return acc

    def enabled_for(self, s: State, actor: Actor) -> Iterator[tuple[Actor, Label, object]]:
        me = actor.index if actor.kind == KIND_THREAD else -1
        if me >= 0 and s[S_RESUME][me][0] != 0:
            yield actor, LABELS[s[S_ACTORS][me][T.PC]], CONTINUE
            return
        for step in super().enabled_for(s, actor):
            ms = mutexes(step[1].lock)
            blocked = False
            for m in ms:
                blocked = blocked | self._held(s, m, me)
            if not blocked:
                yield step

    def step(self, s: State, actor: Actor, lb: Label, choice: object, canonical: bool = True,
             view: View | None = None) -> Transition:
        v = view if view is not None else self.View(s, self.sc)
        after = None
        try:
            if choice == CONTINUE:
                pending = s[S_RESUME][actor.index]
                fn, n = RESUMABLE[pending[0] - 1]
                args = (actor.index, *pending[1:n])
                v.resume_from = (fn, args)
                after = NOT_HELD
                fn(v, *args)
            else:
                self.mutations.get(lb.name, lb.body)(v, actor.index, choice)
        except _Suspend as e:
            if actor.kind != KIND_THREAD or not e.cut_args or e.cut_args[0] is not actor.index:
                raise AssertionError(f"a cut in {lb.name} does not name the thread that takes the step") from None
            k = next((i for i, (f, _n) in enumerate(RESUMABLE, 1) if f is e.fn), None)
            if k is None:
                raise ValueError(f"a cut in {lb.name} names {e.fn.__name__}, which split.RESUMABLE does not list")
            rest = e.cut_args[1:]
            after = (k, *rest, *NOT_HELD[1 + len(rest):])
        except Halt:
            pass
        t = v.freeze()
        if after is not None:
            res = list(t[S_RESUME])
            res[actor.index] = after
            t = t[:S_RESUME] + (tuple(res),)
        if canonical and self.symmetric:
            t = self.canonical(t)
        return Transition(actor, lb, choice, tuple(v.events), t)
