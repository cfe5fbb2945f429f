"""Trace files: ITF, plain JSON and text export; import gives back a path that replays to the same trace.

A counterexample file is only worth keeping if it can be checked again, so every shipped
counterexample (docs/traces) and every witness of the cheap scenarios goes round the loop
export -> import -> replay, and the replay must equal the original state for state, step for step.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiospec.checker import formats as F
from aiospec.checker.explore import Explorer
from aiospec.checker.trace import Trace, format_trace, replay
from aiospec.cli_trace import trace as trace_group
from aiospec.cli_trace import write_trace_files
from aiospec.spec import Model, load

DOCS_TRACES = sorted((Path(__file__).resolve().parent.parent / "docs" / "traces").glob("*.txt"))


def same_trace(a: Trace, b: Trace) -> None:
    assert a.states == b.states
    assert a.initial == b.initial
    assert (a.scenario, a.prop, a.message) == (b.scenario, b.prop, b.message)
    assert [(s.number, s.actor, s.label.name, s.choice, s.events, s.changes) for s in a.steps] == \
        [(s.number, s.actor, s.label.name, s.choice, s.events, s.changes) for s in b.steps]


def round_trip(m: Model, t: Trace, path: list | None = None) -> None:
    for fmt in F.FORMATS:
        # the text format records only the scenario's name: a scenario file must be given to read it
        m2, lt = F.loads(F.dumps(m, t, fmt), F.scenario_file_of(m) if fmt == "text" else None)
        assert lt.format == fmt
        assert lt.scenario == t.scenario
        if path is not None:
            assert lt.path == path
        t2 = replay(m2, lt.path, lt.prop, lt.message)
        same_trace(t, t2)
        assert F.first_state_mismatch(lt, t2) is None


def test_there_are_shipped_counterexamples():
    assert len(DOCS_TRACES) >= 10


@pytest.mark.parametrize("file", DOCS_TRACES, ids=lambda p: p.name)
def test_every_shipped_counterexample_round_trips(file):
    m, lt = F.load_trace(file)
    t = replay(m, lt.path, lt.prop, lt.message)
    assert format_trace(t) + "\n" == file.read_text()  # the text file itself replays to what it says
    round_trip(m, t, lt.path)


SCENARIOS = Path(F.__file__).resolve().parent.parent / "scenarios"


@functools.cache
def explored(name: str, daemons: int | None = None):
    if daemons is None:
        sc = load(name)
    else:  # a scenario file (not a built-in): its traces record where it is
        d = Path(tempfile.mkdtemp(prefix="aiospec-test-"))
        toml = (SCENARIOS / f"{name}.toml").read_text()
        f = d / f"{name}-{daemons}d.toml"
        f.write_text(toml.replace(f'name = "{name}"', f'name = "{name}-{daemons}d"')
                     .replace("daemons = 1", f"daemons = {daemons}"))
        sc = load(str(f))
        assert sc.daemons == daemons
    m = Model(sc)
    ex = Explorer(m)
    return m, ex, ex.run()


def witnesses(name: str, daemons: int | None = None):
    m, ex, res = explored(name, daemons)
    return [(m, ex, w) for w in [*res.violations.values(), *res.reached.values()]]


@pytest.mark.parametrize("name,daemons", [("default", None), ("cancel-race", None), ("double-cancel", None),
                                          ("cancel-race", 2), ("rtems-lio", None)])
def test_checker_witnesses_round_trip_to_the_same_path(name, daemons):
    ws = witnesses(name, daemons)
    assert ws
    for m, ex, w in ws:
        path = ex.witness_path(w)
        t = replay(m, path, w.prop, w.message)
        round_trip(m, t, path)


def test_daemon_symmetry_paths_name_canonical_positions():
    # with two daemons the checker names a daemon by its place among the sorted daemons; the files
    # name the real daemon, and import maps it back so that replay gives the same actors
    m, ex, res = explored("cancel-race", 2)
    assert m.symmetric
    daemon_steps = 0
    for w in [*res.violations.values(), *res.reached.values()]:
        path = ex.witness_path(w)
        t = replay(m, path)
        daemon_steps += sum(1 for s in t.steps if s.actor.startswith("aiod"))
        _m, lt = F.loads(F.dumps(m, t, "json"))
        assert lt.path == path
        assert lt.scenario_file == F.scenario_file_of(m)
    assert daemon_steps > 0


def uaf():
    m, ex, res = explored("default")
    w = res.violations["UAF"]
    return m, replay(m, ex.witness_path(w), "UAF", w.message)


def test_itf_shape():
    m, t = uaf()
    doc = json.loads(F.dumps(m, t, "itf"))
    meta = doc["#meta"]
    assert meta["format"] == "ITF" and meta["source"] == "default" and meta["property"] == "UAF"
    assert "jobn = b" in meta["message"]
    assert doc["vars"] == F.ITF_VARS
    assert len(doc["states"]) == len(t.steps) + 1 == 24
    for i, st in enumerate(doc["states"]):
        assert st["#meta"] == {"index": i}
        assert set(st) - {"#meta"} == set(doc["vars"])
    assert doc["states"][0]["action_taken"]["label"] == "init"
    last = doc["states"][-1]
    assert last["action_taken"]["actor"] == "T2"
    assert last["action_taken"]["label"] == "CAN_END"
    assert last["action_taken"]["c_function"] == "aio_cancel_job"
    assert last["action_taken"]["lines"] == "L643-659"
    assert last["action_taken"]["choice"] == {"tag": "None", "value": {"#tup": []}}
    assert [e["kind"] for e in last["events"]][-1] == "uaf"
    assert last["jobs"]["b"]["alloc"] == {"#bigint": "2"}  # freed
    assert last["lists"]["kaio_done"] == ["a"]
    assert last["view"]["job b.alloc"] == "freed"
    io = next(s for s in doc["states"] if s["action_taken"]["label"] == "D_RUN")
    assert io["action_taken"]["choice"]["tag"] == "IoResult"
    assert io["action_taken"]["choice"]["value"]["status"] == {"#bigint": "512"}

    def no_plain_ints(v, where="") -> None:  # ITF: every integer is a #bigint (the #meta index aside)
        if isinstance(v, dict):
            for k, x in v.items():
                if k != "#meta":
                    no_plain_ints(x, f"{where}.{k}")
        elif isinstance(v, list):
            for x in v:
                no_plain_ints(x, where)
        else:
            assert not isinstance(v, int) or isinstance(v, bool), where

    no_plain_ints(doc["states"])


def test_json_is_a_superset_of_the_old_trace_json():
    m, t = uaf()
    doc = json.loads(F.dumps(m, t, "json"))
    assert doc["format"] == F.JSON_FORMAT
    for key in ("scenario", "property", "message", "initial", "steps", "states"):
        assert key in doc
    st = doc["steps"][18]
    assert (st["n"], st["actor"], st["label"], st["choice"]) == (19, "aiod0", "D_RUN", [512, 0])
    assert {"var": "job b.(status,error)", "from": "(-1, EINPROGRESS)", "to": "(512, OK)"} in st["changes"]


def test_encode_decode_state_is_exact():
    m, t = uaf()
    for i, s in enumerate(t.states):
        assert F.decode_state(m, F.encode_state(m, s), f"s{i}") == s
        assert F.decode_state(m, json.loads(json.dumps(F.encode_state(m, s, int))), f"s{i}") == s


def test_an_edited_state_is_reported_not_trusted():
    m, t = uaf()
    doc = json.loads(F.dumps(m, t, "itf"))
    doc["states"][5]["kaioinfo"]["count"] = {"#bigint": "7"}
    _m, lt = F.loads(json.dumps(doc))
    assert F.first_state_mismatch(lt, replay(m, lt.path)) == 5


def _itf_with(mutate):
    m, t = uaf()
    doc = json.loads(F.dumps(m, t, "itf"))
    mutate(doc)
    return json.dumps(doc)


BAD = {
    "empty": ("", "not a trace"),
    "not json": ("{ nope", "not valid JSON"),
    "json list": ("[1, 2]", "not a trace"),
    "json object of the wrong shape": ('{"a": 1}', "neither ITF"),
    "itf without states": ('{"#meta": {"source": "default"}, "states": []}', "non-empty 'states'"),
    "itf unknown scenario": (None, "unknown scenario 'no-such'"),
    "itf unknown label": (None, "unknown label 'FROB'"),
    "itf unknown actor": (None, "unknown actor 'T9'"),
    "itf step not enabled": (None, "cannot take"),
    "itf bad choice": (None, "unknown choice variant"),
    "itf bad bigint": (None, "expected an integer"),
    "json steps not a list": ('{"scenario": "default", "steps": 3}', "'steps' must be a list"),
    "json bad choice": ('{"scenario": "default", "steps": [{"actor": "T1", "label": "LIO_OPEN", "choice": {}}]}',
                        "bad choice"),
    "text bad header": ("Counterexample of something\n", "not a trace"),
    "text out of order": ("Counterexample for UAF in scenario default: x\n  2. T1  f (L1) [LIO_OPEN]\n", "out of order"),
}


def _bad_text(name: str) -> str:
    text, _ = BAD[name]
    if text is not None:
        return text
    if name == "itf unknown scenario":
        return _itf_with(lambda d: d["#meta"].update(source="no-such"))
    if name == "itf unknown label":
        return _itf_with(lambda d: d["states"][3]["action_taken"].update(label="FROB"))
    if name == "itf unknown actor":
        return _itf_with(lambda d: d["states"][3]["action_taken"].update(actor="T9"))
    if name == "itf step not enabled":
        return _itf_with(lambda d: d["states"][15]["action_taken"].update(actor="T1"))
    if name == "itf bad choice":
        return _itf_with(lambda d: d["states"][1]["action_taken"].update(choice={"tag": "Frob", "value": 1}))
    if name == "itf bad bigint":
        return _itf_with(lambda d: d["states"][2]["kaioinfo"].update(count={"#bigint": "x"}))
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_trace_files_get_a_clear_error(name, tmp_path):
    text = _bad_text(name)
    with pytest.raises(F.TraceFileError) as e:
        F.loads(text)
    assert BAD[name][1] in str(e.value)
    f = tmp_path / "bad.trace"
    f.write_text(text)
    r = CliRunner().invoke(trace_group, ["show", str(f)])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: {f}: ")
    assert BAD[name][1] in r.stderr
    assert "Traceback" not in r.output and r.exception is None or isinstance(r.exception, SystemExit)


def test_unreadable_files(tmp_path):
    for p, msg in ((tmp_path / "missing.json", "no such file"), (tmp_path, "is a directory")):
        r = CliRunner().invoke(trace_group, ["show", str(p)])
        assert r.exit_code == 2 and msg in r.stderr
    b = tmp_path / "binary.json"
    b.write_bytes(b"\xff\xfe\x00garbage")
    r = CliRunner().invoke(trace_group, ["show", str(b)])
    assert r.exit_code == 2 and "not UTF-8" in r.stderr


def test_scenario_file_traces_need_the_file(tmp_path):
    toml = (SCENARIOS / "cancel-race.toml").read_text()
    scen = tmp_path / "mine.toml"
    scen.write_text(toml.replace('name = "cancel-race"', 'name = "mine"'))
    m = Model(load(str(scen)))
    ex = Explorer(m)
    res = ex.run()
    w = res.reached["R-CLEARED"]
    t = replay(m, ex.witness_path(w), w.prop)
    f = tmp_path / "mine.itf.json"
    f.write_text(F.dumps(m, t, "itf"))
    r = CliRunner().invoke(trace_group, ["show", str(f)])  # the file records where the scenario is
    assert r.exit_code == 0, r.output
    scen.rename(tmp_path / "moved.toml")
    r = CliRunner().invoke(trace_group, ["show", str(f)])
    assert r.exit_code == 2 and "--scenario" in r.stderr
    scen = tmp_path / "moved.toml"
    r = CliRunner().invoke(trace_group, ["show", str(f), "--scenario", str(scen)])
    assert r.exit_code == 0, r.output
    assert r.stdout == format_trace(t) + "\n"


@pytest.mark.parametrize("fmt", F.FORMATS)
def test_cli_show_and_convert(fmt, tmp_path):
    m, t = uaf()
    f = tmp_path / f"uaf{F.SUFFIXES[fmt]}"
    f.write_text(F.dumps(m, t, fmt))
    r = CliRunner().invoke(trace_group, ["show", str(f)])
    assert r.exit_code == 0, r.output
    assert r.stdout == format_trace(t) + "\n"
    assert " 23. T2         aio_cancel_job (L643-659) [CAN_END]" in r.stdout
    for to in F.FORMATS:
        out = tmp_path / f"conv.{to}"
        r = CliRunner().invoke(trace_group, ["convert", str(f), "--to", to, "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert out.read_text() == F.dumps(m, t, to)


def test_write_trace_files(tmp_path):
    from aiospec.checker.diagrams import have_dot

    m, t = uaf()
    written = write_trace_files(m, t, tmp_path / "out", "default.UAF")
    names = sorted(p.name for p in written)
    want = ["default.UAF.itf.json", "default.UAF.json", "default.UAF.mmd", "default.UAF.txt"]
    if have_dot():
        want.append("default.UAF.svg")
    assert names == sorted(want)
    for p in written:
        if p.suffix in (".json", ".txt"):
            m2, lt = F.load_trace(p)
            same_trace(t, replay(m2, lt.path, lt.prop, lt.message))
