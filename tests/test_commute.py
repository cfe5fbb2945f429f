"""Steps against projections (``checker/symbolic/commute.py``): the any-size argument's premise."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as hs

from aiospec.checker.symbolic import commute as C, hidden as H
from aiospec.checker.symbolic.family import thread_maps
from aiospec.checker.symbolic.layout import HIDDEN
from aiospec.checker.symbolic.lemmas import reachable_states
from aiospec.checker.symbolic.project import Projection
from aiospec.spec.model import Model
from aiospec.spec.scenario import load
from aiospec.spec.split import SplitModel
from aiospec.spec.state import S_LISTS

from test_project import FSYNC_N, RACE_N, _walk

# what the other copies' steps may change in a projection of race-n: counters, markers in lists
RACE_ENVIRONMENT = {"ki.COUNT", "ki.EXISTS", "glob.NQUEUE", "glob.JOBSEQNO",
                    "list.ALL", "list.DONE", "list.JOBQ", "list.AIOJOBS"}


def _judge(big: Model, small: Model, states) -> C.Commute:
    out = C.Commute()
    for tm in thread_maps(small.sc, big.sc):
        C.commute(big, small, Projection(big, small, tm), states, out)
    return out


@pytest.fixture(scope="module", params=[Model, SplitModel], ids=["atomic", "split"])
def race(request):
    kind = request.param
    big, small = kind(load(RACE_N, {"T": 2})), kind(load(RACE_N, {"T": 1}))
    return big, small, reachable_states(big)


def test_every_step_a_projection_shows_whole_is_the_small_models_own(race):
    """Two requests seen through one, along both ways of choosing it, every reachable state:
    a step of a shown actor that touches only shown jobs is enabled on the projection and leads
    to the projection of its successor (hidden list entries merged, a hidden job's aiocb none
    of the shown ones); no step of the small model reads a hidden job then."""
    big, small, states = race
    out = _judge(big, small, states)
    assert out.states == 2 * len(states)
    assert out.total("shown") > 10_000 and out.total("exact") == out.total("shown"), \
        {k: f.example for k, f in out.labels.items() if f.example}
    assert out.total("wider") > 0 and out.total("hidden") > 0  # both kinds of step were met
    assert set(out.environment) == RACE_ENVIRONMENT


def test_three_requests_seen_through_one_and_the_markers_merged(monkeypatch):
    """Three requests seen through one (states of seeded random runs): a shown job removed from
    between two hidden ones leaves one marker, as projecting does.  The check can fail: a
    small model that left both markers would not take the projection's step."""
    big, small = Model(load(RACE_N, {"T": 3})), Model(load(RACE_N, {"T": 1}))
    states = _walk(big, 1_500)
    out = _judge(big, small, states)
    assert out.total("shown") > 1_000 and out.total("exact") == out.total("shown")
    monkeypatch.setattr(C, "merged", lambda s: s)
    out = _judge(big, small, states)
    assert out.total("differ") > 0
    bad = next(f for f in out.labels.values() if f.differ)
    assert "the projection's step differs in list." in bad.example, bad.example


def test_an_aiocb_search_passes_hidden_jobs_by_their_user_pointer(race, monkeypatch):
    """aio_return searches kaio_done by user pointer (L1975-2006): a hidden entry is another
    copy's job, so "not mine" is exact.  Refusing to compare its pointer leaves RETURN_FIND
    reading a hidden job."""
    big, small, states = race
    monkeypatch.setattr(H.OtherCopysSlot, "aiocb", property(lambda self: self.__getattr__("aiocb")))
    out = _judge(big, small, states)
    assert out.labels["RETURN_FIND"].reads_hidden > 0
    assert out.total("differ") == 0


def test_an_fsync_reads_another_copys_opcode_and_the_footprint_counts_it(monkeypatch):
    """aio_fsync's scan of kaio_jobqueue (L1873-1898) reads each earlier job's opcode from the
    scenario's table before its record, and skips another fsync.  The footprint counts that
    read (``footprint._StaticSlot``), so the step is left to a projection that shows the other
    fsync, and no step judged here reads a hidden job.  Counted as it once was, only by job
    records, SUB_SYNC is called local and then cannot be taken on the projection."""
    from aiospec.checker import footprint

    big, small = Model(load(FSYNC_N, {"T": 2})), Model(load(FSYNC_N, {"T": 1}))
    states = _walk(big, 2_000)
    out = _judge(big, small, states)
    assert out.total("reads_hidden") == 0 and out.total("differ") == 0 and out.total("disabled") == 0
    assert out.total("exact") == out.total("shown") > 1_000 and out.labels["SUB_SYNC"].wider > 0
    # another copy's fsync marks the shown write CHECKSYNC: a step on both copies, no environment move
    assert "list.SYNCQ" in out.environment and not any(k.startswith("job") for k in out.environment)
    monkeypatch.setattr(footprint._StaticSlot, "__getattr__", lambda self, name: getattr(self._slot, name))
    out = _judge(big, small, states)
    assert out.labels["SUB_SYNC"].reads_hidden > 0
    assert all(f.reads_hidden == 0 for k, f in out.labels.items() if k != "SUB_SYNC")


def test_a_hidden_index_is_refused_not_read_from_the_end():
    rows = C._Strict([[1], [2], [3]])
    assert rows[0] == [1] and rows[-1] == [3] and len(rows) == 3
    with pytest.raises(C.ReadsHidden):
        rows[HIDDEN]
    with pytest.raises(C.ReadsHidden):
        rows[HIDDEN] = [0]
    with pytest.raises(C.ReadsHidden):
        H.StrictTuple((1, 2, 3))[HIDDEN]
    other = H.StrictSlots(("a", "b", "c"))[HIDDEN]
    assert other.aiocb != "a" and other.aiocb not in ("a", "b", "c")
    with pytest.raises(C.ReadsHidden):
        other.fd
    with pytest.raises(C.ReadsHidden):
        {"a": 1}[other.aiocb]


@given(hs.lists(hs.lists(hs.sampled_from([HIDDEN, -1, 0, 1, 2]), max_size=8), min_size=1, max_size=4))
def test_merging_leaves_no_two_markers_in_a_row_and_keeps_the_rest(lists):
    s = (None,) * S_LISTS + (tuple(tuple(x) for x in lists),) + ("glob",)
    out = C.merged(s)
    assert out[:S_LISTS] == s[:S_LISTS] and out[S_LISTS + 1:] == s[S_LISTS + 1:]
    for before, after in zip(lists, out[S_LISTS]):
        assert not any(a == b == HIDDEN for a, b in zip(after, after[1:]))
        assert [x for x in after if x != HIDDEN] == [x for x in before if x != HIDDEN]
        assert (HIDDEN in after) == (HIDDEN in before)


def test_changed_names_the_variables_as_lemmas_do():
    m = Model(load(RACE_N, {"T": 1}))
    s = m.initial()
    t = next(tr.target for tr in m.successors(s))
    names = C.changed(s, t)
    assert names and all("." in n for n in names)
    assert C.changed(s, s) == []
