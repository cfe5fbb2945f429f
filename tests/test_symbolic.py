"""The z3 encoding of the spec: BMC agrees with the explicit checker, proofs hold and break."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import z3
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as hs

from aiospec.checker.explore import Explorer
from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.checker.symbolic.bmc import TYPE, bmc
from aiospec.checker.symbolic.encode import encode
from aiospec.checker.symbolic.layout import Layout
from aiospec.checker.symbolic.lemmas import (_atoms, _cooccur, _job_facts, mine, reachable_states, show, symmetric,
                                             weakenings)
from aiospec.checker.symbolic.prove import TARGETS, prove
from aiospec.checker.trace import replay
from aiospec.checker.symbolic.values import PathExplorer, SymInt
from aiospec.cli import main
from aiospec.spec.actions import pc
from aiospec.spec.variables import K
from aiospec.spec.model import Model
from aiospec.spec.scenario import load, load_text
from aiospec.spec.state import S_JOBS, S_LISTS
from aiospec.spec.variables import ALL_VARS, J


@pytest.fixture(scope="module")
def cancel_race():
    m = Model(load("cancel-race"))
    ex = Explorer(m)
    res = ex.run()
    return m, res, ex, encode(m)


@settings(max_examples=25, deadline=None)
@given(hs.integers(min_value=1, max_value=6), hs.integers(min_value=0, max_value=6))
def test_path_explorer_replays_a_prefix_without_a_solver_scope_per_decision(n, bound):
    """n independent decisions under x < 2**n - bound: every feasible path once, with its
    own values; the shared prefix a re-run replays goes onto the solver in one scope at its
    first question, so the scopes opened are no more than the solver's questions, far fewer
    than the decisions taken (one per decision, before)."""
    bound = min(bound, (1 << n) - 1)
    x = z3.BitVec("x", 8)
    pushes = [0]

    class Counting(z3.Solver):
        def push(self):
            pushes[0] += 1
            super().push()

    pe = PathExplorer(8, [x >= 0, x < (1 << n) - bound])
    real = z3.Solver
    z3.Solver = Counting
    try:
        def body(pe):
            X = SymInt(x, pe)
            return sum(1 << i for i in range(n) if (X >> i) & 1)
        paths = pe.explore(body)
    finally:
        z3.Solver = real
    assert sorted(p.result for p in paths) == list(range((1 << n) - bound))
    # a scope per question (its own, and the decisions before it), per run, and the base
    assert pushes[0] <= 2 * pe.solver_checks + len(paths) + 1


def test_path_explorer_forks_on_every_feasible_branch():
    x, y = z3.BitVec("x", 8), z3.BitVec("y", 8)
    pe = PathExplorer(8, [x >= 0, x < 3, y >= 0, y < 2])

    def body(pe):
        X, Y = SymInt(x, pe), SymInt(y, pe)
        r = [10, 20, 30][X]  # indexing concretizes: one path per feasible value
        if Y:
            r += 1
        return r

    paths = pe.explore(body)
    assert sorted(p.result for p in paths) == [10, 11, 20, 21, 30, 31]
    assert sorted(p.result for p in pe.explore(body, given=y == 0)) == [10, 20, 30]
    for p in paths:  # each guard pins the inputs that produce its result
        s = z3.Solver()
        s.add(p.guard, x >= 0, x < 3, y >= 0, y < 2)
        assert s.check() == z3.sat
        m = s.model()
        assert [10, 20, 30][m.eval(x).as_long()] + m.eval(y).as_long() == p.result


_LIST_A = [z3.BitVec(f"la{i}", 8) for i in range(4)]  # length, then three slots
_LIST_B = [z3.BitVec(f"lb{i}", 8) for i in range(3)]  # length, then two slots


@settings(max_examples=150, deadline=None)
@given(hs.lists(hs.integers(0, 2), max_size=3), hs.lists(hs.integers(0, 2), max_size=2),
       hs.lists(hs.integers(0, 2), min_size=3, max_size=3))
def test_two_symbolic_lists_compare_as_the_lists_they_hold(a, b, junk):
    """List equality is one decision (LOCKS compares every list of a step); it must still mean
    equal lengths and equal elements up to the length, whatever the slots past it hold."""
    from aiospec.checker.symbolic.layout import SymList

    pe = PathExplorer(8)

    def body(pe):
        la, lb = SymList(_LIST_A[0], _LIST_A[1:], pe), SymList(_LIST_B[0], _LIST_B[1:], pe)
        return la == lb, la != lb

    assert len(pe.explore(body)) == 2  # neither list is forked on its length
    fill = [*a, *junk][:3], [*b, *junk][:2]
    pin = z3.And(*[x == v for x, v in zip(_LIST_A, [len(a), *fill[0]])],
                 *[x == v for x, v in zip(_LIST_B, [len(b), *fill[1]])])
    (path,) = pe.explore(body, given=pin)
    assert path.result == (a == b, a != b)


def test_every_variable_has_a_domain_and_a_new_one_must_say_its_bounds():
    from dataclasses import replace

    from aiospec.checker.symbolic.layout import bounds_of
    from aiospec.spec.scenario import builtin_names

    for name in builtin_names():
        sc = load(name)
        for v in ALL_VARS:
            if v.record == "lists":  # a list is a length and element slots (Layout), not one range
                continue
            b = bounds_of(v, sc)
            assert b is None and v.domain == "int" or b[0] <= b[1], (name, v.attr)
        lay = Layout(Model(sc))
        assert all(x.lo <= v <= x.hi for x, v in zip(lay.slots, lay.values(Model(sc).initial())))
        # the cancel walk's counts are C ints with no bound: TYPE-OK says nothing of them
        c = next(x for x in lay.slots if x.name.endswith("].C"))
        assert (c.lo, c.hi) == (-(1 << (lay.width - 1)), (1 << (lay.width - 1)) - 1)
    with pytest.raises(KeyError, match="no bounds"):
        bounds_of(replace(ALL_VARS[0], domain="a domain nobody declared"), load("cancel-race"))


def _successors_from_encoding(enc, state):
    """The updates enabled in ``state`` and the states they compute, evaluated by z3 in a model
    that fixes every variable (about 30x faster than substituting and simplifying)."""
    s = z3.Solver()
    s.add(*[x == v for x, v in zip(enc.xs, enc.layout.values(state))])
    assert s.check() == z3.sat
    md = s.model()
    got = set()
    for u in enc.steps:
        if z3.is_true(md.eval(u.guard, model_completion=True)):
            post = None if u.halts else tuple(md.eval(x, model_completion=True).as_signed_long() for x in u.post)
            got.add((u.actor, u.label, u.option, post))
    return got


def _agrees_on(m, enc, states) -> None:
    for st in states:
        want = set()
        for a in m.actors():
            for o, (_, lb, c) in enumerate(m.enabled_for(st, a)):
                tr = m.step(st, a, lb, c, canonical=False)
                want.add((a, lb.name, o, None if tr.halts else tuple(enc.layout.values(tr.target))))
        assert _successors_from_encoding(enc, st) == want


def test_encoding_agrees_with_the_explicit_model_on_reachable_states(cancel_race):
    """From sampled reachable states, the encoding's enabled updates are exactly the explicit
    steps (actor, label, option) and compute the same next state."""
    m, res, ex, enc = cancel_race
    states = reachable_states(m)
    assert len(states) >= res.states  # the non-canonical space (one daemon here: the same)
    _agrees_on(m, enc, states)


def test_merged_cancel_walk_agrees_with_the_explicit_model():
    """lio-wait's fd-wide cancel walks three jobs in one step.  The encoder merges the walk's
    paths at each ``View.cut`` (far fewer paths than without), and the merged encoding still
    gives exactly the explicit successors; here with the reachable values assumed as facts."""
    from aiospec.checker.symbolic import encode as encode_mod
    from aiospec.checker.symbolic.lemmas import value_facts

    m = Model(load("lio-wait"))
    states = reachable_states(m)
    lay = Layout(m)
    facts = value_facts(m, lay, states, lay.frame("x"))
    enc = encode(m, props=[], facts=facts)
    _agrees_on(m, enc, states[::3])
    assert any(u.label == "CAN_END" for u in enc.steps)
    t2 = [a for a in m.actors() if m.actor_name(a) == "T2"][0]
    merged = sum(1 for u in enc.steps if u.actor == t2)

    def no_cut(self, fn, *args):
        return None

    orig = encode_mod.SymView.cut
    encode_mod.SymView.cut = no_cut
    try:
        unmerged = encode(m, props=[], facts=facts)
    finally:
        encode_mod.SymView.cut = orig
    assert merged < sum(1 for u in unmerged.steps if u.actor == t2)
    _agrees_on(m, unmerged, states[::13])


def test_bmc_agrees_with_the_explicit_checker(cancel_race):
    """Below the shortest counterexample BMC finds nothing; at its depth, the same property."""
    m, res, ex, enc = cancel_race
    lengths = {n: len(ex.witness_path(w)) for n, w in res.violations.items()}
    assert lengths == {"P-RETURN": 9}
    r = bmc(m, 9, enc=enc)
    assert set(r.violations) == {"P-RETURN"}
    v = r.violations["P-RETURN"]
    assert v.depth == 9 and "returned EINVAL" in v.message  # confirmed by replaying on the explicit model
    tr = replay(m, v.path, "P-RETURN")
    assert tr.steps[-1].label.name == "RETURN_FIND"


def test_prove_every_target_on_the_faithful_spec(cancel_race):
    m, res, ex, enc = cancel_race
    rep = prove(m, enc=enc)
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    assert "D7" in rep.lemmas and TYPE in rep.lemmas
    assert any(x.startswith("lemma: ") for x in rep.lemmas)


def test_a_mutant_breaks_a_proof_and_bmc_finds_it(tmp_path):
    lemmas = tmp_path / "lemmas.txt"
    r = CliRunner().invoke(main, ["prove", "cancel-race", "--mutant", "daemon-completes-twice", "--prop", "A1",
                                  "--lemmas", str(lemmas)])
    assert r.exit_code == 1, r.output
    assert "not inductive" in r.output and "IS reachable" in r.output
    assert "# inductive\nTYPE-OK\n" in lemmas.read_text()
    r = CliRunner().invoke(main, ["bmc", "cancel-race", "--depth", "6", "--mutant", "daemon-completes-twice",
                                  "--trace-out", str(tmp_path)])
    assert r.exit_code == 1, r.output
    assert "KASSERT: duplicate aio_complete" in r.output and "A1 (6 steps)" in r.output
    assert (tmp_path / "cancel-race.bmc.A1.itf.json").exists()
    mu = MUTANTS["daemon-completes-twice"]  # the explicit checker agrees on the depth
    with applied(mu):
        mm = model_for(load("cancel-race"), mu)
        mres = Explorer(mm).run()
    assert "A1" in mres.violations


def test_cli_bad_input():
    for args, needle in ((["bmc", "cancel-race", "--prop", "NOPE"], "unknown property"),
                         (["bmc", "cancel-race", "--mutant", "nope"], "unknown mutant"),
                         (["prove", "cancel-race", "--mutant", "nope"], "unknown mutant"),
                         (["bmc", "no-such-scenario"], "no-such-scenario"),
                         (["bmc", "cancel-race", "--depth", "-1"], "-1")):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output and "Traceback" not in r.output


@pytest.mark.heavy
def test_bmc_exact_refines_facts_from_a_too_small_sample():
    """Facts mined from 60 states are wrong; BMC finds the reachable states that break them,
    mines again, and ends with the explicit checker's verdict (P-RETURN at 9 on cancel-race)."""
    from aiospec.checker.symbolic.bmc import FACTS, NOT_BY_DEFAULT
    from aiospec.checker.symbolic.strengthen import bmc_exact
    from aiospec.spec.properties import PROPERTIES

    m = Model(load("cancel-race"))
    props = [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT]
    seen = []
    r = bmc_exact(m, 9, props, limit=60, walks=0, progress=seen.append)
    assert r.rounds > 1 and r.sampled > 60
    assert any("breaks a fact" in x for x in seen)
    assert FACTS not in r.violations
    assert {n: v.depth for n, v in r.violations.items()} == {"P-RETURN": 9}


def test_bmc_with_facts_scales_to_lio_wait_and_agrees():
    """With the values each variable takes assumed while encoding (and checked on every frame),
    lio-wait's three jobs encode in seconds; BMC agrees with the explicit checker (nothing)."""
    from aiospec.checker.symbolic.bmc import FACTS
    from aiospec.checker.symbolic.lemmas import value_facts

    m = Model(load("lio-wait"))
    res, _ = Explorer(m).run(), None
    assert not res.violations
    lay = Layout(m)
    facts = value_facts(m, lay, reachable_states(m), lay.frame("x"))
    assert any("PC in {" in t for t, _ in facts)
    enc = encode(m, facts=facts)
    r = bmc(m, 6, enc=enc)
    assert r.violations == {}  # FACTS, TYPE-OK and every property hold within 6 steps
    assert FACTS not in r.violations
    # a fact that reachable states break is reported, not silently trusted
    alloc0 = lay.frame("x")[lay.index[(S_JOBS, 0, J.ALLOC)]]
    r2 = bmc(m, 4, enc=encode(m, facts=facts + [("job 0 is never allocated", alloc0 == 0)]))
    assert FACTS in r2.violations


@pytest.mark.parametrize("name", ["double-cancel", "lio-fsync", "suspend-early", "return-twice"])
def test_event_properties_judge_each_event_alone(name):
    """The encoder checks an event property one event at a time; that is exact only because each
    property fails on a step iff one of its events fails it alone."""
    from aiospec.spec.model import Transition
    from aiospec.spec.properties import PROPERTIES, Ctx

    m = Model(load(name))
    ctx = Ctx(m)
    props = [p for p in PROPERTIES if p.kind == "step" and p.on]
    checked = 0
    for st in reachable_states(m)[::3]:
        for tr in m.successors(st):
            for p in props:
                evs = [e for e in tr.events if e.kind in p.on]
                if not evs:
                    continue
                whole = p.check(ctx, st, tr) is not None
                alone = any(p.check(ctx, st, Transition(tr.actor, tr.label, tr.choice, (e,), tr.target)) is not None
                            for e in evs)
                assert whole == alone, (name, p.name, tr.label.name)
                checked += 1
    assert checked > 40


@pytest.mark.slow
def test_bmc_default_agrees_with_the_explicit_checker_to_depth_13():
    """`default` (three jobs, a lio, an fsync, an fd-wide cancel): the explicit checker's shortest
    violation is P-CANCEL at 21 steps, so exact BMC to depth 13 must find nothing (about 5 minutes
    with the partial-order reduction, as depth 10 took without it)."""
    from aiospec.checker.symbolic.bmc import NOT_BY_DEFAULT
    from aiospec.checker.symbolic.strengthen import bmc_exact
    from aiospec.spec.properties import PROPERTIES

    m = Model(load("default"))
    r = bmc_exact(m, 13, [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT])
    assert r.violations == {}


@pytest.mark.heavy
def test_strengthen_keeps_only_facts_that_are_inductive_on_the_plain_encoding(cancel_race):
    """strengthen() encodes assuming sampled facts and keeps what Houdini proves; the lemmas it
    returns must also be inductive on the encoding that assumes nothing (checked here)."""
    from aiospec.checker.symbolic.bmc import Unroller
    from aiospec.checker.symbolic.strengthen import strengthen

    m, res, ex, plain = cancel_race
    st = strengthen(m, limit=1_000)
    names = {t for t, _ in st.lemmas}
    assert st.assumed and set(st.assumed) <= names
    assert any("->" in t for t in names)
    un = Unroller(plain)
    step = un.step()
    x0, x1 = un.frames[0], un.frames[1]
    cands = [(t, z3.substitute(f, *zip(plain.xs, x0)), z3.substitute(f, *zip(plain.xs, x1))) for t, f in st.lemmas]
    cands.insert(0, (TYPE, plain.layout.type_ok(x0), plain.layout.type_ok(x1)))
    spec = [n for n in st.kept if n in plain.invariants]  # the spec invariants it kept are part of it
    assert spec
    cands += [(n, z3.Not(z3.substitute(plain.invariants[n], *zip(plain.xs, x0))),
               z3.Not(z3.substitute(plain.invariants[n], *zip(plain.xs, x1)))) for n in spec]
    s = z3.SolverFor("QF_BV")  # true initially, and kept by every step at once: one question each
    s.add(un.init(m), z3.Or(*[z3.Not(c[1]) for c in cands]))
    r = s.check()  # (not in the assert: a failing one would print the whole solver)
    assert r == z3.unsat
    s = z3.SolverFor("QF_BV")
    s.add(step, *[c[1] for c in cands], z3.Or(*[z3.Not(c[2]) for c in cands]))
    r = s.check()
    assert r == z3.unsat


@pytest.fixture(scope="module")
def one_at_a_time(cancel_race):
    """Houdini on ``_mined_candidates``, one question at a time: (model, unroller, step,
    candidates, survivors, dropped, complete)."""
    from aiospec.checker.symbolic.houdini import houdini

    m, un, step, cands = _mined_candidates(cancel_race)
    dropped: list[str] = []
    kept, complete = houdini(z3.SolverFor("QF_BV"), un.init_values(m), un, step, cands, dropped)
    return m, un, step, cands, kept, dropped, complete


def _mined_candidates(cancel_race):
    """cancel-race's plain encoding, its step, and the candidates mined from its states, plus
    one true initially and broken by a step ("never committed": kaio_count stays 0)."""
    from aiospec.checker.symbolic.bmc import Unroller
    from aiospec.checker.symbolic.lemmas import mine, reachable_states
    from aiospec.spec.state import S_KI
    from aiospec.spec.variables import K

    m, res, ex, plain = cancel_race
    un = Unroller(plain)
    step = un.step()
    x0, x1 = un.frames[0], un.frames[1]
    lay = plain.layout
    mined = mine(m, lay, reachable_states(m, 10_000), plain.xs)
    cands = [(TYPE, lay.type_ok(x0), lay.type_ok(x1))]
    cands += [(t, z3.substitute(f, *zip(plain.xs, x0)), z3.substitute(f, *zip(plain.xs, x1))) for t, f in mined]
    v = lay.index[(S_KI, -1, K.COUNT)]  # kaio_count: 0 at the start, 1 once aio_write commits
    cands.append(("never committed", x0[v] == 0, x1[v] == 0))
    return m, un, step, cands


def test_houdini_asks_step_by_step_and_what_survives_is_inductive_in_one_check(one_at_a_time):
    """Houdini asks one actor step at a time about the candidates it writes; its survivors must
    pass the single question about every step at once, and a candidate true initially but
    broken by a step (no committed job, ever) must be dropped, with what rested on it."""
    m, un, step, cands, kept, dropped, complete = one_at_a_time
    assert complete and "never committed" in dropped and TYPE in {c[0] for c in kept}
    assert len(kept) > len(cands) // 2
    s = z3.SolverFor("QF_BV")
    s.add(step, *[c[1] for c in kept], z3.Or(*[z3.Not(c[2]) for c in kept]))
    assert s.check() == z3.unsat


class _LateAnswers:
    """A stand-in for Houdini's pool of threads that answers each question when it is asked
    (about the survivors then) but hands the answers back only once ``jobs`` are in flight,
    oldest first: with ``jobs`` large, every question of a pass is asked about the same
    survivors before any answer is read.  The worst a pool may do, made repeatable."""

    def __new__(cls):
        from aiospec.checker.symbolic import houdini as H

        class Late(H._Asker):
            def __init__(self, jobs, *a):
                super().__init__(*a)
                self.jobs = jobs

            def free(self):
                return len(self.flying) < self.jobs

            def result(self):
                return self.flying.pop(0)

        return Late


@pytest.mark.heavy
def test_houdini_asking_questions_at_once_keeps_and_drops_the_same(one_at_a_time, monkeypatch):
    """With several questions in flight (z3 contexts on threads) the answers arrive in any
    order, and one may be about survivors another answer has since cut.  The largest inductive
    subset is unique, so the survivors and the dropped candidates must be those of one at a
    time, each dropped once, and what survives must pass the question about every step at once.
    Here every question of a pass is answered before any answer is read (``_LateAnswers``);
    real threads are compared with one at a time by ``test_concrete`` (strengthen with jobs=2)."""
    from aiospec.checker.symbolic import houdini as H

    m, un, step, cands, kept1, dropped1, complete1 = one_at_a_time
    monkeypatch.setattr(H, "_Pool", _LateAnswers())
    dropped: list[str] = []
    kept, complete = H.houdini(z3.SolverFor("QF_BV"), un.init_values(m), un, step, cands, dropped, jobs=50)
    assert [c[0] for c in kept] == [c[0] for c in kept1]
    assert sorted(dropped) == sorted(dropped1) and len(set(dropped)) == len(dropped)
    assert complete and "never committed" in dropped
    s = z3.SolverFor("QF_BV")
    s.add(step, *[c[1] for c in kept], z3.Or(*[z3.Not(c[2]) for c in kept]))
    assert s.check() == z3.unsat


def test_houdini_with_each_question_bit_blasted_whole_keeps_and_drops_the_same(one_at_a_time, monkeypatch):
    """``whole`` (a fresh SAT solver per question, chosen for certificate checks) changes the
    solver, not the answer: on a search that drops candidates (so its models are read) the
    survivors and the drops are those of the incremental solver (two questions at once, on
    threads), and every solver it made was the bit-blasting one."""
    from aiospec.checker.symbolic import houdini as H

    m, un, step, cands, kept1, dropped1, _ = one_at_a_time
    made: list = []
    real = H._new_solver

    def new(ctx, ms, lo, hi, whole=False):
        made.append((whole, real(ctx, ms, lo, hi, whole)))
        return made[-1][1]
    monkeypatch.setattr(H, "_new_solver", new)
    dropped: list[str] = []
    kept, complete = H.houdini(z3.SolverFor("QF_BV"), un.init_values(m), un, step, cands, dropped,
                               jobs=2, whole=True)
    assert complete and [c[0] for c in kept] == [c[0] for c in kept1]
    assert sorted(dropped) == sorted(dropped1) and "never committed" in dropped
    assert made and all(w for w, _ in made)
    asked = [set(g.statistics().keys()) for _, g in made]  # the tactic's own preprocessing ran
    asked = [k for k in asked if "sat decisions" in k]  # (the incremental core reports no solve-eqs)
    assert asked and all("solve-eqs-steps" in k for k in asked)


class _NoAnswerOnWideQuestions:
    """A solver that answers "unknown" about more than ``limit`` moves at once (as z3 does
    past its time limit on a big question)."""

    def __init__(self, g, lo: int, hi: int, asked_about: list, limit: int = 40) -> None:
        self.g, self.wide = g, hi - lo + 1 > limit
        asked_about.append((lo, hi))

    def check(self, *a):
        return z3.unknown if self.wide else self.g.check(*a)

    def __getattr__(self, name):
        return getattr(self.g, name)


@pytest.mark.heavy
def test_houdini_asks_each_half_when_the_solver_cannot_answer(one_at_a_time, monkeypatch):
    """A question the solver gives up on is asked again about each half of its moves: the
    survivors are those of the unsplit questions, and only single moves may give up."""
    from aiospec.checker.symbolic import houdini as H

    m, un, step, cands, kept1, _, _ = one_at_a_time
    whole = [c[0] for c in kept1]

    def run(max_moves: int | None = None) -> tuple[list[str], list[str]]:
        dropped: list[str] = []
        kept, complete = H.houdini(z3.SolverFor("QF_BV"), un.init_values(m), un, step, cands, dropped,
                                   max_moves=max_moves)
        assert complete
        return [c[0] for c in kept], dropped

    asked: list = []
    real = H._new_solver

    def refusing(limit: int):  # the solver, refusing questions about more than ``limit`` moves
        return lambda ctx, ms, lo, hi, *w: _NoAnswerOnWideQuestions(real(ctx, ms, lo, hi, *w), lo, hi, asked, limit)

    monkeypatch.setattr(H, "_new_solver", refusing(100))
    halves, dropped = run()
    assert halves == whole and not any("solver gave" in d for d in dropped)
    refused = [(lo, hi) for lo, hi in asked if hi - lo + 1 > 100]
    assert refused and all({(lo, (lo + hi) // 2), ((lo + hi) // 2 + 1, hi)} <= set(asked) for lo, hi in refused)
    monkeypatch.setattr(H, "_new_solver", refusing(0))
    nothing, dropped = run()  # not even one move answers: nothing is claimed
    assert nothing == [] and dropped[-1].startswith("(solver gave unknown")
    asked.clear()  # asked in parts of at most 100 moves from the start: the same survivors, nothing wider asked
    monkeypatch.setattr(H, "_new_solver", refusing(100))
    parts, dropped = run(max_moves=100)
    assert parts == whole and not any("solver gave" in d for d in dropped)
    assert max(hi - lo + 1 for lo, hi in asked) <= 100 < max(hi - lo + 1 for lo, hi, _ in H._Questions(un, []).todo)


@settings(max_examples=200, deadline=None)
@given(hs.integers(0, 50), hs.integers(0, 400), hs.one_of(hs.none(), hs.integers(1, 100)))
def test_a_step_is_cut_into_near_equal_parts_that_cover_it_once(lo, n, most):
    from aiospec.checker.symbolic.houdini import _chunks

    hi = lo + n
    parts = _chunks(lo, hi, most)
    assert parts[0][0] == lo and parts[-1][1] == hi
    assert all(b + 1 == c for (_, b), (c, _) in zip(parts, parts[1:]))  # contiguous, no overlap
    sizes = [b - a + 1 for a, b in parts]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    if most is None:
        assert len(parts) == 1
    else:
        assert max(sizes) <= most and len(parts) == -(-(n + 1) // most)  # as few parts as the limit allows


def test_prove_by_default_encodes_assuming_the_reachable_values_and_proves_every_target(cancel_race):
    """The default route: the encoding assumes the reachable value sets (strengthen), which is
    only sound because each assumed fact is itself among the inductive survivors."""
    m = cancel_race[0]
    rep = prove(m)
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    assert TYPE in rep.lemmas and "D7" in rep.lemmas
    assert any(x.startswith("lemma: ") and " - #{j : " in x for x in rep.lemmas)  # a counting lemma


def test_prove_claims_nothing_when_the_type_invariant_is_not_inductive(cancel_race):
    """Without mined lemmas TYPE-OK does not survive Houdini; the encoding pruned its forks under
    TYPE-OK, so no target may then be reported as proved."""
    m, _res, _ex, enc = cancel_race
    rep = prove(m, enc=enc, mined=False)
    if TYPE in rep.lemmas:
        pytest.skip("TYPE-OK is inductive on its own here")
    assert rep.results and all(r.result == "not proved" and "TYPE-OK" in r.detail for r in rep.results)


@pytest.mark.heavy
@pytest.mark.slow
def test_prove_lio_wait_two_jobs_and_a_lio():
    """Two jobs in one lio: D13/D14 are about a real lio here.  The search takes about 2 min on
    one core, so it is `slow`; CI checks the shipped file's proof instead (test_lemmafile)."""
    m = Model(load("lio-wait"))
    rep = prove(m)
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    assert any("lio[0].COUNT - #{j : " in x for x in rep.lemmas)
    _shipped_file_is_a_part_of(m, rep)


@pytest.mark.slow
def test_prove_lio_signal_needs_the_broken_facts_proposed_under_each_control_atom():
    """Three jobs in one lio, with signals (about 3 min, three rounds: so `slow`; CI checks the
    shipped file's proof, test_lemmafile).  "job 1's result was never handed out"
    holds in every reachable state but is not inductive (a pre-state no run reaches hands it
    out from kaio_done); once it was dropped, nothing bounded that ghost counter and TYPE-OK
    fell, so nothing could be proved.  Its conditional forms ("1 on kaio_done -> ...") carry it."""
    m = Model(load("lio-signal"))
    rep = prove(m)
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    assert "job[1].G_RETURNED == 0" not in rep.lemmas  # broken, as an unconditional fact
    assert any(x.startswith("lemma: ") and x.endswith("-> job[1].G_RETURNED == 0") for x in rep.lemmas)
    # (that a proof from a file proposes the weakened facts it names again, and that this
    # file alone proves every target: test_lemmafile)
    _shipped_file_is_a_part_of(m, rep, check=False)


def _shipped_file_is_a_part_of(m: Model, rep, check: bool = True) -> None:
    """The lemma file shipped with the scenario holds the lemmas its proof uses: all of them
    among what the search keeps (so a change to the spec that drops one fails CI until the file is
    written again), and (``check``) enough to prove every target on their own.  A file that proves
    less is stale to `aiospec prove`, which then searches: it costs time, never a proof."""
    from aiospec.checker.symbolic import lemmafile

    name = m.sc.name
    small = lemmafile.read(lemmafile.shipped(name), name)
    assert small < lemmafile.read(lemmafile.write(rep), name)
    if check:
        again = prove(m, only=small)
        assert again.dropped == [] and {r.prop: r.result for r in again.results} == {t: "proved" for t in TARGETS}


def test_mine_proposes_a_weakened_fact_under_every_control_atom(cancel_race):
    m = cancel_race[0]
    lay = Layout(m)
    xs = lay.frame("x")
    states = reachable_states(m)
    plain = dict(mine(m, lay, states, xs))
    fact = next(t for t in plain if "->" not in t and t.startswith("job[0].G_RETURNED"))
    new = dict(weakenings(m, lay, states, xs, [(fact, plain[fact])]))
    assert new and all(t.endswith(f" -> {fact}") for t in new)
    assert any(t.startswith("daemon[0].PC == ") for t in new)  # one per control atom
    ev = [(x, None) for x in xs]
    for t, f in list(new.items())[:50]:  # true in every state it was mined from
        for s in states[::10]:
            sub = [(x, z3.BitVecVal(v, x.size())) for (x, _), v in zip(ev, lay.values(s))]
            assert z3.is_true(z3.simplify(z3.substitute(f, *sub))), t


@settings(max_examples=60, deadline=None)
@given(hs.integers(1, 40), hs.integers(1, 6), hs.integers(1, 6), hs.integers(0, 2**32 - 1), hs.integers(1, 400))
def test_cooccur_counts_exactly_in_any_blocking(n, ka, kb, seed, budget):
    rng = np.random.default_rng(seed)
    a, b = rng.random((n, ka)) < 0.5, rng.random((n, kb)) < 0.5
    assert (_cooccur(a, b, budget=budget) == a.T.astype(np.int64) @ b.astype(np.int64)).all()


def test_mine_says_which_values_each_variable_takes_under_each_control_atom():
    """``a -> v in S`` is read off the co-occurrence counts; the definition is a pass over the
    states for each (control atom, variable), which this test makes."""
    m = Model(load("lio-signal"))
    lay = Layout(m)
    xs = lay.frame("x")
    states = reachable_states(m)
    got = {t for t, _ in mine(m, lay, states, xs) if " in {" in t and " -> " in t}
    vals = np.array([lay.values(s) for s in states])
    _, atoms, cols, _ = _atoms(m, lay, vals, xs)
    want = set()
    for a, col in zip(atoms, cols):
        if not a.control:
            continue
        for i, sl in enumerate(lay.slots):
            if sl.comp == S_LISTS and sl.field >= 0:
                continue
            sub = np.unique(vals[col, i])
            if 1 < len(sub) < len(np.unique(vals[:, i])) and len(sub) <= 8:
                want.add(f"{a.text} -> {sl.name} in {{{', '.join(show(sl, int(v)) for v in sub)}}}")
    assert len(want) > 100 and got == want


def test_symmetric_proposes_what_a_position_knows_of_its_job_for_the_jobs_never_seen_there():
    m = Model(load("lio-signal"))
    lay = Layout(m)
    xs = lay.frame("x")
    states = reachable_states(m)
    vals = np.array([lay.values(s) for s in states])
    index = {sl.name: i for i, sl in enumerate(lay.slots)}
    cands = symmetric(m, lay, vals, xs)
    mined_now = {t for t, _ in mine(m, lay, states, xs)}
    assert len(cands) > 100
    for text, _ in cands:
        pos, fact = text.split(" -> ")
        if " is a job" in fact:  # what every actor seen at the label holds there: a job (or NIL), not every job
            pc_name, pc_label = pos.split(" == ")
            loc, _, nil = fact.partition(" is a job")
            field = loc.split(".")[-1]
            code = -1 if pc_label == "DONE" else pc(pc_label)
            if "[" not in loc:  # the sync task: one record
                records = [(pc_name, loc)]
            else:  # every actor (or daemon): the same label means the same local
                kind = loc.split("[")[0]
                records = [(n.rsplit(".", 1)[0] + "." + pc_name.rsplit(".", 1)[1], n) for n in index
                           if n.startswith(kind + "[") and n.endswith("." + field)]
            held = set()
            for pc_slot, loc_slot in records:
                held |= set(vals[vals[:, index[pc_slot]] == code, index[loc_slot]].tolist())
            assert held and held - {-1} <= set(range(len(m.sc.slots))), text
            assert len(held - {-1}) < len(m.sc.slots) and (-1 in held) == (nil == " or NIL"), text
            continue
        (pc_name, pc_label), (loc_name, j) = (x.split(" == ") for x in pos.split(" & "))
        i, k, j = index[pc_name], index[loc_name], int(j)
        at = vals[:, i] == (-1 if pc_label == "DONE" else pc(pc_label))
        seen = {int(v) for v in vals[at, k] if 0 <= v < len(m.sc.slots)}
        assert seen, text
        if j in seen:  # the only job ever seen there: the fact under the position, not the pc alone
            assert seen == {j}, text
        for j0 in seen:  # and the fact, said of a job that is seen there, holds wherever it is
            said = {t: c for t, c, _ in _job_facts(lay, vals, xs, j0).values()}
            own = fact.replace(f"job[{j}]", f"job[{j0}]").replace(f"{j} on ", f"{j0} on ").replace(
                f"{j} not on ", f"{j0} not on ")
            assert said[own][at & (vals[:, k] == j0)].all(), (text, j0)
    assert all(t in mined_now for t, _ in cands)  # mine() proposes them


def test_a_step_whose_python_raises_becomes_a_named_spec_error_step(monkeypatch, cancel_race):
    """A label body that raises on some symbolic paths is not dropped: it becomes a SPEC-ERROR
    step named after the label, which BMC and prove then check."""
    from aiospec.spec import workers
    from aiospec.spec.actions import LABELS
    from aiospec.checker.symbolic.encode import SPEC_ERROR

    plain = cancel_race[3]

    real = workers.aio_selectjob

    def broken(v):
        j = real(v)
        if v.ki[K.ACTIVE] == 1:  # a branch on state: raises on the paths that take it
            raise IndexError("injected")
        return j
    monkeypatch.setattr(workers, "aio_selectjob", broken)
    enc = encode(Model(load("cancel-race")))
    def errors(e, name=None):
        return [st for st in e.steps if st.halts == SPEC_ERROR and (name is None or st.label == name)]
    assert len(errors(enc, "D_SELECT")) > len(errors(plain, "D_SELECT"))
    # every one named after its label, or after the guard evaluation (Model.enabled_for); none "?"
    assert {st.label for st in errors(enc)} <= {lb.name for lb in LABELS} | {"enabled_for"}
    assert SPEC_ERROR in bmc(Model(load("cancel-race")), 4, enc=enc).violations
    assert SPEC_ERROR not in bmc(Model(load("cancel-race")), 4, enc=plain).violations


def test_prove_mines_from_a_sample_when_the_states_are_too_many_to_enumerate(cancel_race):
    """Past ``states_limit`` the lemmas come from a sample (breadth-first plus random runs);
    nothing in it is trusted, so the proof stands, but reachability of a CTI is not claimed."""
    m = cancel_race[0]
    seen: list[str] = []
    rep = prove(m, states_limit=100, progress=seen.append)
    assert any("mined from a sample" in x for x in seen)
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}
    assert TYPE in rep.lemmas



@settings(max_examples=25, deadline=None)
@given(limit=hs.integers(min_value=1, max_value=800))
def test_a_sample_goes_on_from_the_enumeration_that_ran_out(limit):
    """When the states are too many, ``prove`` samples from the breadth-first pass that found
    out, instead of doing it again: the sample is the one a fresh pass gives (so a lemma file
    mined from either names the same lemmas), and the enumeration runs out exactly when there
    are at least ``limit`` states (lio-wait has 683)."""
    from unittest import mock

    from aiospec.checker.symbolic import strengthen
    from aiospec.checker.symbolic.lemmas import TooMany

    m = _LIO_WAIT
    try:
        states = reachable_states(m, limit)
    except TooMany as e:
        assert limit <= 683
        fresh = strengthen.sample_states(m, limit, walks=20)
        with mock.patch.object(strengthen, "bfs", side_effect=AssertionError("explored again")):
            assert strengthen.sample_states(m, limit, walks=20, start=e.bfs) == fresh
    else:
        assert limit > 683 and len(states) == 683


_LIO_WAIT = Model(load("lio-wait"))

# Scenarios whose shortest explicit counterexample is within reach of BMC in CI; the others
# (violations 20-23 steps deep) are checked to depth 13 by the slow test on `default`, and
# `aiospec bmc full` is measured in docs/proofs.md.
SHALLOW = ("cancel-race", "disk-bio", "double-cancel", "errors", "lio-signal", "lio-wait", "return-twice",
           "rtems-calls", "rtems-lio", "rtems-write", "suspend-early")
DEEP = ("default", "full", "lio-fsync")


def test_every_shipped_scenario_is_cross_checked_or_listed_as_deep():
    from aiospec.spec.scenario import builtin_names

    assert sorted(SHALLOW + DEEP) == sorted(builtin_names())


@pytest.mark.parametrize("name", SHALLOW)
def test_bmc_finds_exactly_what_the_explicit_checker_finds(name):
    """At the depth of the deepest shortest counterexample (8 when there is none), BMC (exact,
    with facts) reports the same properties, each at its shortest depth, and nothing the
    explicit checker rules out; each of its traces replays on the explicit model."""
    from aiospec.checker.symbolic.bmc import NOT_BY_DEFAULT
    from aiospec.checker.symbolic.strengthen import bmc_exact
    from aiospec.spec.properties import PROPERTIES

    m = Model(load(name))
    ex = Explorer(m)
    res = ex.run()
    assert res.complete
    shortest = {n: len(ex.witness_path(w)) for n, w in res.violations.items() if n not in NOT_BY_DEFAULT}
    depth = max(shortest.values(), default=8)
    r = bmc_exact(m, depth, [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT])
    assert {n: v.depth for n, v in r.violations.items()} == shortest
    for n, v in r.violations.items():
        tr = replay(m, v.path, n)
        assert len(tr.steps) == v.depth


@pytest.mark.parametrize("name, broken", [("rtems-lio", "D13"), ("rtems-calls", "D14")])
def test_prove_reports_the_rtems_lio_findings_as_reachable_and_proves_the_rest(name, broken):
    """The __rtems__ lio findings (docs/findings.md) are real: prove must not prove them, and
    must say that its counterexample to induction starts from a reachable state."""
    m = Model(load(name))
    ex = Explorer(m)
    ex.run()
    rep = prove(m, reachable=set(ex.seen))
    results = {r.prop: r for r in rep.results}
    assert results[broken].result == "not inductive" and "IS reachable" in results[broken].detail
    assert {t for t, r in results.items() if r.result != "proved"} == {broken}
    cti = results[broken].cti  # shown as the pair of states and the action between them
    assert "pre-state" in cti and "the step changes:" in cti and "takes " in cti


def test_prove_cli_prints_the_counterexample_to_induction_as_a_pair_of_states():
    r = CliRunner().invoke(main, ["prove", "rtems-lio", "--prop", "D13"])
    assert r.exit_code == 1, r.output
    assert "D13: counterexample to induction:" in r.output and "IS reachable" in r.output
    assert "pre-state (where it differs from the initial state):" in r.output
    assert "the step changes:" in r.output and " -> " in r.output


def test_prove_cli_bound_judges_what_induction_leaves_open_with_exact_bmc(monkeypatch):
    """D14 fails on rtems-calls at 9 steps (the explicit checker's shortest): `--bound` says it
    holds within 8 and is violated within 9, and says so when a depth is left undecided."""
    from aiospec import cli
    from aiospec.checker.symbolic import strengthen

    monkeypatch.setattr(cli.out, "width", 300)  # one table row per property

    def row(args):
        r = CliRunner().invoke(main, ["prove", "rtems-calls", "--prop", "D14", "--jobs", "1", *args])
        assert r.exit_code == 1, r.output
        return next(x for x in r.output.splitlines() if x.strip().startswith("D14 "))

    assert "not inductive; holds within 8 steps" in row(["--bound", "8"])
    assert "not inductive; violated within 9 steps" in row(["--bound", "9"])
    monkeypatch.setattr(strengthen, "bmc", lambda *a, solver_params=None, **k: bmc(*a, solver_params={"rlimit": 1},
                                                                                     **k))
    undecided = row(["--bound", "9"])
    assert "depth 0 undecided" in undecided and "holds" not in undecided and "violated within" not in undecided

    def unsettled(*a, **k):
        raise RuntimeError("facts still broken after 25 rounds")
    monkeypatch.setattr(strengthen, "bmc_exact", unsettled)
    assert "not inductive; no bounded verdict" in row(["--bound", "9"])


def test_a_property_the_encoding_leaves_out_is_never_reported_proved():
    """An encoding built without a property (D9 here) cannot vouch for it: prove says "not
    encoded" rather than "proved" (an event property no path emits would otherwise pass as
    "no step can violate it")."""
    from aiospec.spec.properties import by_name

    m = Model(load("rtems-lio"))
    enc = encode(m, [by_name()["A1"]])
    assert "D9" not in enc.encoded and "A1" in enc.encoded
    rep = prove(m, targets=("D9", "A1"), enc=enc)
    assert {r.prop: r.result for r in rep.results} == {"D9": "not encoded", "A1": "proved"}


def test_prove_encodes_the_invariants_and_its_targets_only(monkeypatch):
    """Step, event and end properties that are not targets cost encoding time and prove nothing,
    so prove leaves them out; the spec's invariants stay in (they are Houdini candidates), and a
    step property asked for by name is encoded and judged: P-RETURN, the finding of cancel-race,
    is not inductive from a reachable pre-state."""
    from aiospec.checker.symbolic import prove as prove_mod
    from aiospec.spec.properties import PROPERTIES

    seen: list[frozenset[str]] = []
    real = prove_mod.strengthen

    def spy(model, props, **kw):
        seen.append(frozenset(p.name for p in props))
        return real(model, props, **kw)

    monkeypatch.setattr(prove_mod, "strengthen", spy)
    rep = prove(Model(load("cancel-race")), targets=("A1", "P-RETURN"))
    invariants = {p.name for p in PROPERTIES if p.kind == "invariant"}
    assert seen == [frozenset(invariants | {"A1", "P-RETURN"})]
    got = {r.prop: r for r in rep.results}
    assert got["A1"].result == "proved"
    assert got["P-RETURN"].result == "not inductive" and "IS reachable" in got["P-RETURN"].detail


def test_locks_is_proved_on_the_faithful_spec_and_broken_by_the_unlocked_free(monkeypatch):
    """LOCKS reads the lock each label holds: it is checked on every path of every step.  The
    mutant that decrements kaio_count after dropping kaio_mtx breaks it, from a reachable
    pre-state, and BMC finds it at the explicit checker's depth."""
    from aiospec.checker.mutants import MUTANTS, applied, model_for

    r = CliRunner().invoke(main, ["prove", "return-twice", "--prop", "LOCKS"])
    assert r.exit_code == 0 and "LOCKS" in r.output and "proved" in r.output, r.output
    assert "not encoded" not in r.output
    mu = MUTANTS["free-count-unlocked"]
    with applied(mu):
        rep = prove(model_for(load("return-twice"), mu), targets=("LOCKS",))
    (r,) = rep.results
    assert r.result == "not inductive" and "IS reachable" in r.detail and "FREE_TAIL" in r.detail
    from aiospec.checker.symbolic.strengthen import bmc_exact
    from aiospec.spec.properties import by_name

    with applied(mu):
        m = model_for(load("return-twice"), mu)
        ex = Explorer(m)
        res = ex.run()
        shortest = len(ex.witness_path(res.violations["LOCKS"]))
        found = bmc_exact(m, shortest, [by_name()["LOCKS"]]).violations  # with facts: LOCKS forks a lot under TYPE-OK alone
        assert found["LOCKS"].depth == shortest
        assert len(replay(m, found["LOCKS"].path, "LOCKS").steps) == shortest


def test_prove_cli_says_where_its_lemmas_came_from():
    """`--states N` caps the states lemmas are mined from; the header says whether they were all
    the reachable states or a sample (whose counterexamples it cannot call reachable or not)."""
    every = CliRunner().invoke(main, ["prove", "rtems-lio", "--prop", "D13"])
    some = CliRunner().invoke(main, ["prove", "rtems-lio", "--prop", "D13", "--states", "2"])
    assert "mined from the 5 reachable states" in flat(every.output) and "IS reachable" in every.output
    assert "mined from a sample of" in flat(some.output) and "IS reachable" not in some.output
    assert some.exit_code == every.exit_code == 1


def flat(s: str) -> str:
    return " ".join(s.split())


def test_bmc_cli_says_so_when_the_facts_never_settle(monkeypatch):
    """If refinement runs out of rounds, `aiospec bmc` gives no verdict, with a clear message."""
    from aiospec.checker.symbolic import strengthen

    def gives_up(*a, **k):
        raise RuntimeError("facts still broken after 25 rounds")
    monkeypatch.setattr(strengthen, "bmc_exact", gives_up)
    r = CliRunner().invoke(main, ["bmc", "cancel-race", "--depth", "3"])
    assert r.exit_code == 3 and "facts still broken" in r.output and "Traceback" not in r.output


def test_bmc_stops_at_a_depth_the_solver_cannot_decide(cancel_race):
    """An "unknown" is no verdict: the search must not go on as if that depth were clean."""
    m, res, ex, enc = cancel_race
    r = bmc(m, 9, enc=enc, solver_params={"rlimit": 1})  # z3's resource count: the same on every machine
    assert r.undecided is not None and r.undecided[0] == 0 and "resource" in r.undecided[1]
    assert not r.complete and not r.violations


def test_bmc_stops_when_the_check_of_its_assumed_facts_is_undecided(cancel_race, monkeypatch):
    """The check that no assumed fact breaks comes first at each depth; an "unknown" there is
    no verdict either, even when the property checks after it would be decided.  The solver's
    first answer (that check's, at depth 0) is withheld; every later one is z3's own."""
    from aiospec.checker.symbolic import bmc as bmc_mod
    from aiospec.checker.symbolic.lemmas import value_facts

    m = cancel_race[0]
    lay = Layout(m)
    enc = encode(m, facts=value_facts(m, lay, reachable_states(m), lay.frame("x")))
    assert enc.facts
    real = z3.SolverFor

    class FirstUnknown:
        def __init__(self, s: z3.Solver) -> None:
            self.s, self.calls = s, 0

        def check(self, *a):
            self.calls += 1
            return z3.unknown if self.calls == 1 else self.s.check(*a)

        def reason_unknown(self) -> str:
            return "withheld" if self.calls == 1 else self.s.reason_unknown()

        def __getattr__(self, name: str):
            return getattr(self.s, name)

    monkeypatch.setattr(bmc_mod.z3, "SolverFor", lambda logic: FirstUnknown(real(logic)))
    r = bmc(m, 3, enc=enc)
    assert r.undecided == (0, "withheld") and not r.complete and not r.violations
    monkeypatch.undo()
    assert bmc(m, 3, enc=enc).undecided is None  # the solver's own answers decide every depth


def test_bmc_cli_gives_no_verdict_past_an_undecided_depth(monkeypatch):
    """With a per-check time limit the CLI reports how far it got, and exits 3 when nothing was found."""
    from aiospec.checker.symbolic import strengthen

    asked = []

    def starved(*a, solver_params=None, **k):  # the asked limit is recorded, then a deterministic one used
        asked.append(solver_params)
        return bmc(*a, solver_params={"rlimit": 1}, **k)
    monkeypatch.setattr(strengthen, "bmc", starved)
    r = CliRunner().invoke(main, ["bmc", "cancel-race", "--depth", "4", "--timeout", "2.5"])
    assert asked == [{"timeout": 2500}]
    assert r.exit_code == 3, r.output
    assert "could not decide depth 0" in flat(r.output) and "no property violated" not in r.output
    bad = CliRunner().invoke(main, ["bmc", "cancel-race", "--timeout", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_prove_cli_says_why_nothing_is_proved_when_no_strengthening_can_be_trusted(monkeypatch):
    from aiospec.checker.symbolic import prove as prove_mod
    from aiospec.checker.symbolic.strengthen import NotExact

    def lost(*a, **k):
        raise NotExact("the type invariant is not inductive with the mined lemmas")
    monkeypatch.setattr(prove_mod, "strengthen", lost)
    r = CliRunner().invoke(main, ["prove", "cancel-race"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "no inductive strengthening to trust: the type invariant is not inductive" in r.output
    assert "proved" not in r.output.replace("not proved", "")


def test_reachability_of_a_pre_state_is_judged_up_to_the_order_of_the_daemons():
    """With two daemons the explicit checker keeps states with the daemons sorted; a
    counterexample to induction from a reachable state must still be called reachable."""
    from aiospec.checker.symbolic.prove import is_reachable
    from aiospec.spec.state import S_DAEMONS

    text = (resources.files("aiospec") / "scenarios" / "cancel-race.toml").read_text()
    m = Model(load_text(text.replace("daemons = 1", "daemons = 2")))
    ex = Explorer(m)
    ex.run()
    seen = set(ex.seen)  # hashes of canonical states
    todo, canon = [m.initial()], {}
    while todo:  # the same canonical states, kept
        s = todo.pop()
        if hash(s) not in canon:
            canon[hash(s)] = s
            todo += [tr.target for tr in m.successors(s) if not tr.halts]
    assert set(canon) <= seen
    canon = list(canon.values())
    st = next(c for c in canon if c[S_DAEMONS][0] != c[S_DAEMONS][1])
    swapped = st[:S_DAEMONS] + (st[S_DAEMONS][::-1],) + st[S_DAEMONS + 1:]
    assert hash(swapped) not in seen  # the explicit checker only keeps the sorted form
    assert is_reachable(m, swapped, seen) and is_reachable(m, st, seen)
    assert not is_reachable(m, st, None)


def _slot_value(st, s) -> int:
    """What one slot of the layout reads in a state, slot by slot (the oracle for the fast path)."""
    comp = st[s.comp]
    if s.comp == S_LISTS:
        lst = comp[s.rec]
        return len(lst) if s.field == -1 else (lst[s.field] if s.field < len(lst) else -1)
    return comp[s.field] if s.rec < 0 else comp[s.rec][s.field]


@pytest.mark.parametrize("name", ["cancel-race", "lio-wait", "lio-signal", "default", "rtems-lio"])
def test_the_values_of_many_states_at_once_are_each_states_values(name):
    """``Layout.values`` and ``values_of`` read a state as one run of ints and reorder it; row
    for row that must be what each slot names (lists padded with -1 past their length, their
    length as it is), and ``state_of`` must give the state back."""
    m = Model(load(name))
    lay = Layout(m)
    states = reachable_states(m, 30_000)
    want = np.array([[_slot_value(st, s) for s in lay.slots] for st in states], dtype=np.int64)
    assert (lay.values_of(states) == want).all()
    assert all(lay.values(st) == list(row) for st, row in zip(states[::97], want[::97]))
    assert all(lay.state_of(lay.values(st)) == st for st in states[::97])
    assert lay.values_of([]).shape == (0, len(lay.slots))


def test_mining_pauses_the_garbage_collector_and_gives_it_back(monkeypatch):
    """Mining runs without cyclic collections (they walked every sampled state, over and
    over), and the collector is on again afterwards, also when mining fails."""
    import gc

    from aiospec.checker.symbolic import lemmas as LM
    from aiospec.checker.symbolic.lemmas import gc_paused

    during = []
    real = LM._atoms
    monkeypatch.setattr(LM, "_atoms", lambda *a: during.append(gc.isenabled()) or real(*a))
    m = Model(load("cancel-race"))
    lay = Layout(m)
    states = reachable_states(m)
    assert mine(m, lay, states, lay.frame("x"))
    assert LM.weakenings(m, lay, states, lay.frame("x"), [("t", z3.BoolVal(True))])
    assert during == [False, False] and gc.isenabled()
    seen = []
    assert gc.isenabled()
    with gc_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        with gc_paused():
            1 / 0
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
