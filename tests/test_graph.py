"""The reachable state graph: built as the explorer explores, so its counts are the checker's."""

from __future__ import annotations

import shutil
import subprocess

import networkx as nx
import pytest
from click.testing import CliRunner

from aiospec.checker import graph as G
from aiospec.checker.explore import Explorer
from aiospec.cli_trace import trace as trace_group
from aiospec.spec import Model, load


def explore(name: str):
    m = Model(load(name))
    ex = Explorer(m)
    return m, ex, ex.run()


@pytest.mark.parametrize("name", ["cancel-race", "double-cancel", "rtems-write", "rtems-lio", "errors"])
def test_counts_equal_the_explorers(name):
    m, _ex, res = explore(name)
    g = G.build(m)
    states = [n for n, d in g.nodes(data=True) if d["kind"] == "state"]
    assert len(states) == res.states == g.graph["states"]
    assert sum(d["multiplicity"] for *_e, d in g.edges(data=True)) == res.transitions == g.graph["transitions"]
    assert g.nodes[0]["depth"] == 0
    assert max(d["depth"] for n, d in g.nodes(data=True) if d["kind"] == "state") == res.depth


def test_cancel_race():
    m, ex, res = explore("cancel-race")
    g = G.build(m)
    assert (g.number_of_nodes(), g.number_of_edges()) == (114, 171)
    assert sum(1 for _n, d in g.nodes(data=True) if d.get("finished")) == res.terminal_ok
    e = next(d for *_uv, d in g.edges(0, data=True) if d["label"] == "SUB_CHECK")
    assert (e["actor"], e["c_function"], e["lines"]) == ("T1", "aio_aqueue", "L1581-1668")
    assert "T1:SUB_CHECK" in g.nodes[0]["label"]


def test_halting_transitions_end_in_halt_nodes():
    m, ex, res = explore("rtems-write")
    g = G.build(m)
    halts = [n for n, d in g.nodes(data=True) if d["kind"] == "halt"]
    assert halts and all(g.nodes[h]["label"] == "NULLKI" for h in halts)
    nodes = G.highlight(g, ex.witness_path(res.violations["RTEMS-NULL-KI"]), "RTEMS-NULL-KI")
    assert nodes[-1] in halts


def test_highlight_every_witness_of_cancel_race():
    m, ex, res = explore("cancel-race")
    for name, w in res.reached.items():
        g = G.build(m)
        path = ex.witness_path(w)
        nodes = G.highlight(g, path, name)
        assert len(nodes) == len(path) + 1
        assert sum(1 for *_e, d in g.edges(data=True) if d.get("highlight") == name) == len(path)
        dot = G.to_dot(g)
        assert dot.count(f'color="{G.HIGHLIGHT}", penwidth="3"') == len(path)


def test_highlight_rejects_a_foreign_path():
    m, ex, res = explore("cancel-race")
    g = G.build(m)
    m2, ex2, res2 = explore("double-cancel")
    w = res2.violations["P-CANCEL"]
    with pytest.raises(ValueError):
        G.highlight(g, ex2.witness_path(w))


def test_graphml_round_trips(tmp_path):
    m, ex, res = explore("cancel-race")
    g = G.build(m)
    G.highlight(g, ex.witness_path(res.reached["R-CLEARED"]), "R-CLEARED")
    f = tmp_path / "cr.graphml"
    f.write_text(G.to_graphml(g))
    h = nx.read_graphml(f)
    assert (h.number_of_nodes(), h.number_of_edges()) == (g.number_of_nodes(), g.number_of_edges())
    assert h.nodes["0"]["label"] == g.nodes[0]["label"]
    for u, v, d in g.edges(data=True):
        hd = h.edges[str(u), str(v)]
        assert (hd["actor"], hd["label"], hd["c_function"], hd.get("highlight")) == \
            (d["actor"], d["label"], d["c_function"], d.get("highlight"))
    assert h.graph["scenario"] == "cancel-race"


def test_large_scenarios_are_refused():
    with pytest.raises(G.GraphTooLarge, match="more than 5,000 states"):
        G.build(Model(load("default")))
    with pytest.raises(G.GraphTooLarge):
        G.build(Model(load("cancel-race")), max_states=50)
    r = CliRunner().invoke(trace_group, ["graph", "default"])
    assert r.exit_code == 2 and r.stderr.startswith("error: scenario default has more than 5,000 states")
    r = CliRunner().invoke(trace_group, ["graph", "no-such"])
    assert r.exit_code == 2 and r.stderr.startswith("error: no-such: no such scenario")
    r = CliRunner().invoke(trace_group, ["graph", "cancel-race", "--highlight", "UAF"])
    assert r.exit_code == 2 and "not violated or reached" in r.stderr


def test_cli_graph(tmp_path):
    dot, gml, svg = tmp_path / "g.dot", tmp_path / "g.graphml", tmp_path / "g.svg"
    args = ["graph", "cancel-race", "--highlight", "R-CLEARED", "--dot", str(dot), "--graphml", str(gml)]
    if shutil.which("dot"):
        args += ["--svg", str(svg)]
    r = CliRunner().invoke(trace_group, args)
    assert r.exit_code == 0, r.output
    assert "cancel-race: 114 states, 171 transitions" in r.stderr
    assert nx.read_graphml(gml).number_of_nodes() == 114
    if shutil.which("dot"):
        assert "<svg" in svg.read_text()
        subprocess.run(["dot", "-Tsvg", str(dot), "-o", str(tmp_path / "again.svg")], check=True)
