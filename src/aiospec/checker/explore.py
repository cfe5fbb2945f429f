"""Exhaustive breadth-first exploration with fingerprinted states.

The visited set stores a 64-bit fingerprint per state (as TLC does) and, per state, the
index of its BFS parent and of the transition that reached it; full states live only in
the current frontier.  Because the search is breadth-first, the first violation found for
a property has a shortest counterexample; it is rebuilt by replaying the recorded path.
"""

from __future__ import annotations

import resource
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from ..spec.model import Actor, Model, Transition
from ..spec.properties import EVENT_PROPERTY, PROPERTIES, Ctx, Property
from ..spec.state import HALTING, State, clear_intern


_NO_KINDS: frozenset = frozenset()


@dataclass
class Witness:
    """Where a property was first violated (or reached): a path of state indices."""

    prop: str
    message: str
    state_index: int  # the last state on the path (for step properties: the source)
    final: tuple[Actor, int, object] | None  # the offending transition, if not yet a state


@dataclass
class Result:
    scenario: str
    states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    complete: bool = True
    violations: dict[str, Witness] = field(default_factory=dict)
    reached: dict[str, Witness] = field(default_factory=dict)
    coverage: Counter = field(default_factory=Counter)
    terminal_ok: int = 0
    properties: list[Property] = field(default_factory=list)

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return not self.violations


class Explorer:
    """BFS over one Model, checking every property of PROPERTIES (or a chosen subset)."""

    def __init__(self, model: Model, properties: list[Property] | None = None, max_states: int | None = None,
                 progress: Callable[[int, int, int], None] | None = None):
        self.model = model
        self.ctx = Ctx(model)
        self.props = list(properties if properties is not None else PROPERTIES)
        self.max_states = max_states
        self.progress = progress
        self.parent = array("q")
        self.via = array("q")
        self.via_table: dict[tuple, int] = {}
        self.via_list: list[tuple] = []

    def _via_id(self, t: Transition) -> int:
        key = (t.actor, t.label.index, t.choice)
        i = self.via_table.get(key)
        if i is None:
            i = self.via_table[key] = len(self.via_list)
            self.via_list.append(key)
        return i

    def run(self) -> Result:
        m, ctx = self.model, self.ctx
        res = Result(m.sc.name, properties=self.props)
        inv = [p for p in self.props if p.kind == "invariant"]
        steps_all = [p for p in self.props if p.kind in ("step", "reach") and not p.on]
        steps_on: dict[str, list[Property]] = {}
        for p in self.props:
            if p.kind in ("step", "reach") and p.on:
                for k in p.on:
                    steps_on.setdefault(k, []).append(p)
        event_names = {p.name for p in self.props if p.kind == "event"}
        ends = [p for p in self.props if p.kind == "end"]
        want_deadlock = any(p.kind == "deadlock" for p in self.props)
        violations, reached = res.violations, res.reached
        coverage = res.coverage

        t0 = time.perf_counter()
        clear_intern()
        init = m.initial()
        seen: dict[int, int] = {hash(init): 0}
        self.parent.append(-1)
        self.via.append(-1)
        for p in inv:
            if p.name not in violations:
                msg = p.check(ctx, init)
                if msg:
                    violations[p.name] = Witness(p.name, msg, 0, None)
        frontier: list[tuple[int, State]] = [(0, init)]
        depth = 0
        transitions = 0
        while frontier:
            nxt: list[tuple[int, State]] = []
            for idx, s in frontier:
                succ = m.successors(s)
                if not succ:
                    if m.finished(s):
                        res.terminal_ok += 1
                        for p in ends:
                            if p.name not in violations:
                                msg = p.check(ctx, s)
                                if msg:
                                    violations[p.name] = Witness(p.name, msg, idx, None)
                    elif want_deadlock and "DEADLOCK" not in violations:
                        violations["DEADLOCK"] = Witness("DEADLOCK", _blocked(m, s), idx, None)
                    continue
                for tr in succ:
                    transitions += 1
                    coverage[tr.label.name] += 1
                    if tr.events:
                        kinds = {e.kind for e in tr.events}
                        checks = list(steps_all)
                        for k in kinds:
                            checks.extend(steps_on.get(k, ()))
                    else:
                        kinds = _NO_KINDS
                        checks = steps_all
                    for p in checks:
                        if p.kind == "reach":
                            if p.name not in reached and p.check(ctx, s, tr):
                                reached[p.name] = Witness(p.name, "", idx, self._final(tr))
                        elif p.name not in violations:
                            msg = p.check(ctx, s, tr)
                            if msg:
                                violations[p.name] = Witness(p.name, msg, idx, self._final(tr))
                    halting = kinds & HALTING
                    if halting:
                        for e in tr.events:
                            if e.kind in HALTING:
                                name = e.a if e.kind in ("kassert", "panic") else EVENT_PROPERTY[e.kind]
                                if name in event_names and name not in violations:
                                    violations[name] = Witness(name, str(e.b if e.kind in ("kassert", "panic") else e.b),
                                                               idx, self._final(tr))
                        continue
                    t = tr.target
                    h = hash(t)
                    if h in seen:
                        continue
                    n = len(self.parent)
                    seen[h] = n
                    self.parent.append(idx)
                    self.via.append(self._via_id(tr))
                    for p in inv:
                        if p.name not in violations:
                            msg = p.check(ctx, t)
                            if msg:
                                violations[p.name] = Witness(p.name, msg, n, None)
                    nxt.append((n, t))
                if self.max_states and len(self.parent) >= self.max_states:
                    res.complete = False
                    nxt = []
                    break
            if nxt:
                depth += 1
            frontier = nxt
            if self.progress:
                self.progress(len(self.parent), transitions, depth)
        res.states = len(self.parent)
        res.transitions = transitions
        res.depth = depth
        res.seconds = time.perf_counter() - t0
        res.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.seen = seen
        return res

    def _final(self, tr: Transition) -> tuple:
        return (tr.actor, tr.label.index, tr.choice)

    def path(self, idx: int) -> list[tuple]:
        """The transitions (actor, label index, choice) from the initial state to state idx."""
        out = []
        while idx > 0:
            out.append(self.via_list[self.via[idx]])
            idx = self.parent[idx]
        out.reverse()
        return out

    def witness_path(self, w: Witness) -> list[tuple]:
        p = self.path(w.state_index)
        if w.final is not None:
            p.append(w.final)
        return p


def _blocked(m: Model, s: State) -> str:
    from ..spec.actions import LABELS
    from ..spec.state import S_ACTORS
    from ..spec.variables import T

    who = []
    for a, act in enumerate(s[S_ACTORS]):
        if act[T.PC] >= 0:
            who.append(f"{m.actor_name(Actor(0, a))} at {LABELS[act[T.PC]].name}")
    return "nothing can move; blocked: " + ", ".join(who)


def check(model: Model, **kw) -> tuple[Result, Explorer]:
    ex = Explorer(model, **kw)
    return ex.run(), ex
