"""`aiospec replay`: counterexamples reproduced on the reference engine with real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from aiospec.checker.explore import Explorer
from aiospec.checker.formats import load_trace
from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.cli import main
from aiospec.reference.replay import replay_on_engine
from aiospec.spec import Model, load

TRACES = Path(__file__).resolve().parents[1] / "docs" / "traces"
ENGINE_RUNS = sorted(p for p in TRACES.glob("*.itf.json") if not p.name.startswith(("rtems-", "disk-")))


@pytest.mark.parametrize("path", ENGINE_RUNS, ids=[p.name for p in ENGINE_RUNS])
def test_every_freebsd_finding_is_reproduced_on_the_engine(path):
    model, tr = load_trace(path)
    rep = replay_on_engine(model, tr.path, tr.prop, tr.message)
    assert rep.followed == rep.steps == len(tr.path)
    assert rep.reproduced, "\n".join(rep.lines())
    if tr.prop in ("UAF", "STALE"):
        assert any(f.startswith(tr.prop) for f in rep.faults)


def test_cli_replay_reports_reproduction():
    r = CliRunner().invoke(main, ["replay", str(TRACES / "default.UAF.itf.json")])
    assert r.exit_code == 0, r.output
    assert "engine followed 23/23 steps" in r.output and "violation reproduced" in r.output


def test_cli_replay_explains_what_the_engine_cannot_run():
    r = CliRunner().invoke(main, ["replay", str(TRACES / "rtems-lio.DEADLOCK.itf.json")])
    assert r.exit_code == 1
    assert "cannot run" in r.output and "FreeBSD profile only" in r.output


def test_cli_replay_bad_file(tmp_path):
    bad = tmp_path / "x.itf.json"
    bad.write_text("{not json")
    r = CliRunner().invoke(main, ["replay", str(bad)])
    assert r.exit_code == 2
    assert "Traceback" not in r.output


def test_a_mutant_counterexample_is_not_reproduced_by_the_faithful_engine():
    """The engine has no such bug: the replay diverges or does not end in the violation."""
    mu = MUTANTS["complete-ignores-cancelling"]
    sc = load("cancel-race")
    with applied(mu):
        ex = Explorer(model_for(sc, mu))
        res = ex.run()
        path = ex.witness_path(res.violations["TAILQ"])
    rep = replay_on_engine(Model(sc), path, "TAILQ", timeout=2.0)
    assert not rep.reproduced
    assert rep.divergence or rep.error or rep.why
    assert "NOT reproduced" in "\n".join(rep.lines())
