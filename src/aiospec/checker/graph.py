"""The reachable state graph of a small scenario, as networkx, DOT and GraphML.

A counterexample is one path; the state graph shows where it branches off and what else could
have happened.  It is built exactly as ``explore.Explorer`` explores: breadth-first from
``Model.initial``, successors from ``Model.successors`` (canonical states, so daemon-symmetric
states are merged), states identified by ``hash`` as the explorer's visited set does.  So the
graph has one node per state the checker counts and one edge per transition it counts; a
transition that halts (a panic, a use after free) leads to its own sink node of kind "halt",
because such a step has no successor state.  The edge attributes (actor, label, choice) are
those of the checker's paths, so a witness path can be followed and highlighted.

Large scenarios are refused: a picture of 20,000 states helps nobody, and GraphML of 150,000
states would take minutes to write.
"""

from __future__ import annotations

from collections import deque

import networkx as nx

from ..spec.actions import LABELS
from ..spec.model import KIND_THREAD, Actor, Model
from ..spec.state import S_ACTORS, S_DAEMONS, S_LISTS, State
from ..spec.variables import DM, Q, T
from .trace import LIST_C_NAMES

DEFAULT_MAX_STATES = 5000
HIGHLIGHT = "#d62728"


class GraphTooLarge(Exception):
    """The scenario has more reachable states than the limit allows drawing."""


def state_label(m: Model, s: State) -> str:
    """A short label: where every actor is, and the non-empty job lists."""
    parts = []
    for a, act in enumerate(s[S_ACTORS]):
        name = m.actor_name(Actor(KIND_THREAD, a))
        parts.append(f"{name}:{'done' if act[T.PC] < 0 else LABELS[act[T.PC]].name}")
    for d, dm in enumerate(s[S_DAEMONS]):
        nm = LABELS[dm[DM.PC]].name
        parts.append(f"aiod{d}:{'idle' if nm == 'D_SELECT' else nm + '(' + m.job_name(dm[DM.JOB]) + ')'}")
    lists = []
    for q, lst in enumerate(s[S_LISTS]):
        if lst and q != Q.LIOS:
            lists.append(f"{LIST_C_NAMES[q].replace('kaio_', '')}=[{','.join(m.job_name(x) for x in lst)}]")
    return " ".join(parts) + ("\n" + " ".join(lists) if lists else "")


def _choice_str(c: object) -> str:
    return "" if c is None else str(c)


def build(m: Model, max_states: int = DEFAULT_MAX_STATES) -> nx.DiGraph:
    """The reachable state graph; raises GraphTooLarge above ``max_states`` states.

    Nodes are BFS indices (0 = initial, as in the explorer); attributes ``kind`` ("state" or
    "halt"), ``label``, ``depth``, ``terminal``.  Edges: ``actor``, ``actor_kind``,
    ``actor_index``, ``label``, ``label_index``, ``c_function``, ``lines``, ``choice``.  Parallel
    transitions between the same two states (possible when two steps lead to the same state)
    are kept as a count in ``multiplicity``, so edges plus extra multiplicities equal the
    explorer's transitions.
    """
    g = nx.DiGraph(scenario=m.sc.name, profile=m.sc.profile)
    init = m.initial()
    seen: dict[int, int] = {hash(init): 0}
    g.add_node(0, kind="state", label=state_label(m, init), depth=0, terminal=False)
    queue: deque[tuple[int, State, int]] = deque([(0, init, 0)])
    transitions = halts = 0
    by_key: dict[tuple, object] = {}  # (source, actor kind, actor index, label index, choice) -> target
    g.graph["_by_key"] = by_key
    while queue:
        idx, s, depth = queue.popleft()
        succ = m.successors(s)
        if not succ:
            g.nodes[idx]["terminal"] = True
            g.nodes[idx]["finished"] = m.finished(s)
        for tr in succ:
            transitions += 1
            attrs = dict(actor=m.actor_name(tr.actor), actor_kind=tr.actor.kind, actor_index=tr.actor.index,
                         label=tr.label.name, label_index=tr.label.index, c_function=tr.label.c_function,
                         lines=tr.label.lines, choice=_choice_str(tr.choice), multiplicity=1)
            if tr.halts:
                halts += 1
                hid = f"halt{halts}"
                kinds = ",".join(e.kind for e in tr.events if e.kind in ("kassert", "panic", "uaf", "stale", "nullki"))
                g.add_node(hid, kind="halt", label=kinds.upper(), depth=depth + 1, terminal=True)
                g.add_edge(idx, hid, **attrs)
                by_key[(idx, tr.actor.kind, tr.actor.index, tr.label.index, attrs["choice"])] = hid
                continue
            h = hash(tr.target)
            n = seen.get(h)
            if n is None:
                n = seen[h] = len(seen)
                if n >= max_states:
                    raise GraphTooLarge(f"scenario {m.sc.name} has more than {max_states:,} states; "
                                        "the state graph is only drawn for small scenarios (raise the limit to force it)")
                g.add_node(n, kind="state", label=state_label(m, tr.target), depth=depth + 1, terminal=False)
                queue.append((n, tr.target, depth + 1))
            by_key[(idx, tr.actor.kind, tr.actor.index, tr.label.index, attrs["choice"])] = n
            if g.has_edge(idx, n):
                g.edges[idx, n]["multiplicity"] += 1
            else:
                g.add_edge(idx, n, **attrs)
    g.graph["states"] = len(seen)
    g.graph["transitions"] = transitions
    return g


def highlight(g: nx.DiGraph, path: list[tuple[Actor, int, object]], name: str = "path") -> list:
    """Mark the nodes and edges of a checker path (``Explorer.witness_path``); returns its nodes.

    Each step follows the out-edge with the same actor, label and choice; a path the graph does
    not contain raises ValueError.
    """
    node: object = 0
    nodes = [node]
    g.nodes[node]["highlight"] = name
    for i, (actor, li, choice) in enumerate(path, 1):
        nxt = g.graph["_by_key"].get((node, actor.kind, actor.index, li, _choice_str(choice)))
        if nxt is None:
            raise ValueError(f"step {i} of the path ({LABELS[li].name}) is not an edge of the graph")
        g.edges[node, nxt]["highlight"] = name
        g.nodes[nxt]["highlight"] = name
        g.nodes[nxt]["path_step"] = i
        node = nxt
        nodes.append(node)
    return nodes


def _dq(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(g: nx.DiGraph) -> str:
    """DOT text; the highlighted path in red and bold, halting sinks as red octagons."""
    out = [f"digraph {_dq('states ' + str(g.graph.get('scenario', '')))} {{",
           "  graph [rankdir=TB, fontname=Helvetica];",
           "  node [shape=box, fontname=Helvetica, fontsize=8, style=rounded];",
           "  edge [fontname=Helvetica, fontsize=7, color=\"#777777\"];"]
    for n, d in g.nodes(data=True):
        attrs = {"label": d["label"]}
        if d["kind"] == "halt":
            attrs.update(shape="octagon", color=HIGHLIGHT, fontcolor=HIGHLIGHT)
        elif n == 0:
            attrs.update(style="rounded,bold")
        elif d.get("terminal"):
            attrs.update(peripheries="2")
        if "highlight" in d:
            attrs.update(color=HIGHLIGHT, penwidth="2.5", style="rounded,filled", fillcolor="#fde0e0")
            if "path_step" in d:
                attrs["xlabel"] = str(d["path_step"])
        out.append(f"  {_dq(n)} [" + ", ".join(f"{k}={_dq(v)}" for k, v in attrs.items()) + "];")
    for u, v, d in g.edges(data=True):
        attrs = {"label": f"{d['actor']}: {d['label']}" + (f" [{d['choice']}]" if d["choice"] else ""),
                 "tooltip": f"{d['c_function']} ({d['lines']})"}
        if "highlight" in d:
            attrs.update(color=HIGHLIGHT, penwidth="3", fontcolor=HIGHLIGHT)
        out.append(f"  {_dq(u)} -> {_dq(v)} [" + ", ".join(f"{k}={_dq(x)}" for k, x in attrs.items()) + "];")
    out.append("}")
    return "\n".join(out) + "\n"


def to_graphml(g: nx.DiGraph) -> str:
    """GraphML with string node ids (GraphML has no integer ids) and scalar attributes only; text,
    so that the command line writes it as it writes every other output."""
    h = nx.relabel_nodes(g, {n: str(n) for n in g.nodes})
    h.graph = {k: v for k, v in g.graph.items() if isinstance(v, (str, int, float, bool))}
    return "\n".join(nx.generate_graphml(h)) + "\n"
