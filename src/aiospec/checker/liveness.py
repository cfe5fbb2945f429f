"""Liveness under weak fairness, from the strongly connected components of the state graph.

A run that never ends without violating a safety property must loop.  Such a loop is a
counterexample to "every committed job reaches kaio_done" or "every thread returns" when
it stays inside the bad states and is *fair*: every actor class that is enabled in all of
its states also takes a step in it (weak fairness of daemons, the fsync task, I/O
completion and the threads).  The counterexample is a lasso: a shortest prefix to the loop,
then a cycle that takes a step of every continuously enabled class.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import networkx as nx

from ..spec.model import KIND_BIO, KIND_DAEMON, KIND_TASK, Actor, Model
from ..spec.state import S_ACTORS, S_JOBS, State, clear_intern
from ..spec.variables import J, T


class TooLarge(Exception):
    """The state graph is too large to hold for the SCC analysis."""


def fairness_class(a: Actor) -> tuple:
    if a.kind == KIND_DAEMON:
        return ("daemons",)  # interchangeable: the checker identifies daemon permutations
    if a.kind == KIND_TASK:
        return ("task",)
    if a.kind == KIND_BIO:
        return ("bio", a.index)
    return ("thread", a.index)


@dataclass
class Graph:
    """Every reachable state, with its edges (target, (actor, label index, choice))."""

    states: list[State]
    edges: list[list[tuple[int, tuple]]]
    parent: list[int]
    via: list[tuple | None]


def build_graph(model: Model, max_states: int = 300_000) -> Graph:
    clear_intern()
    init = model.initial()
    index = {init: 0}
    states, edges, parent, via = [init], [[]], [-1], [None]
    q = deque([0])
    while q:
        i = q.popleft()
        for tr in model.successors(states[i]):
            if tr.halts:
                continue
            t = tr.target
            k = index.get(t)
            if k is None:
                if len(states) >= max_states:
                    raise TooLarge(f"more than {max_states:,} states: liveness needs the whole graph in memory")
                k = index[t] = len(states)
                states.append(t)
                edges.append([])
                parent.append(i)
                via.append((tr.actor, tr.label.index, tr.choice))
                q.append(k)
            edges[i].append((k, (tr.actor, tr.label.index, tr.choice)))
    return Graph(states, edges, parent, via)


@dataclass
class Lasso:
    prop: str
    message: str
    prefix: list[tuple]
    cycle: list[tuple]


def _prefix(g: Graph, k: int) -> list[tuple]:
    out = []
    while k > 0:
        out.append(g.via[k])
        k = g.parent[k]
    return out[::-1]


def _path_within(g: Graph, comp: set[int], src: int, dst: int) -> list[tuple[int, tuple]]:
    """Shortest path src -> dst inside the component: list of (target, via)."""
    if src == dst:
        return []
    prev: dict[int, tuple[int, tuple]] = {src: (-1, None)}
    q = deque([src])
    while q:
        i = q.popleft()
        for k, v in g.edges[i]:
            if k in comp and k not in prev:
                prev[k] = (i, v)
                if k == dst:
                    out = []
                    while k != src:
                        p, vv = prev[k]
                        out.append((k, vv))
                        k = p
                    return out[::-1]
                q.append(k)
    raise AssertionError("component is not strongly connected")


def fair_cycles(g: Graph, bad: list[bool]) -> list[tuple[set[int], list[tuple[int, int, tuple]]]]:
    """Fair strongly connected components of the bad states, each with the edges to take."""
    dg = nx.DiGraph()
    for i, b in enumerate(bad):
        if b:
            dg.add_node(i)
    for i, b in enumerate(bad):
        if b:
            for k, v in g.edges[i]:
                if bad[k]:
                    dg.add_edge(i, k, via=v)
    out = []
    for comp in nx.strongly_connected_components(dg):
        internal = [(i, k, dg.edges[i, k]["via"]) for i in comp for k in dg.successors(i) if k in comp]
        if not internal:
            continue
        taken: dict[tuple, tuple[int, int, tuple]] = {}
        for i, k, v in internal:
            taken.setdefault(fairness_class(v[0]), (i, k, v))
        always = None
        for i in comp:
            en = {fairness_class(v[0]) for _k, v in g.edges[i]}
            always = en if always is None else always & en
        if always and any(c not in taken for c in always):
            continue  # an actor enabled throughout never moves: not a fair run
        out.append((set(comp), [taken[c] for c in sorted(always or ())] or [internal[0]]))
    return out


def _lasso(g: Graph, comp: set[int], must: list[tuple[int, int, tuple]], prop: str, message: str) -> Lasso:
    start = min(comp, key=lambda i: (len(_prefix(g, i)), i))
    cycle: list[tuple] = []
    cur = start
    for i, k, v in must:
        cycle += [vv for _t, vv in _path_within(g, comp, cur, i)]
        cycle.append(v)
        cur = k
    cycle += [vv for _t, vv in _path_within(g, comp, cur, start)]
    return Lasso(prop, message, _prefix(g, start), cycle)


@dataclass
class LivenessResult:
    states: int
    transitions: int
    lassos: dict[str, Lasso]
    checked: list[tuple[str, str]]


def check_liveness(model: Model, max_states: int = 300_000) -> LivenessResult:
    """LIVE-JOB (every committed job reaches kaio_done) and LIVE-RETURN (every thread returns)."""
    g = build_graph(model, max_states)
    lassos: dict[str, Lasso] = {}
    checked = [("LIVE-JOB", "every committed job eventually reaches kaio_done (weak fairness)"),
               ("LIVE-RETURN", "every thread, and the exit's rundown, eventually returns (weak fairness)")]
    for j in range(len(model.sc.slots)):
        bad = [s[S_JOBS][j][J.G_COMMITTED] == 1 and s[S_JOBS][j][J.G_NOTIFIES] == 0 for s in g.states]
        cyc = fair_cycles(g, bad)
        if cyc and "LIVE-JOB" not in lassos:
            comp, must = min(cyc, key=lambda c: min(len(_prefix(g, i)) for i in c[0]))
            lassos["LIVE-JOB"] = _lasso(g, comp, must, "LIVE-JOB", f"job {model.job_name(j)} never reaches kaio_done")
    for a in range(model.n_actors):
        bad = [s[S_ACTORS][a][T.PC] != -1 for s in g.states]
        cyc = fair_cycles(g, bad)
        if cyc and "LIVE-RETURN" not in lassos:
            comp, must = min(cyc, key=lambda c: min(len(_prefix(g, i)) for i in c[0]))
            lassos["LIVE-RETURN"] = _lasso(g, comp, must, "LIVE-RETURN",
                                           f"{model.actor_name(Actor(0, a))} never returns")
    return LivenessResult(len(g.states), sum(len(e) for e in g.edges), lassos, checked)
