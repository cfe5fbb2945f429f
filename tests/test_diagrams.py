"""Sequence diagrams of counterexamples: Mermaid text, and SVG/PNG through graphviz.

The F1 picture must tell the race: T2's walk saves jobn = b and drops kaio_mtx, the daemon
finishes b, T1 reaps and frees b, T2 follows jobn: these are checked on the diagram's content.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiospec.checker import diagrams as D
from aiospec.checker import formats as F
from aiospec.checker.trace import replay
from aiospec.cli_trace import trace as trace_group

ROOT = Path(__file__).resolve().parent.parent
DOCS_TRACES = sorted((ROOT / "docs" / "traces").glob("*.txt"))


def _ensure_dot() -> bool:
    """graphviz is a dependency (.ci/run installs it); skip only if it truly cannot be had."""
    if D.have_dot():
        return True
    if shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && apt-get install -y -qq graphviz", shell=True, capture_output=True,
                       timeout=600)
    return D.have_dot()


needs_dot = pytest.mark.skipif(not _ensure_dot(), reason="graphviz 'dot' is not installed and cannot be")


@functools.cache
def uaf():
    m, lt = F.load_trace(ROOT / "docs" / "traces" / "default.UAF.txt")
    return m, replay(m, lt.path, lt.prop, lt.message)


def test_mermaid_tells_f1():
    m, t = uaf()
    mm = D.to_mermaid(m, t)
    lines = mm.splitlines()
    assert lines[0] == "sequenceDiagram"
    participants = [ln.split(" as ")[1] for ln in lines if ln.strip().startswith("participant")]
    assert participants == ["T1", "T2", "aiod0", "kaioinfo"]
    arrows = [ln for ln in lines if "->>P3:" in ln or "-xP3:" in ln]
    assert len(arrows) == 23
    assert "15. sys_aio_cancel (L2112-2158) [kaio_mtx]" in arrows[14]
    assert "T2 saves jobn = b, drops kaio_mtx" in mm
    assert "job b: +FINISHED" in mm and "kaio_done: [b]" in mm
    assert "job b: FREED (uma_zfree)" in mm
    assert "aio_waitcomplete returns OK" in mm
    assert "rect rgb(255, 215, 215)" in mm
    assert arrows[-1].strip().startswith("P1-xP3: 23. aio_cancel_job")
    assert "UAF: TAILQ_FOREACH_SAFE follows the saved successor jobn = b, already freed" in mm
    assert mm.count("activate P1") == 2  # the bar of the saved successor opens and closes


def test_mermaid_escapes():
    assert D._mm("a#1; x -> y") == "a#35;1#59; x → y"


def test_step_views_of_every_shipped_counterexample():
    for f in DOCS_TRACES:
        m, lt = F.load_trace(f)
        t = replay(m, lt.path, lt.prop, lt.message)
        views = D.step_views(m, t)
        assert len(views) == len(t.steps)
        assert all(len(v.notes) <= D.MAX_NOTES + 1 for v in views)
        assert views[-1].violation and lt.prop in views[-1].violation, f.name
        assert D.to_mermaid(m, t).startswith("sequenceDiagram")
        assert set(D.lifelines(m, t)) >= {s.actor for s in t.steps}


@needs_dot
def test_svg_and_png_of_f1():
    m, t = uaf()
    svg = D.to_svg(m, t)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for text in ("sys_aio_cancel", "aio_cancel_job", "T2 holds jobn = b", "job b: FREED (uma_zfree)",
                 "UAF: TAILQ_FOREACH_SAFE follows the saved successor"):
        assert text in svg, text
    assert "#cc0000" in svg
    png = D.to_png(m, t)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


@needs_dot
def test_every_shipped_counterexample_renders():
    for f in DOCS_TRACES:
        m, lt = F.load_trace(f)
        assert "<svg" in D.to_svg(m, replay(m, lt.path, lt.prop, lt.message))


@needs_dot
def test_cli_diagram(tmp_path):
    src = ROOT / "docs" / "traces" / "default.UAF.txt"
    mmd, svg, png = tmp_path / "f1.mmd", tmp_path / "f1.svg", tmp_path / "f1.png"
    r = CliRunner().invoke(trace_group, ["diagram", str(src), "--mermaid", str(mmd), "--svg", str(svg),
                                         "--png", str(png)])
    assert r.exit_code == 0, r.output
    m, t = uaf()
    assert mmd.read_text() == D.to_mermaid(m, t)
    assert "<svg" in svg.read_text()
    assert png.read_bytes()[:4] == b"\x89PNG"
    r = CliRunner().invoke(trace_group, ["diagram", str(src)])
    assert r.exit_code == 0 and r.stdout == D.to_mermaid(m, t)


def test_cli_diagram_without_graphviz_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setattr(D, "have_dot", lambda: False)
    r = CliRunner().invoke(trace_group, ["diagram", str(ROOT / "docs" / "traces" / "default.UAF.txt"),
                                         "--svg", str(tmp_path / "x.svg")])
    assert r.exit_code == 2
    assert r.stderr.startswith("error: graphviz is not installed")


def test_committed_f1_picture_is_current():
    # docs/img/f1-uaf.mmd is generated; the SVG/PNG beside it come from the same trace
    m, t = uaf()
    assert (ROOT / "docs" / "img" / "f1-uaf.mmd").read_text() == D.to_mermaid(m, t)
    assert (ROOT / "docs" / "img" / "f1-uaf.svg").exists() and (ROOT / "docs" / "img" / "f1-uaf.png").exists()
