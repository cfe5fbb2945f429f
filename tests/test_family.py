"""Interchangeable threads: states moved between copies and between sizes stay reachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiospec.checker.symbolic.family import Transport, closure, signature, thread_maps
from aiospec.checker.symbolic.lemmas import reachable_states
from aiospec.spec.model import Model
from aiospec.spec.scenario import load, load_text

RACE_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "race-n.toml")


@pytest.fixture(scope="module")
def race():
    return {n: Model(load(RACE_N, {"T": n})) for n in (1, 2)}


def test_copies_are_interchangeable_and_other_threads_stay(race):
    m = race[2]
    assert signature(m.sc, 0) == signature(m.sc, 1) != signature(m.sc, 2)
    assert [tm.threads for tm in thread_maps(m.sc, m.sc)] == [(0, 1, 2), (1, 0, 2)]
    assert [tm.threads for tm in thread_maps(race[1].sc, m.sc)] == [(0, 2), (1, 2)]
    assert thread_maps(m.sc, race[1].sc) == []  # two copies do not fit into one


def test_renaming_the_copies_maps_the_reachable_states_onto_themselves(race):
    m = race[2]
    states = reachable_states(m)
    seen = set(states)
    swap = Transport(m, m, thread_maps(m.sc, m.sc)[1])
    moved = [swap(s) for s in states]
    assert set(moved) == seen
    # and it is not the identity: the copies' job slots, lists and locals are renamed
    assert sum(a != b for a, b in zip(states, moved)) > len(states) // 2
    assert any(s[4] != t[4] for s, t in zip(states, moved))


def test_a_smaller_family_member_moves_into_a_larger_one_before_the_exit(race):
    small, big = race[1], race[2]
    big_states = set(reachable_states(big))
    for tm in thread_maps(small.sc, big.sc):
        tr = Transport(small, big, tm)
        lifted = [tr(s) for s in reachable_states(small) if tr.fits(s)]
        assert lifted and all(s in big_states for s in lifted)
    # once the exiting thread has started, the copy that never ran would have to be done
    tr = Transport(small, big, thread_maps(small.sc, big.sc)[0])
    assert any(not tr.fits(s) for s in reachable_states(small))


def test_threads_written_alike_by_hand_are_copies_unless_another_thread_uses_their_aiocbs():
    text = ('name = "twins"\n[aiocbs.a]\n[aiocbs.b]\n[aiocbs.c]\n'
            '[[threads]]\ncalls = ["aio_write(a, F)"]\n'
            '[[threads]]\ncalls = ["aio_write(b, F)"]\n'
            '[[threads]]\ncalls = ["aio_read(c, F)", "aio_cancel(F, NULL)"]\n')
    assert signature(load_text(text.replace("aio_cancel(F, NULL)", "aio_cancel(F, b)")), 1) != \
        signature(load_text(text), 1)  # the third thread cancels b: swapping b for a would change it
    sc = load_text(text)
    assert signature(sc, 0) == signature(sc, 1) != signature(sc, 2)
    m = Model(sc)
    swap = Transport(m, m, thread_maps(sc, sc)[1])
    states = reachable_states(m)
    assert set(map(swap, states)) == set(states)


def test_closure_says_of_every_copy_what_a_sample_saw_of_one(race):
    m = race[2]
    full = set(reachable_states(m))
    sample = [s for s in reachable_states(m) if s[6][1] == m.initial()[6][1]]  # copy 2 never ran
    grown = closure(m, sample)
    assert grown[:len(sample)] == sample and len(set(grown)) == len(grown)
    assert set(grown) <= full and len(grown) > len(sample)
    assert any(s[6][0] == m.initial()[6][0] and s[6][1] != m.initial()[6][1] for s in grown)  # copy 1 idle now
    assert len(closure(m, sample, cap=len(sample) + 5)) == len(sample) + 5
    one = reachable_states(race[1])
    assert closure(race[1], one) == one  # one copy: nothing to rename


@pytest.mark.slow
def test_race_n_with_three_requests_proves_every_target():
    """Three requests racing one fd-wide cancel (1.2 million states, 9 minutes): every target
    proved.  It lost TYPE-OK while the cancel walk's counts had a bound (docs/proofs.md)."""
    from aiospec.checker.symbolic.prove import TARGETS, prove

    rep = prove(Model(load(RACE_N, {"T": 3})), states_limit=1_500_000)
    assert rep.mined_from == "the 1,215,526 reachable states"
    assert {r.prop: r.result for r in rep.results} == {t: "proved" for t in TARGETS}


def test_prove_mines_from_a_sample_closed_under_renaming_the_copies(race, monkeypatch):
    from aiospec.checker.symbolic import prove as P
    from aiospec.checker.symbolic.strengthen import NotExact

    seen = {}

    def stop(model, props, states, *a, **k):
        seen["states"] = states
        raise NotExact("stopped by the test")

    monkeypatch.setattr(P, "_strengthened", stop)
    m = race[2]
    rep = P.prove(m, states_limit=3_000)
    assert rep.mined_from.startswith("a sample of ") and "images under renaming the copies" in rep.mined_from
    states = seen["states"]
    assert len(set(states)) == len(states) and set(states) <= set(reachable_states(m))
    assert set(closure(m, states)) == set(states)  # nothing the sample saw of one copy is missing of the other
