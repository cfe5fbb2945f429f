"""The transition system of one scenario: initial state and successors.

The model interprets the label registry: each actor's program counter names a label, the
label's ``choices`` say whether (and how) it is enabled, and its body is run on a View.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

from . import cancel, reap, submit, workers  # noqa: F401  (registers the labels)
from .actions import BY_NAME, LABELS, Label, pc
from .program import DONE, calls_of, start_program
from .scenario import Scenario
from .state import HALTING, S_ACTORS, Halt, S_DAEMONS, S_GLOB, S_JOBS, S_KI, Event, State, View, initial_state
from .variables import DM, G, J, K, T

KIND_THREAD, KIND_DAEMON, KIND_TASK, KIND_BIO = 0, 1, 2, 3


class Actor(NamedTuple):
    kind: int
    index: int


class Transition(NamedTuple):
    actor: Actor
    label: Label
    choice: object
    events: tuple[Event, ...]
    target: State

    @property
    def halts(self) -> bool:
        return any(e.kind in HALTING for e in self.events)


class Model:
    """One scenario's transition system, with optional mutations of label bodies."""

    def __init__(self, sc: Scenario, mutations: dict[str, object] | None = None, record_results: bool = False):
        self.sc = sc
        self.record_results = record_results  # keep each thread's results in the state (observations)
        self.n_threads = len(sc.threads)
        self.n_actors = self.n_threads + 1  # + the exiting thread (rundown)
        self.exit_actor = Actor(KIND_THREAD, self.n_threads)
        self.mutations = dict(mutations or {})
        self.symmetric = sc.daemons > 1
        self._job_names = [s.aiocb if sum(1 for o in sc.slots if o.aiocb == s.aiocb) == 1 else f"{s.aiocb}#{s.index}"
                           for s in sc.slots]
        self._kaio_labels = frozenset(lb.index for lb in LABELS if "kaio" in lb.lock)
        self._actors = self.actors()
        self.View = View  # the symbolic encoder runs the same bodies on its own View

    # -- naming ------------------------------------------------------------------------
    def actor_name(self, actor: Actor) -> str:
        if actor.kind == KIND_THREAD:
            return self.sc.threads[actor.index].name if actor.index < self.n_threads else "exit"
        if actor.kind == KIND_DAEMON:
            return f"aiod{actor.index}"
        if actor.kind == KIND_TASK:
            return "sync_task"
        return f"bio({self.job_name(actor.index)})"

    def job_name(self, j: int) -> str:
        return self._job_names[j]

    # -- states ------------------------------------------------------------------------
    def initial(self) -> State:
        s = initial_state(len(self.sc.slots), len(self.sc.aiocbs), self.sc.lio_count, self.n_actors,
                          self.sc.daemons, pc("TASK_START"), DONE, pc("D_SELECT"))
        actors = []
        for a in range(self.n_actors):
            act = list(s[S_ACTORS][a])
            start_program(act, calls_of(self.sc, a))
            actors.append(tuple(act))
        s = s[:S_ACTORS] + (tuple(actors),) + s[S_ACTORS + 1:]
        if self.record_results:
            s = s + (tuple(() for _ in range(self.n_actors)),)
        return s

    def actors(self) -> list[Actor]:
        """Everyone who can take a step: threads (and the exit), daemons, the sync task, bio completions."""
        return ([Actor(KIND_THREAD, a) for a in range(self.n_actors)] +
                [Actor(KIND_DAEMON, d) for d in range(self.sc.daemons)] + [Actor(KIND_TASK, 0)] +
                [Actor(KIND_BIO, j) for j in range(len(self.sc.slots))])

    def enabled(self, s: State) -> Iterator[tuple[Actor, Label, object]]:
        for actor in self._actors:
            yield from self.enabled_for(s, actor)

    def enabled_for(self, s: State, actor: Actor) -> Iterator[tuple[Actor, Label, object]]:
        """The steps one actor can take in s: its program counter names the label, the label's choices
        say whether (and how) it is enabled."""
        leaked = s[S_KI][K.LEAKED]
        kind, i = actor
        if kind == KIND_BIO:
            if leaked:
                return
            b = s[S_JOBS][i][J.BIO]
            if b == 1 or b == 2:
                lb = BY_NAME["BIO_DONE"] if b == 1 else BY_NAME["BIO_COMPLETE"]
                for c in (lb.choices(s, i, self) if lb.choices else (None,)):
                    yield actor, lb, c
            return
        if kind == KIND_THREAD:
            p = s[S_ACTORS][i][T.PC]
            if p == DONE:
                return
        elif kind == KIND_DAEMON:
            p = s[S_DAEMONS][i][DM.PC]
        else:
            p = s[S_GLOB][G.TASK_PC]
        lb = LABELS[p]
        if leaked and p in self._kaio_labels:
            return  # blocked on the kaio_mtx that RTEMS never released
        for c in (lb.choices(s, i, self) if lb.choices else (None,)):
            yield actor, lb, c

    def step(self, s: State, actor: Actor, lb: Label, choice: object, canonical: bool = True,
             view: View | None = None) -> Transition:
        """``view``: a View of s (of ``self.View``'s class) to run the step on, for a caller that
        looks at it afterwards (``checker/footprint.py``)."""
        v = view if view is not None else self.View(s, self.sc)
        body = self.mutations.get(lb.name, lb.body)
        try:
            body(v, actor.index, choice)
        except Halt:
            pass
        t = v.freeze()
        if canonical and self.symmetric:
            t = self.canonical(t)
        return Transition(actor, lb, choice, tuple(v.events), t)

    def canonical(self, s: State) -> State:
        """Daemons are interchangeable: the representative lists them sorted."""
        d = s[S_DAEMONS]
        sd = tuple(sorted(d))
        return s if sd == d else s[:S_DAEMONS] + (sd,) + s[S_DAEMONS + 1:]

    @staticmethod
    def daemon_order(s: State) -> list[int]:
        """Real daemon index of each position in the canonical (sorted) state."""
        d = s[S_DAEMONS]
        return sorted(range(len(d)), key=lambda i: d[i])

    def successors(self, s: State) -> list[Transition]:
        return [self.step(s, a, lb, c) for a, lb, c in self.enabled(s)]

    # -- classification of terminal states ---------------------------------------------
    def finished(self, s: State) -> bool:
        """Every thread (and the exit) has returned from its last call."""
        return all(act[T.PC] == DONE for act in s[S_ACTORS])
