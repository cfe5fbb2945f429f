"""The lemma file as a certificate: a later proof starts from it, checks it again, and so can
only prove less when the file is stale, never wrongly."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.checker.symbolic import lemmafile
from aiospec.checker.symbolic import prove as P
from aiospec.checker.symbolic import strengthen
from aiospec.checker.symbolic.formulas import BadFormulas, parse
from aiospec.checker.symbolic.layout import Layout
from aiospec.checker.symbolic.lemmas import mine, reachable_states, weakenings
from aiospec.checker.symbolic.prove import TARGETS, prove
from aiospec.cli import main
from aiospec.spec.model import Model
from aiospec.spec.properties import PROPERTIES
from aiospec.spec.scenario import load


SCEN = "suspend-early"  # one job, two threads: a proof in 3 s


@pytest.fixture(scope="module")
def certificate():
    return _certificate(SCEN)


def _certificate(name: str) -> tuple:
    rep = prove(Model(load(name)))
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    return rep, lemmafile.write(rep)


def test_a_proof_from_its_own_lemma_file_keeps_every_lemma_and_searches_nothing(certificate, monkeypatch):
    """...and asks about each actor step in parts of at most ``MAX_MOVES`` paths, each question
    bit-blasted whole (``houdini``'s ``whole``: asked once, where the search that wrote the
    file asked each step again and again on the incremental solver)."""
    from aiospec.checker.symbolic import houdini, strengthen

    rep, text = certificate
    only = lemmafile.read(text, SCEN)
    assert len(only) == len(rep.lemmas) and "TYPE-OK" in only
    widths: list[int] = []
    whole: list[bool] = []
    real = houdini._new_solver
    monkeypatch.setattr(houdini, "_new_solver", lambda ctx, ms, lo, hi, w=False: widths.append(hi - lo + 1)
                        or whole.append(w) or real(ctx, ms, lo, hi, w))
    again = prove(Model(load(SCEN)), only=only)
    assert whole and all(whole)
    assert again.dropped == [] and sorted(again.lemmas) == sorted(rep.lemmas)
    assert again.candidates == len(rep.lemmas) < rep.candidates
    assert {r.prop: r.result for r in again.results} == {t: "proved" for t in TARGETS}
    assert max(widths) > 8  # some actor step has more than 8 paths here...
    widths.clear()
    monkeypatch.setattr(strengthen, "MAX_MOVES", 8)
    parts = prove(Model(load(SCEN)), only=only)
    assert sorted(parts.lemmas) == sorted(rep.lemmas)
    assert widths and max(widths) <= 8  # ...and none is asked about whole


def test_a_proof_from_the_files_formulas_explores_nothing_and_keeps_every_lemma(certificate, monkeypatch):
    """Each mined lemma's line carries its formula; read back, they are the very terms mined
    (z3 shares equal terms), and a proof from them neither explores nor mines."""
    rep, text = certificate
    m = Model(load(SCEN))
    lay = Layout(m)
    by_name = dict(mine(m, lay, reachable_states(m), lay.frame("x")))
    texts = lemmafile.formulas(text, SCEN)
    mined = [x.removeprefix("lemma: ") for x in rep.lemmas if x.startswith("lemma: ")]
    assert sorted(texts) == sorted(mined) and len(mined) > 1_000
    assert all(f.eq(by_name[n]) for n, f in parse(m, texts))

    def nothing(*_a, **_k):
        raise AssertionError("a proof from the formulas explored or mined")
    for name in ("reachable_states", "mine"):
        monkeypatch.setattr(P, name, nothing)
    monkeypatch.setattr(strengthen, "mine", nothing)
    said: list[str] = []
    again = prove(m, only=lemmafile.read(text, SCEN), formulas=texts, progress=said.append)
    assert again.dropped == [] and sorted(again.lemmas) == sorted(rep.lemmas)
    assert again.mined_from == "the lemma file's formulas (no state explored)"
    assert {r.prop: r.result for r in again.results} == {t: "proved" for t in TARGETS}
    def lines(r):
        return sorted(lemmafile.write(r, dropped=False).splitlines())
    assert lines(again) == lines(rep)  # the same certificate, formulas and all


def test_the_files_formulas_are_checked_not_trusted(certificate):
    """A formula edited to say the opposite of its lemma is false initially: dropped, and the
    file is stale.  A formula over a variable the scenario lacks makes the file's formulas
    unusable: the lemmas are mined again by name, and the proof is the same."""
    rep, text = certificate
    m = Model(load(SCEN))
    only = lemmafile.read(text, SCEN)
    texts = lemmafile.formulas(text, SCEN)
    victim = next(n for n in sorted(texts) if "->" in n)
    fact = next(n for n in sorted(texts) if "->" not in n)  # one the encoder assumes: encoded again without it
    for bad in (victim, fact):
        flipped = prove(m, ("D9",), only=only, formulas={**texts, bad: f"(not {texts[bad]})"})
        assert flipped.dropped == [f"lemma: {bad} (false initially)"]
        assert flipped.mined_from == "the lemma file's formulas (no state explored)"
        assert flipped.results[0].result == "proved"
    said: list[str] = []
    alien = prove(m, ("D9",), only=only, formulas={**texts, victim: "(= |no.such.var@x| #x0001)"},
                  progress=said.append)
    assert any("does not fit this scenario" in x and "mining the named lemmas again" in x for x in said), said
    assert alien.dropped == [] and sorted(alien.lemmas) == sorted(rep.lemmas)
    assert alien.mined_from.startswith("the ") and "reachable states (the file's formulas were not used: " \
        "a lemma's formula does not fit this scenario" in alien.mined_from


def test_the_maintainers_tool_ships_the_lemmas_a_proof_uses_with_their_formulas(tmp_path, capsys):
    """``python -m aiospec.checker.symbolic.lemmafile NAME`` (how the shipped files are made):
    the file holds only the lemmas the proof uses, each mined one with its formula, and a
    proof from it, reading the formulas, proves every target."""
    lemmafile.main([SCEN, "--out", str(tmp_path)])
    said = capsys.readouterr().out
    assert f"{SCEN}: the proof uses" in said and "lemmas shipped" in said, said
    text = lemmafile.decode((tmp_path / f"{SCEN}.lemmas.gz").read_bytes())
    names, texts = lemmafile.read(text, SCEN), lemmafile.formulas(text, SCEN)
    assert "# dropped" not in text and "TYPE-OK" in names
    assert set(texts) == {n for n in names if n not in {p.name for p in PROPERTIES} | {"TYPE-OK"}}
    rep = prove(Model(load(SCEN)), only=names, formulas=texts)
    assert rep.mined_from == "the lemma file's formulas (no state explored)"
    assert rep.dropped == [] and 100 < len(rep.lemmas) == len(names) < 4_000  # of the search's 4,210
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    with pytest.raises(SystemExit) as e:
        lemmafile.main(["no-such-scenario", "--out", str(tmp_path)])
    assert e.value.code == 2 and "no-such-scenario" in capsys.readouterr().err


@pytest.mark.parametrize("texts, message", [
    ({"a": "(= |job[0].ALLOC@x| #x01)"}, "does not fit"),  # another width
    ({"a": "(= |job[0].ALLOC@x| #x0001"}, "does not fit"),  # unbalanced
    ({"a": "true) (assert false"}, "2 assertions"),
    ({"a": "|job[0].ALLOC@x|"}, "does not fit"),  # not a formula
])
def test_formulas_that_do_not_fit_the_layout_are_refused(texts, message):
    with pytest.raises(BadFormulas, match=message):
        parse(Model(load(SCEN)), texts)


def test_a_file_without_formulas_still_reads(certificate):
    """Files written before lines carried formulas: the same names, no formulas, mined again."""
    rep, text = certificate
    old = "".join(line.split("\t")[0] + "\n" for line in text.splitlines())
    assert "\t" in text and "\t" not in old
    assert lemmafile.read(old, SCEN) == lemmafile.read(text, SCEN)
    assert lemmafile.formulas(old, SCEN) == {}


def test_the_weakened_facts_a_file_names_are_proposed_again(certificate):
    """A fact that broke is proposed again under each control atom (``lemmas.weakenings``); a
    lemma file names the weakened forms that survived, and a proof from the file proposes each
    of them again, although the fact they weaken is not in the file.  The scenario breaks no
    fact, so here three facts are left out of its file and their weakenings put in (lio-signal's
    shipped file is one that needs this)."""
    rep, _ = certificate
    m = Model(load(SCEN))
    lay = Layout(m)
    xs, states = lay.frame("x"), reachable_states(m)
    kept = {x.removeprefix("lemma: ") for x in rep.lemmas}
    facts = [(t, f) for t, f in mine(m, lay, states, xs) if "->" not in t and t in kept][:3]
    weak = {t for t, _ in weakenings(m, lay, states, xs, facts)} - kept
    assert len(facts) == 3 and len(weak) > 10
    only = (kept - {t for t, _ in facts}) | weak
    again = prove(m, only=frozenset(only))
    assert again.candidates == len(only)  # every name proposed, the weakened ones too
    survived = weak & {x.removeprefix("lemma: ") for x in again.lemmas}
    assert len(survived) == len(weak)  # together they say what the left-out facts said
    assert {r.prop: r.result for r in again.results} == {t: "proved" for t in TARGETS}


def test_a_stale_file_cannot_prove_what_fails():
    """The faithful spec's lemmas, given to the mutant that completes a job twice: the file
    says nothing about A1 being safe there; it is re-checked, and A1 fails from a reachable
    state as without the file."""
    _, text = _certificate("cancel-race")  # where the mutant keeps TYPE-OK inductive and breaks A1 alone
    mu = MUTANTS["daemon-completes-twice"]
    for formulas in (None, lemmafile.formulas(text, "cancel-race")):  # with them, states are explored only now
        with applied(mu):
            m = model_for(load("cancel-race"), mu)
            rep = prove(m, ("A1", "D9"), only=lemmafile.read(text, "cancel-race"), formulas=formulas)
        a1 = rep.results[0]
        assert [r.prop for r in rep.results] == ["A1", "D9"]
        assert a1.result == "not inductive" and "IS reachable" in a1.detail, formulas is None
        # by name, mined from the mutant's states, some lemmas read otherwise there and break;
        # as formulas, the faithful spec's lemmas all still hold, and still do not give A1
        assert bool(rep.dropped) == (formulas is None)
    assert rep.mined_from.startswith("the lemma file's formulas (no state explored); ")
    assert rep.mined_from.endswith(" states explored to judge what it leaves open")


def test_names_the_file_has_and_the_scenario_lacks_are_ignored(certificate):
    rep, text = certificate
    edited = text.replace("# inductive\n", "# inductive\nlemma: no such fact == 7\n", 1)
    only = lemmafile.read(edited, SCEN)
    again = prove(Model(load(SCEN)), ("D9",), only=only)
    assert again.candidates == len(rep.lemmas) == len(only) - 1
    assert again.results[0].result == "proved"


@pytest.mark.parametrize("content, message", [
    ("hello\n", "not a lemma file"),
    ("# aiospec prove lemmas, scenario: lio-wait\n# inductive\nTYPE-OK\n", "for scenario 'lio-wait'"),
    ("# inductive\n# dropped\nD9\n", "names no inductive lemma"),
    (gzip.compress(b"# inductive\nTYPE-OK\n", mtime=0)[:-6], "not a readable gzip file"),  # cut short
    (gzip.compress(b"hello\n", mtime=0), "not a lemma file"),
])
def test_prove_cli_refuses_a_bad_lemma_file(tmp_path, content, message):
    f = tmp_path / "l.txt"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = CliRunner().invoke(main, ["prove", SCEN, "--from-lemmas", str(f)])
    said = " ".join(r.output.split())  # the console may wrap the line
    assert r.exit_code == 2 and message in said and "Traceback" not in said, r.output


@pytest.mark.parametrize("name", ["l.txt", "l.lemmas.gz"])
def test_prove_cli_round_trip(tmp_path, name):
    f = tmp_path / name
    r = CliRunner().invoke(main, ["prove", SCEN, "--prop", "A1", "--lemmas", str(f)])
    assert r.exit_code == 0, r.output
    raw = f.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")  # compressed when the name says so
    assert lemmafile.decode(raw).startswith(f"# aiospec prove lemmas, scenario: {SCEN}\n# inductive\n")
    r = CliRunner().invoke(main, ["prove", SCEN, "--prop", "A1", "--from-lemmas", str(f)])
    assert r.exit_code == 0 and "still inductive" in r.output and "proved" in r.output, r.output
    assert "mined from the lemma file's formulas (no state explored)" in " ".join(r.output.split())
    r = CliRunner().invoke(main, ["prove", SCEN, "--from-lemmas", str(tmp_path / "missing.txt")])
    assert r.exit_code == 2 and "does not exist" in r.output


def _shipped(monkeypatch, text: str) -> None:
    monkeypatch.setattr(lemmafile, "shipped", lambda name: text if name == SCEN else None)


@pytest.mark.heavy
def test_prove_checks_the_shipped_lemma_file_and_searches_only_when_it_is_stale(certificate, monkeypatch):
    rep, text = certificate
    _shipped(monkeypatch, text)
    r = CliRunner().invoke(main, ["prove", SCEN, "--prop", "A1"])
    assert r.exit_code == 0 and "named in the lemma file shipped with it" in r.output, r.output
    assert "stale" not in r.output
    r = CliRunner().invoke(main, ["prove", SCEN, "--prop", "A1", "--search"])
    assert r.exit_code == 0 and "shipped" not in r.output, r.output
    # a lemma the search dropped, slipped into the file: the check drops it, so the file is
    # stale, and prove searches as if there were none (with --minimal, it minimizes only that)
    bad = next(x for x in rep.dropped if x.startswith("lemma: ") and "(" not in x)
    _shipped(monkeypatch, text.replace("# inductive\n", f"# inductive\n{bad}\n", 1))
    minimized = []
    real = P._minimize
    monkeypatch.setattr(P, "_minimize", lambda r, *a: (minimized.append(len(r.lemmas)), real(r, *a)))
    r = CliRunner().invoke(main, ["prove", SCEN, "--prop", "A1", "--minimal"])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and f"the lemma file shipped with {SCEN} is stale (1 of its lemmas" in said, r.output
    assert f"{len(rep.lemmas):,} inductive lemmas of {rep.candidates:,} candidates" in said
    assert minimized == [len(rep.lemmas)] and "the proof uses" in said


def test_a_shipped_file_that_proves_less_is_stale_too(monkeypatch):
    """A shipped file holds only the lemmas its proof uses (``--minimal``), so after a change to
    the spec it can stay inductive and still prove less: then too `prove` searches."""
    from aiospec.checker.symbolic import prove as prove_module

    rep = prove(Model(load(SCEN)), ("A1",))
    text = lemmafile.write(rep)
    monkeypatch.setattr(lemmafile, "shipped", lambda name: text if name == SCEN else None)
    real = prove_module.prove

    def weaker(model, targets, only=None, **kw):  # the file's proof leaves A1 open
        r = real(model, targets, only=only, **kw)
        if only is not None:
            r.results = [dataclasses.replace(x, result="not inductive") if x.prop == "A1" else x for x in r.results]
        return r

    monkeypatch.setattr(prove_module, "prove", weaker)
    r = CliRunner().invoke(main, ["prove", SCEN, "--prop", "A1"])
    said = " ".join(r.output.split())
    assert f"the lemma file shipped with {SCEN} is stale (they do not prove A1)" in said, r.output
    assert r.exit_code == 0 and f"{len(rep.lemmas):,} inductive lemmas of {rep.candidates:,} candidates" in said


def test_every_shipped_lemma_file_reads_for_its_scenario():
    from importlib import resources

    from aiospec.spec.scenario import builtin_names

    folder = resources.files("aiospec") / "scenarios" / "lemmas"
    names = sorted(f.name.removesuffix(".lemmas.gz") for f in folder.iterdir() if f.name.endswith(".lemmas.gz"))
    assert names == ["default", "lio-signal", "lio-wait"]
    for name in names:
        assert name in builtin_names()
        assert len(lemmafile.read(lemmafile.shipped(name), name)) > 1_000


@pytest.mark.parametrize("name", [pytest.param("default", marks=pytest.mark.slow),
                                  pytest.param("lio-signal", marks=pytest.mark.heavy),
                                  pytest.param("lio-wait", marks=pytest.mark.heavy)])
def test_the_lemma_file_shipped_is_still_inductive_and_proves_every_target(name):
    """Every lemma of the shipped file is still inductive, and they prove every target.  The
    searches behind the files are too long for CI (`default` over an hour; lio-signal about
    3 min and lio-wait about 2, `slow` in test_symbolic), so CI checks the files of lio-signal
    and lio-wait (under 20 s each, from their formulas) instead."""
    text = lemmafile.shipped(name)
    rep = prove(Model(load(name)), only=lemmafile.read(text, name), formulas=lemmafile.formulas(text, name))
    assert rep.dropped == [] and len(rep.lemmas) == rep.candidates > 1_000
    results = {r.prop: (r.result, r.method.split(",")[0]) for r in rep.results}
    assert all(r == "proved" for r, _ in results.values())  # docs/proofs.md: every target
    assert rep.mined_from == "the lemma file's formulas (no state explored)"
    if name == "default":
        assert results["A1"][1] == "induction (k=1)" and results["SPEC-ERROR"][1] == "induction (k=2)"
    elif name == "lio-wait":  # D13/D14 on a real lio, with the lio's count of its jobs
        assert any("lio[0].COUNT - #{j : " in x for x in rep.lemmas)
    else:  # "job 1's result was never handed out" is not inductive, its forms under control atoms are
        assert "job[1].G_RETURNED == 0" not in rep.lemmas
        assert any(x.startswith("lemma: ") and x.endswith("-> job[1].G_RETURNED == 0") for x in rep.lemmas)


EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


@pytest.mark.parametrize("n", [pytest.param(2, marks=pytest.mark.heavy), pytest.param(3, marks=pytest.mark.slow),
                               pytest.param(4, marks=pytest.mark.slow)])
def test_the_race_n_certificates_prove_every_target(n):
    """docs/examples ships, for each size of the family proved, the lemmas its proof uses: a
    reader checks the four-request proof from its file instead of searching (docs/proofs.md)."""
    f = EXAMPLES / f"race-n.T{n}.lemmas.gz"
    sc = load(str(EXAMPLES / "race-n.toml"), {"T": n})
    text = lemmafile.decode(f.read_bytes())
    only = lemmafile.read(text, sc.name)
    rep = prove(Model(sc), only=only, formulas=lemmafile.formulas(text, sc.name))  # as --from-lemmas reads it
    assert rep.dropped == [] and len(rep.lemmas) == len(only)
    assert rep.mined_from == "the lemma file's formulas (no state explored)"
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
