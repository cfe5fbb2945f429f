"""BMC's partial-order reduction: the pairs it calls independent commute, and the reduction
finds every violation at the depth the full unrolling finds it, the last step's two-state
properties included."""

from __future__ import annotations

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as hs

from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.checker.symbolic.bmc import NOT_BY_DEFAULT, Unroller, bmc
from aiospec.checker.symbolic.encode import encode
from aiospec.checker.symbolic.layout import Layout
from aiospec.checker.symbolic.lemmas import reachable_states, value_facts
from aiospec.checker.symbolic.por import independence
from aiospec.checker.symbolic.rename import Renamer
from aiospec.spec.model import Model
from aiospec.spec.properties import PROPERTIES
from aiospec.spec.scenario import load

PROPS = [p for p in PROPERTIES if p.kind != "reach" and p.name not in NOT_BY_DEFAULT]


def _encode(m: Model):
    """The encoding ``aiospec bmc`` uses, assuming the values of every reachable state (so it
    is exact: no reachable state breaks them)."""
    lay = Layout(m)
    return encode(m, PROPS, facts=value_facts(m, lay, reachable_states(m), lay.frame("x")))


@pytest.fixture(scope="module")
def cancel_race_moves():
    enc = _encode(Model(load("cancel-race")))
    un = Unroller(enc)
    moves = [enc.steps[i] for i in un.moves]
    ind = independence(enc.xs, [st.guard for st in moves], un.writers())
    pairs = [(u, v) for a, b in ind.forbidden() for u in ind.classes[a] for v in ind.classes[b]]
    return enc, moves, ind, pairs


def test_the_moves_of_a_class_are_never_independent_and_some_classes_are(cancel_race_moves):
    """Two moves of one class both write their actor's program counter; cancel-race has two
    threads, the exit thread and a daemon, so many steps touch disjoint state."""
    enc, moves, ind, pairs = cancel_race_moves
    assert sorted(m for ms in ind.classes for m in ms) == list(range(len(moves)))
    # every move writes something, so a class (one read and write set) depends on itself
    assert all(any(not t.eq(x) for x, t in zip(enc.xs, st.post)) for st in moves)
    assert not ind.independent.diagonal().any()
    assert (ind.independent == ind.independent.T).all()
    assert len(pairs) > 100
    for ms in ind.classes:
        assert len({moves[m].actor for m in ms}) == 1


def _after(enc, st, x: list) -> list:
    """The post-state of move ``st`` from the frame ``x``."""
    r = Renamer(list(zip(enc.xs, x)))
    return [r(t) for t in st.post]


@settings(max_examples=80, deadline=None)
@given(hs.data())
def test_independent_moves_commute_and_neither_enables_nor_disables_the_other(cancel_race_moves, data):
    """For every state (the solver looks for any counterexample, not only reachable ones):
    u then v is possible exactly when v then u is, and both end in the same state."""
    enc, moves, ind, pairs = cancel_race_moves
    iu, iv = data.draw(hs.sampled_from(pairs))
    u, v = moves[iu], moves[iv]
    x = enc.xs
    gu, gv = u.guard, v.guard
    xu, xv = _after(enc, u, x), _after(enc, v, x)
    gv_after_u = Renamer(list(zip(x, xu)))(gv)
    gu_after_v = Renamer(list(zip(x, xv)))(gu)
    uv = _after(enc, v, xu)
    vu = _after(enc, u, xv)
    s = z3.Solver()
    s.add(z3.Not(z3.And(
        z3.Implies(gu, gv == gv_after_u),  # u neither enables nor disables v
        z3.Implies(gv, gu == gu_after_v),
        z3.Implies(z3.And(gu, gv), z3.And(*[a == b for a, b in zip(uv, vu)])))))
    assert s.check() == z3.unsat


@pytest.mark.parametrize("mutant, prop", [("cancel-end-clears-finished", "D1"),
                                          ("cancel-end-clears-cancelled", "D2-STICKY"),
                                          ("daemon-completes-twice", "A1")])
def test_the_reduction_finds_each_violation_at_the_depth_the_full_unrolling_does(mutant, prop):
    """On one encoding, both find the same violations at the same depths (P-RETURN on the
    faithful spec: the CLI test below).  D1 and D2-STICKY judge a run's last step, which the
    order constraint leaves free; in these runs the step before it is never one it could swap
    with, so this test cannot tell a free last step from a constrained one."""
    sc = load("cancel-race")
    mu = MUTANTS[mutant]
    with applied(mu):
        m = model_for(sc, mu)
        enc = _encode(m)
        full = bmc(m, 9, PROPS, enc=enc, por=False)
        reduced = bmc(m, 9, PROPS, enc=enc, por=True)
    assert prop in full.violations
    assert {n: v.depth for n, v in reduced.violations.items()} == {n: v.depth for n, v in full.violations.items()}


@pytest.mark.parametrize("flag", ["--por", "--no-por"])
def test_bmc_cli_finds_the_same_violation_with_and_without_the_reduction(flag):
    from click.testing import CliRunner

    from aiospec.cli import main

    r = CliRunner().invoke(main, ["bmc", "cancel-race", "--depth", "9", "--no-progress", flag])
    assert r.exit_code == 1, r.output
    assert "P-RETURN (9 steps)" in r.output
    assert ("no partial-order reduction" in r.output) == (flag == "--no-por")
