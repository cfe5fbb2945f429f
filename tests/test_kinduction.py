"""k-induction over the inductive lemmas: it proves what one step of history cannot, and its
base case catches what the step case cannot see."""

from __future__ import annotations

import pytest
import z3
from click.testing import CliRunner

from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.checker.symbolic.bmc import Unroller, bmc
from aiospec.checker.symbolic.encode import encode
from aiospec.checker.symbolic import minimize
from aiospec.checker.symbolic.kinduct import bad_at, k_induction
from aiospec.checker.symbolic.lemmas import mine, reachable_states
from aiospec.checker.symbolic.prove import _deeper
from aiospec.cli import main
from aiospec.spec.model import Model
from aiospec.spec.properties import PROPERTIES, by_name
from aiospec.spec.scenario import load

PROPS = [p for p in PROPERTIES if p.kind != "reach" and p.name != "LOCKS"]


def _weak(m: Model, props=PROPS):
    """The plain encoding of ``props`` (exact under TYPE-OK), and as 'survivors' TYPE-OK with the value
    facts of the reachable states only: all true in every reachable state, so k-induction
    over them is sound, but too weak for plain induction to prove everything."""
    enc = encode(m, props)
    un = Unroller(enc)
    un.step()
    facts = [f for t, f in mine(m, enc.layout, reachable_states(m, 300_000), un.frames[0]) if "->" not in t]
    return enc, un, [enc.layout.type_ok(un.frames[0])] + facts


@pytest.fixture(scope="module")
def weak_cancel_race():
    m = Model(load("cancel-race"))
    return (m, *_weak(m))


def test_two_steps_of_history_prove_what_one_cannot(weak_cancel_race):
    """SPEC-ERROR on cancel-race: from some state allowed by the value facts a step raises,
    but no such state is entered by a step from another one they allow."""
    m, enc, un, weak = weak_cancel_race
    init = un.init(m)
    one = k_induction(enc, un, weak, "SPEC-ERROR", 1, init)
    assert one.result == "not inductive" and one.model is not None
    assert k_induction(enc, un, weak, "SPEC-ERROR", 2, init).result == "proved"
    result, k, detail, cti = _deeper(enc, un, weak, "SPEC-ERROR", 3, 60_000, None, "k=1 failed", "")
    assert (result, cti, k) == ("proved", "", 2), (result, k, detail)


def test_what_no_k_proves_is_reported_with_the_last_counterexample(weak_cancel_race):
    """D9 is not k-inductive over these facts for k up to 3: the report names k = 3 and shows
    the last step of the 3-step path as a pair of states."""
    m, enc, un, weak = weak_cancel_race
    result, k, detail, cti = _deeper(enc, un, weak, "D9", 3, 60_000, None, "k=1 failed", "")
    assert result == "not inductive" and k == 3
    assert "last step of a 3-step path" in detail and "reachability not checked" in detail and " takes " in detail
    assert "the step changes:" in cti


def test_the_base_case_finds_a_violation_the_step_case_is_told_away():
    """With survivors that wrongly include A1 itself, no path of k steps can end in a
    violation, so the step case holds; the base case (BMC from the initial state) must still
    find the mutant's double completion, at the depth BMC finds it."""
    mu = MUTANTS["daemon-completes-twice"]
    with applied(mu):
        m = model_for(load("cancel-race"), mu)
        enc, un, weak = _weak(m, [by_name()["A1"]])  # A1 alone: half the encoding
        lie = z3.Not(bad_at(enc, un, "A1", 0))
        r = k_induction(enc, un, weak + [lie], "A1", 7, un.init(m))  # base: the first 6 steps
        found = bmc(m, 6, [by_name()["A1"]], enc=enc).violations["A1"]
    assert r.result == "violated", r
    assert r.detail == f"a run of {found.depth} steps from the initial state breaks it"


def test_k_induction_of_an_invariant_and_of_a_two_state_property(weak_cancel_race):
    """The frames differ by kind: an invariant fails in the last state, a two-state property
    on the last step.  Both are proved at k = 1 over these facts and stay proved at k = 2."""
    m, enc, un, weak = weak_cancel_race
    init = un.init(m)
    for name in ("D13", "D2-STICKY"):
        assert [k_induction(enc, un, weak, name, k, init).result for k in (1, 2)] == ["proved", "proved"], name


def test_a_k_induction_proof_says_which_lemmas_it_used(weak_cancel_race):
    """SPEC-ERROR is 2-inductive over the weak facts (not 1-inductive): under guarding literals
    the proof names a core, and the core alone proves it again."""
    m, enc, un, weak = weak_cancel_race
    lits = [z3.Bool(f"t{i}") for i in range(len(weak))]
    guarded = [z3.Implies(b, f) for b, f in zip(lits, weak)]
    init = un.init(m)
    r = k_induction(enc, un, guarded, "SPEC-ERROR", 2, init, assume=lits)
    assert r.result == "proved" and r.core is not None
    used = {b.get_id() for b in r.core}
    core = [f for b, f in zip(lits, weak) if b.get_id() in used]
    assert 0 < len(core) < len(weak)
    assert k_induction(enc, un, core, "SPEC-ERROR", 2, init).result == "proved"
    assert k_induction(enc, un, [], "SPEC-ERROR", 2, init).result != "proved"  # so the core is not empty by luck


def test_survivors_that_are_not_inductive_are_refused(weak_cancel_race):
    """The fixpoint asks each step about the kept lemmas under the survivors; if a step breaks
    one, the survivors were not inductive and no smaller set is claimed."""
    m, enc, un, weak = weak_cancel_race
    names = [f"fact {i}" for i in range(len(weak))]
    with pytest.raises(minimize.CannotMinimize, match="not inductive"):
        minimize.needed(enc, un, names, weak, set(names), [])

def test_prove_cli_k_max():
    r = CliRunner().invoke(main, ["prove", "cancel-race", "--prop", "A1", "--k-max", "0"])
    assert r.exit_code == 2 and "--k-max" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["prove", "cancel-race", "--prop", "SPEC-ERROR", "--k-max", "2"])
    assert r.exit_code == 0 and "SPEC-ERROR" in r.output and "induction (k=1)" in r.output, r.output
