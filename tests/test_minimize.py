"""Smaller certificates: the lemmas a proof uses, found by unsat cores, prove it on their own;
a solver that cannot answer, or survivors that are not inductive, leave every lemma kept."""

from __future__ import annotations

import pytest
import z3
from click.testing import CliRunner

from aiospec.checker.symbolic import lemmafile, minimize
from aiospec.checker.symbolic.bmc import TYPE
from aiospec.checker.symbolic.prove import TARGETS, prove
from aiospec.cli import main
from aiospec.spec.model import Model
from aiospec.spec.scenario import load

ALL_PROVED = {t: "proved" for t in TARGETS}


@pytest.fixture(scope="module")
def minimized():
    """cancel-race proved and minimized, with the facts its last encoding assumed."""
    from aiospec.checker.symbolic import strengthen

    assumed: list[list[str]] = []
    real = strengthen.encode
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(strengthen, "encode", lambda *a, facts=None, **k: assumed.append([t for t, _ in facts or []])
                   or real(*a, facts=facts, **k))
        rep = prove(Model(load("cancel-race")), minimize=True)
    assert {r.prop: r.result for r in rep.results} == ALL_PROVED
    return rep, assumed[-1]


def test_the_lemmas_a_proof_uses_prove_it_on_their_own(minimized):
    rep, _ = minimized
    assert rep.needed is not None and set(rep.needed) < set(rep.lemmas)
    assert len(rep.needed) < len(rep.lemmas) / 2, rep.needed_note  # the point: a much smaller file
    assert TYPE in rep.needed and {"D2", "D3", "D4", "D5", "D6", "D13", "D14"} <= set(rep.needed)  # the invariant targets
    assert f"the proof uses {len(rep.needed):,} of the {len(rep.lemmas):,} lemmas" in rep.needed_note
    again = prove(Model(load("cancel-race")), only=frozenset(x.removeprefix("lemma: ") for x in rep.needed))
    assert again.dropped == [] and sorted(again.lemmas) == sorted(rep.needed)
    assert {r.prop: r.result for r in again.results} == ALL_PROVED


def test_the_facts_the_encoding_assumes_are_kept(minimized):
    """They make the encoding exact, so a smaller file that left one out would be encoded
    with more paths, and might not be inductive there: they are roots whatever the cores say."""
    rep, assumed = minimized
    assert len(assumed) > 50 and {f"lemma: {t}" for t in assumed} <= set(rep.needed)


def test_lemma_file_writes_the_smaller_set_only_when_asked(minimized):
    rep, _ = minimized
    whole = lemmafile.read(lemmafile.write(rep), "cancel-race")
    small = lemmafile.read(lemmafile.write(rep, minimal=True), "cancel-race")
    assert len(whole) == len(rep.lemmas) and len(small) == len(rep.needed) < len(whole)


def test_a_solver_that_cannot_answer_keeps_every_lemma(monkeypatch):
    """An unanswered question proves nothing about what a smaller set would do: the report
    says so, and a minimal lemma file is then the whole one."""
    def hopeless(ctx, ms, lo, hi):
        g = z3.SolverFor("QF_BV", ctx=ctx)
        g.set("timeout", 1)
        g.set("max_conflicts", 0)
        return g

    monkeypatch.setattr(minimize, "_new_solver", hopeless)
    rep = prove(Model(load("return-twice")), ("A1",), minimize=True)
    assert rep.results[0].result == "proved"
    assert rep.needed is None and rep.needed_note.startswith("every lemma kept: solver gave unknown")
    assert lemmafile.read(lemmafile.write(rep, minimal=True), "return-twice") == \
        lemmafile.read(lemmafile.write(rep), "return-twice")


def test_prove_cli_minimal(tmp_path):
    f = tmp_path / "l.txt"
    r = CliRunner().invoke(main, ["prove", "return-twice", "--minimal", "--lemmas", str(f)])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and "the proof uses " in said, r.output
    used, total = (int(x.replace(",", "")) for x in said.split("the proof uses ")[1].split(" lemmas")[0].split(" of the "))
    assert len(lemmafile.read(f.read_text(), "return-twice")) == used < total
    r = CliRunner().invoke(main, ["prove", "return-twice", "--from-lemmas", str(f)])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and f"{used:,} still inductive" in said, r.output
