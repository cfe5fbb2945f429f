"""The encoder on projections (``encode(..., hidden=True)``, ``symbolic/hidden.py``), against
the spec run explicitly on the same projections (``commute.OnProjection``)."""

from __future__ import annotations

import numpy as np
import pytest
import z3
from hypothesis import given, strategies as hs

from aiospec.checker.symbolic import encode as E
from aiospec.checker.symbolic.commute import OnProjection
from aiospec.checker.symbolic.concrete import step_targets
from aiospec.checker.symbolic.family import thread_maps
from aiospec.checker.symbolic.hidden import HiddenTable, Pointer, ReadsHidden, merge_markers, merged_list
from aiospec.checker.symbolic.layout import HIDDEN
from aiospec.checker.symbolic.lemmas import reachable_states
from aiospec.checker.symbolic.project import Projection
from aiospec.checker.symbolic.values import PathExplorer, SymInt
from aiospec.spec.model import Model
from aiospec.spec.scenario import load
from aiospec.spec.split import SplitModel
from aiospec.spec.state import S_LISTS

from test_project import FSYNC_N, RACE_N, _walk


def _projections(big, small, states) -> list:
    out = set()
    for tm in thread_maps(small.sc, big.sc):
        p = Projection(big, small, tm)
        out |= {p(s) for s in states}
    return sorted(out)


def _agree(small, states, enc=None) -> tuple[int, int]:
    """The encoder's relation read back on each projection, against the spec run there; the
    steps compared, and the steps the explicit run cut (it read a hidden job)."""
    enc = enc or E.encode(small, props=[], hidden=True)
    got = step_targets(enc, np.array([enc.layout.values(s) for s in states], dtype=np.int64))
    on = OnProjection(small)
    want = [on.targets(s, enc.layout) for s in states]
    bad = [(s, w - g, g - w) for s, w, g in zip(states, want, got) if w != g]
    assert not bad, f"{len(bad)} states differ; first: explicit only {bad[0][1]}, encoder only {bad[0][2]}"
    cut = sum(1 for s in states for a in on.model.actors() if on.enabled(s, a) is None) + \
        sum(1 for s in states for a in on.model.actors() for lb, c in on.enabled(s, a) or () if _cut(on, s, a, lb, c))
    return sum(map(len, want)), cut


def _cut(on: OnProjection, s, a, lb, c) -> bool:
    try:
        on.step(s, a, lb, c)
    except ReadsHidden:
        return True
    except Exception:  # noqa: BLE001 - a SPEC-ERROR step is compared, not cut
        return False
    return False


def test_the_encoders_steps_on_projections_are_the_spec_run_explicitly():
    """Two requests of race-n seen through one, every reachable state, both ways of choosing
    it (3,306 projections): every path of the encoder's relation whose guard holds is a step
    the spec takes there, to the same state, and the other way round.  The steps that read a
    hidden job are cut on both sides, and there are such steps.  Then three requests seen
    through one (states of random runs), where a shown job leaves from between two hidden
    ones and the markers it leaves side by side must merge."""
    small = Model(load(RACE_N, {"T": 1}))
    enc = E.encode(small, props=[], hidden=True)
    big = Model(load(RACE_N, {"T": 2}))
    states = _projections(big, small, reachable_states(big))
    assert any(HIDDEN in lst for s in states for lst in s[S_LISTS])
    steps, cut = _agree(small, states, enc)
    assert steps > 4_000 and cut > 100
    big = Model(load(RACE_N, {"T": 3}))
    states = _projections(big, small, _walk(big, 1_500))
    assert any((HIDDEN, 0, HIDDEN) == lst[:3] for s in states for lst in s[S_LISTS])
    steps, cut = _agree(small, states, enc)
    assert steps > 1_000 and cut > 100


@pytest.mark.slow
@pytest.mark.parametrize("fam, kind, n", [("race-n", SplitModel, None), ("fsync-n", Model, 3_000)])
def test_the_same_on_the_split_model_and_with_fsyncs(fam, kind, n):
    """The split race-n (the walks a step per job; 5,024 projections) and fsync-n (the sync
    queue and the task's job; projections of 3,000 states of random runs of two copies)."""
    path = RACE_N if fam == "race-n" else FSYNC_N
    big, small = kind(load(path, {"T": 2})), kind(load(path, {"T": 1}))
    states = _projections(big, small, reachable_states(big) if n is None else _walk(big, n))
    steps, cut = _agree(small, states)
    assert steps > 3_000 and cut > 0


def _explore(body) -> list:
    ex = PathExplorer(16, [])
    return ex.explore(body)


def test_a_hidden_index_cuts_only_the_paths_where_it_is_hidden():
    i = z3.BitVec("i", 16)
    table = [[10], [11]]

    def body(ex):
        j = SymInt(i, ex)
        if not ((j == HIDDEN) | (j == 0) | (j == 1)):
            return None
        return HiddenTable(list(r) for r in table)[j][0]

    paths = _explore(body)
    cut = [p for p in paths if isinstance(p.error, ReadsHidden)]
    read = [p for p in paths if p.error is None and p.result is not None]
    assert len(cut) == 1 and read
    s = z3.Solver()
    s.add(cut[0].guard, i != HIDDEN)
    assert s.check() == z3.unsat  # the cut path is exactly i == HIDDEN


def test_two_hidden_pointers_compared_cut_the_path_a_pointer_and_nil_do_not():
    a, b = z3.BitVec("a", 16), z3.BitVec("b", 16)

    def body(ex):
        p, q = Pointer(a, ex), Pointer(b, ex)
        if not (p >= HIDDEN) or not (q >= HIDDEN) or not (p <= 1) or not (q <= 1):
            return None
        return bool(p == -1), bool(p == q)

    paths = _explore(body)
    cut = [p for p in paths if isinstance(p.error, ReadsHidden)]
    assert len(cut) == 1
    s = z3.Solver()
    s.add(cut[0].guard, z3.Or(a != HIDDEN, b != HIDDEN))
    assert s.check() == z3.unsat
    answered = {p.result for p in paths if p.error is None and p.result is not None}
    assert (False, True) in answered and (True, True) in answered  # equal shown jobs, both NIL


@given(hs.lists(hs.sampled_from([HIDDEN, 0, 1, 2, 3]), max_size=7).map(merged_list).filter(lambda x: len(set(x) - {HIDDEN}) == len([y for y in x if y != HIDDEN])),
       hs.integers(0, 6))
def test_a_removal_merges_the_markers_it_brings_together(lst, k):
    """``merge_markers`` on terms after one removal is ``merged_list`` on the concrete list."""
    if not lst:
        return
    gone = list(lst)
    gone.pop(k % len(lst))
    cap = 8
    w = 16
    el = [z3.BitVecVal(x, w) for x in gone] + [z3.BitVecVal(-1, w)] * (cap - len(gone))
    out, ln = merge_markers(el, z3.BitVecVal(len(gone), w))
    n = z3.simplify(ln).as_signed_long()
    got = tuple(z3.simplify(e).as_signed_long() for e in out[:n])
    assert got == merged_list(gone)
    assert all(z3.simplify(e).as_signed_long() == -1 for e in out[n:])


def test_a_list_the_step_made_plain_merges_its_markers_too():
    """A list a step has iterated (or asked its length) is a plain list of entries; a removal
    from it is merged when the step ends, as the symbolic removal is at once."""
    lst = E._HiddenList((HIDDEN, 0, HIDDEN, 1))
    lst.remove(0)
    assert lst.freeze() == (HIDDEN, 1)
    with pytest.raises(ReadsHidden):
        lst.remove(HIDDEN)  # a marker stands for a run of jobs: which one would go?
    with pytest.raises(ReadsHidden):
        HIDDEN in lst
