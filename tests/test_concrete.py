"""Candidates evaluated on concrete states (numpy), and Houdini's explicit amplification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as hs

from aiospec.checker.symbolic.concrete import Amplifier, Evaluator
from aiospec.checker.symbolic.family import Transport, thread_maps
from aiospec.checker.symbolic.layout import Layout
from aiospec.checker.symbolic.lemmas import reachable_states
from aiospec.spec.model import Model
from aiospec.spec.scenario import load
from aiospec.spec.state import S_ACTORS
from aiospec.spec.variables import T

RACE_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "race-n.toml")
W = 8
X = [z3.BitVec(f"x{i}", W) for i in range(3)]


def _bv(draw, depth: int) -> z3.BitVecRef:
    if depth == 0 or draw(hs.booleans()):
        return draw(hs.sampled_from(X)) if draw(hs.booleans()) else z3.BitVecVal(draw(hs.integers(0, 255)), W)
    a, b = _bv(draw, depth - 1), _bv(draw, depth - 1)
    op = draw(hs.sampled_from(["+", "-", "*", "&", "|", "^", "~", "neg", "ite", "ext", "sext", "<<", ">>", "ashr"]))
    if op == "~":
        return ~a
    if op == "neg":
        return -a
    if op == "ite":
        return z3.If(_bool(draw, depth - 1), a, b)
    if op == "ext":  # an extract and a concat back to width W
        return z3.Concat(z3.Extract(3, 0, a), z3.Extract(7, 4, b))
    if op == "sext":
        return z3.Extract(7, 0, z3.SignExt(4, z3.Extract(3, 0, a)) + z3.ZeroExt(4, z3.Extract(7, 4, b)))
    if op in ("<<", ">>", "ashr"):  # amounts at the width and past it, drawn often
        b = draw(hs.sampled_from([b] + [z3.BitVecVal(k, W) for k in (0, W - 1, W, W + 1, 200)]))
        return {"<<": a << b, ">>": z3.LShR(a, b), "ashr": a >> b}[op]
    return {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b}[op]


def _bool(draw, depth: int) -> z3.BoolRef:
    a, b = _bv(draw, depth), _bv(draw, depth)
    op = draw(hs.sampled_from(["==", "!=", "<", "<=", ">", ">=", "ult", "ule", "ugt", "uge", "distinct", "and", "or",
                               "not", "=>", "xor", "true"]))
    if op in ("and", "or", "=>", "xor") and depth > 0:
        p, q = _bool(draw, depth - 1), _bool(draw, depth - 1)
        return {"and": z3.And(p, q), "or": z3.Or(p, q), "=>": z3.Implies(p, q), "xor": z3.Xor(p, q)}[op]
    if op == "not" and depth > 0:
        return z3.Not(_bool(draw, depth - 1))
    if op == "true":
        return z3.BoolVal(draw(hs.booleans()))
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "ult": z3.ULT(a, b),
            "ule": z3.ULE(a, b), "ugt": z3.UGT(a, b), "uge": z3.UGE(a, b),
            "distinct": z3.Distinct(a, b, X[0])}.get(op, a == b)


@settings(max_examples=150, deadline=None)
@given(hs.data())
def test_the_evaluator_agrees_with_z3_on_any_formula_and_state(data):
    """Signed values (as the layout stores them) in, the same truth values as z3's out."""
    fs = [_bool(data.draw, 2) for _ in range(4)]
    states = data.draw(hs.lists(hs.lists(hs.integers(-128, 127), min_size=3, max_size=3), min_size=1, max_size=5))
    got = Evaluator(fs, X).holds(np.array(states))
    assert (Evaluator(fs, X).holds(np.array(states), chunk=2) == got).all()  # in batches: the same
    for r, st in enumerate(states):
        sub = [(x, z3.BitVecVal(v, W)) for x, v in zip(X, st)]
        want = [z3.is_true(z3.simplify(z3.substitute(f, *sub))) for f in fs]
        assert list(got[r]) == want, (fs, st)


@settings(max_examples=100, deadline=None)
@given(hs.data())
def test_the_evaluator_computes_terms_as_z3_does(data):
    """``terms``: a step's post-state on concrete pre-states, signed as the layout stores it."""
    ts = [_bv(data.draw, 2) for _ in range(3)]
    states = data.draw(hs.lists(hs.lists(hs.integers(-128, 127), min_size=3, max_size=3), min_size=1, max_size=5))
    got = Evaluator(ts, X).terms(np.array(states))
    for r, st in enumerate(states):
        sub = [(x, z3.BitVecVal(v, W)) for x, v in zip(X, st)]
        assert list(got[r]) == [z3.simplify(z3.substitute(t, *sub)).as_signed_long() for t in ts], (ts, st)


def test_terms_refuses_an_operator_it_does_not_know():
    with pytest.raises(ValueError, match="1 terms"):
        Evaluator([z3.UDiv(X[0], X[1]), X[0] + 1], X).terms(np.array([[5, 1, 0]]))


def test_an_operator_it_does_not_know_makes_only_the_formulas_above_it_unknown():
    fs = [z3.UDiv(X[0], X[1]) == 3, X[0] == 1]
    got = Evaluator(fs, X).holds(np.array([[5, 1, 0]]))
    assert list(got[0]) == [True, False]  # 5/1 == 3 is false, but unknown reads as "holds": never dropped


@pytest.fixture(scope="module")
def race2():
    m = Model(load(RACE_N, {"T": 2}))
    lay = Layout(m)
    return m, lay, lay.frame("x"), reachable_states(m)


def _model_of(lay: Layout, x0, state) -> z3.ModelRef:
    s = z3.Solver()
    s.add(*[x == v for x, v in zip(x0, lay.values(state))])
    assert s.check() == z3.sat
    return s.model()


def _is(x, v: int) -> z3.BoolRef:
    return x == z3.BitVecVal(v, x.size())


def test_amplifier_drops_what_a_real_step_breaks_and_keeps_what_every_step_keeps(race2):
    m, lay, x0, states = race2
    s = next(st for st in states if len(list(m.enabled(st))) >= 3)
    posts = [m.step(s, a, lb, c, canonical=False).target for a, lb, c in m.enabled(s)]
    # a variable some successor changes: "it keeps its value" is true in s and broken by a step
    i = next(i for i in range(len(x0)) if any(lay.values(p)[i] != lay.values(s)[i] for p in posts))
    v = lay.values(s)[i]
    fs = [_is(x0[i], v), z3.Or(_is(x0[i], v), z3.Not(_is(x0[i], v))), lay.type_ok(x0)]
    amp = Amplifier(m, lay, x0, fs)
    assert amp.broken(_model_of(lay, x0, s), [0, 1, 2]) == {0}
    assert amp.broken(_model_of(lay, x0, s), [1, 2]) == set()
    assert amp.dropped == 1
    # a pre-state that fails a candidate it is said to satisfy: the decoding is not trusted
    assert Amplifier(m, lay, x0, [_is(x0[i], v + 1), fs[0]]).broken(_model_of(lay, x0, s), [0, 1]) == set()


def test_amplifier_steps_the_renamed_pre_states_too(race2):
    """With two interchangeable copies, what a step of copy 0 breaks from a pre-state, a step of
    copy 1 breaks from the renamed pre-state: one question drops the candidate about copy 1 too,
    provided the renamed pre-state satisfies every survivor."""
    m, lay, x0, _states = race2
    swap = [Transport(m, m, tm) for tm in thread_maps(m.sc, m.sc) if tm.threads != (0, 1, 2)]
    assert len(swap) == 1
    pc = [lay.index[(S_ACTORS, a, T.PC)] for a in (0, 1)]

    def step_of(st, actor: int):
        a, lb, c = next(x for x in m.enabled(st) if x[0].index == actor and x[0].kind == 0)
        return m.step(st, a, lb, c, canonical=False).target

    s0 = m.initial()
    s1 = step_of(s0, 0)  # copy 0 took one step, copy 1 has not started
    p1, p2 = lay.values(s1)[pc[0]], lay.values(step_of(s1, 0))[pc[0]]
    assert p1 != p2 and lay.values(s1)[pc[1]] == lay.values(s0)[pc[1]]
    k = z3.Not(_is(x0[pc[1]], p2))  # "copy 1 is never where copy 0's second step leads"
    mdl = _model_of(lay, x0, s1)
    assert Amplifier(m, lay, x0, [k]).broken(mdl, [0]) == set()  # from s1 copy 1 only takes its first step
    assert Amplifier(m, lay, x0, [k], swap).broken(mdl, [0]) == {0}  # from the renamed s1, its second
    # a survivor the renamed pre-state breaks ("copy 0 is where its first step leads") rules it
    # out: k stays; j itself is broken from s1, by copy 0's second step
    j = _is(x0[pc[0]], p1)
    assert Amplifier(m, lay, x0, [k, j], swap).broken(mdl, [0, 1]) == {1}
    # a survivor it cannot evaluate (an operator it does not know): the renamed state is not used
    u = z3.UDiv(x0[pc[0]], x0[pc[0]]) == 1
    assert Amplifier(m, lay, x0, [k, u], swap).broken(mdl, [0, 1]) == set()


TWO_WRITERS = """
name = "two-writers"
daemons = 1
[aiocbs.a]
offset = 0
[[threads]]
name = "T"
repeat = 2
calls = ["aio_write(a, F)"]
"""


def _strengthen_two_writers(explicit: bool, jobs: int) -> tuple[list[str], int, list[str]]:
    """Houdini's survivors on two concurrent writers, the questions it asked, and what it said."""
    from aiospec.checker.symbolic.bmc import NOT_BY_DEFAULT
    from aiospec.checker.symbolic.strengthen import strengthen
    from aiospec.spec.properties import PROPERTIES
    from aiospec.spec.scenario import load_text

    m = Model(load_text(TWO_WRITERS, "two-writers.toml"))
    props = [p for p in PROPERTIES if p.kind == "invariant" and p.name not in NOT_BY_DEFAULT]
    said: list[str] = []
    st = strengthen(m, props, states=reachable_states(m), explicit=explicit, progress=said.append, jobs=jobs)
    asked = [x for x in said if "Houdini asked" in x]
    return sorted(st.kept), sum(int(x.split("asked ")[1].split()[0].replace(",", "")) for x in asked), asked


@pytest.mark.heavy
def test_houdini_with_explicit_steps_keeps_the_same_lemmas_in_fewer_questions():
    """The amplification changes how fast Houdini gets there, never where: the largest inductive
    subset is unique, and each explicit drop is justified like the solver's.  So does asking two
    questions at once (real threads, ``houdini._Pool``), with broken assumed facts pinned across
    the answers: the amplified run asks two at once, against one at a time without it."""
    plain, amplified = _strengthen_two_writers(False, 1), _strengthen_two_writers(True, 2)
    assert amplified[0] == plain[0] and "TYPE-OK" in amplified[0]
    assert "dropped by explicit steps" in amplified[2][0] and "explicit" not in plain[2][0]
    assert amplified[1] < plain[1], (amplified[2], plain[2])
