"""Projections of a family's states onto some of its copies (``checker/symbolic/project.py``)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import z3
from hypothesis import given, settings, strategies as hs

from aiospec.checker.symbolic.family import ThreadMap, Transport, thread_maps
from aiospec.checker.symbolic.lemmas import reachable_states
from aiospec.checker.symbolic.project import HIDDEN, Projection, holds_hidden
from aiospec.spec.model import Model
from aiospec.spec.scenario import load
from aiospec.spec.split import SplitModel
from aiospec.spec.state import S_ACTORS, S_LISTS
from aiospec.spec.variables import T

RACE_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "race-n.toml")


FSYNC_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "fsync-n.toml")
KINDS = [(fam, kind) for fam in ("race-n", "fsync-n") for kind in (Model, SplitModel)]


@pytest.fixture(scope="module")
def race():
    """Two families with one, two and three copies, atomic and split at the walks' cuts, with
    their reachable states where they are few (race-n T=1 and T=2, fsync-n T=1) and states of
    seeded random runs elsewhere.  race-n walks lists; fsync-n also has the sync task's job and
    the fsync's sync queue."""
    out = {}
    for fam, kind in KINDS:
        sc = (lambda n: load(RACE_N, {"T": n})) if fam == "race-n" else \
            (lambda n: load(FSYNC_N, {"T": n}))
        ms = {n: kind(sc(n)) for n in (1, 2, 3)}
        full = (1, 2) if fam == "race-n" else (1,)
        states = {n: reachable_states(ms[n]) if n in full else _walk(ms[n], 3_000) for n in (1, 2, 3)}
        out[fam, kind] = ms, states
    return out


def _walk(m, n: int) -> list:
    """States of seeded random runs (T=3 has 1.2 million states: too many for a test)."""
    rng, out = random.Random(7), []
    while len(out) < n:
        s = m.initial()
        for _ in range(60):
            moves = [tr.target for tr in m.successors(s)]
            if not moves:
                break
            s = rng.choice(moves)
            out.append(s)
    return out


@pytest.mark.parametrize("fam, kind", KINDS)
def test_a_state_embedded_in_a_larger_family_projects_back_to_itself(race, fam, kind):
    """Projecting undoes ``Transport``: the extra copy has not started, so nothing is hidden."""
    ms, states = race[fam, kind]
    for small, big in ((1, 2), (2, 3)):
        for tm in thread_maps(ms[small].sc, ms[big].sc):
            up, down = Transport(ms[small], ms[big], tm), Projection(ms[big], ms[small], tm)
            moved = [s for s in states[small] if up.fits(s)]
            assert moved and all(down(up(s)) == s for s in moved)


@pytest.mark.parametrize("fam, kind", KINDS)
def test_projecting_onto_every_copy_changes_nothing(race, fam, kind):
    ms, states = race[fam, kind]
    ident = ThreadMap(tuple(range(len(ms[2].sc.threads))))
    p = Projection(ms[2], ms[2], ident)
    assert all(p(s) == s for s in states[2]) and not any(holds_hidden(s) for s in states[2])


@pytest.mark.parametrize("fam, kind", KINDS)
def test_projecting_in_two_stages_is_projecting_once(race, fam, kind):
    """Three copies onto two, then onto one, is three onto one along the composed map: a hidden
    value stays hidden, and runs of hidden list entries merged twice are merged once."""
    ms, states = race[fam, kind]
    for outer in thread_maps(ms[2].sc, ms[3].sc):
        for inner in thread_maps(ms[1].sc, ms[2].sc):
            both = ThreadMap(tuple(outer.threads[t] for t in inner.threads))
            a, b, once = Projection(ms[3], ms[2], outer), Projection(ms[2], ms[1], inner), Projection(ms[3], ms[1], both)
            assert all(b(a(s)) == once(s) for s in states[3])


@pytest.mark.parametrize("fam, kind", KINDS)
def test_a_list_of_k_jobs_shown_keeps_at_most_2k_plus_1_entries(race, fam, kind):
    """Each run of hidden entries is one marker, so the lengths stay bounded by the jobs shown,
    not by the family's size, and no two markers are adjacent."""
    ms, states = race[fam, kind]
    marked = 0
    for v in (1, 2):
        for tm in thread_maps(ms[v].sc, ms[3].sc):
            p = Projection(ms[3], ms[v], tm)
            for s in states[3]:
                for lst in p(s)[S_LISTS]:
                    assert len(lst) <= 2 * len(p.jobs) + 1
                    assert all(not (x == y == HIDDEN) for x, y in zip(lst, lst[1:]))
                    marked += HIDDEN in lst
    assert marked > 100  # the runs do queue hidden copies' jobs


def test_a_pointer_to_a_hidden_copys_job_reads_hidden(race):
    """The canceller walking a job of a copy not shown: its current job reads HIDDEN, and the
    job of the copy shown keeps its own number."""
    ms, states = race["race-n", Model]
    canceller = len(ms[2].sc.threads) - 1
    walking = [s for s in states[2] if s[S_ACTORS][canceller][T.A] >= 0]
    assert walking
    for tm in thread_maps(ms[1].sc, ms[2].sc):
        p = Projection(ms[2], ms[1], tm)
        shown = {k for k, j in p.jobs.items()}
        for s in walking:
            a = s[S_ACTORS][canceller][T.A]
            got = p(s)[S_ACTORS][len(ms[1].sc.threads) - 1][T.A]
            assert got == (p.jobs[a] if a in shown else HIDDEN)
            assert holds_hidden(p(s)) or a in shown


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.sampled_from([-1, 0, 1, 2, HIDDEN]), max_size=8), hs.sets(hs.sampled_from([0, 1, 2]), max_size=3))
def test_merging_hidden_runs_keeps_the_order_of_what_is_shown(race, lst, shown):
    """Entries shown keep their order; between two of them, any hidden ones are one marker."""
    ms, _ = race["race-n", Model]
    p = Projection(ms[3], ms[1], thread_maps(ms[1].sc, ms[3].sc)[0])
    p.jobs = {k: k for k in shown}  # a stand-in renaming: shown jobs keep their numbers
    out = p.entries(tuple(lst), p.job)
    assert [x for x in out if x != HIDDEN] == [x for x in lst if x in shown or x == -1]
    hidden_runs = 0
    prev_hidden = False
    for x in lst:
        h = x == HIDDEN or (x >= 0 and x not in shown)
        hidden_runs += h and not prev_hidden
        prev_hidden = h
    assert out.count(HIDDEN) == hidden_runs


def test_the_census_counts_what_projecting_gives(race):
    """race-n with two requests seen through one: every state one request reaches alone before the
    exit is among the projections (embedding and projecting back), and the rest hold a hidden
    job or counters that a second request moved."""
    from aiospec.checker.symbolic.project import census

    ms, states = race["race-n", Model]
    c = census(ms[2], ms[1], states[2])
    fits = {s for tm in thread_maps(ms[1].sc, ms[2].sc) for s in states[1] if Transport(ms[1], ms[2], tm).fits(s)}
    assert (c.jobs, c.maps) == (1, 2)
    assert c.reachable == len(fits) and c.distinct > c.reachable
    assert 0 < c.hidden < c.distinct - c.reachable + 1 and c.longest <= 3


_SOLVERS: dict = {}


def _type_ok(lay, values) -> bool:
    """Whether the concrete vector satisfies ``lay.type_ok`` (one solver per layout, the values
    given as assumptions)."""
    if id(lay) not in _SOLVERS:
        xs = lay.frame("x")
        g = z3.Solver()
        g.add(lay.type_ok(xs))
        _SOLVERS[id(lay)] = (lay, g, xs)
    _, g, xs = _SOLVERS[id(lay)]
    return g.check(*[x == v for x, v in zip(xs, values)]) == z3.sat


@pytest.mark.parametrize("fam", ["race-n", "fsync-n"])
def test_the_hidden_layout_holds_every_projection_and_every_real_state(race, fam):
    """``Layout(hidden=True)`` is where the miner and, later, the encoder meet projections: each
    one fits its ranges (HIDDEN in pointers and lists, counts past the jobs shown), as does
    every state of the family itself, which the plain layout of one copy cannot hold."""
    from aiospec.checker.symbolic.layout import Layout

    ms, states = race[fam, Model]
    small, big = ms[1], ms[2]
    lay, plain = Layout(small, hidden=True), Layout(small)
    projected = sorted({Projection(big, small, tm)(s) for tm in thread_maps(small.sc, big.sc) for s in states[2]})
    sample = projected[:: max(1, len(projected) // 150)]
    assert any(holds_hidden(s) for s in sample)
    assert all(_type_ok(lay, lay.values(s)) for s in sample)
    assert all(_type_ok(lay, lay.values(s)) for s in states[1])
    assert not all(_type_ok(plain, plain.values(s)) for s in sample)  # a count past one copy's jobs


def test_the_hidden_layout_still_refuses_what_no_projection_holds(race):
    """Two markers in a row (runs merge), a shown job listed twice, an entry past the length."""
    from aiospec.checker.symbolic.layout import Layout
    from aiospec.spec.variables import Q

    ms, states = race["race-n", Model]
    lay = Layout(ms[1], hidden=True)
    base = ms[1].initial()

    def with_list(entries: tuple) -> list[int]:
        s = list(base)
        lists = list(s[S_LISTS])
        lists[Q.JOBQ] = entries
        s[S_LISTS] = tuple(lists)
        return lay.values(tuple(s))
    assert _type_ok(lay, with_list((HIDDEN, 0, HIDDEN)))
    assert not _type_ok(lay, with_list((HIDDEN, HIDDEN)))
    assert not _type_ok(lay, with_list((0, HIDDEN, 0)))
    v = with_list((0,))
    v[lay.index[(S_LISTS, Q.JOBQ, 1)]] = HIDDEN  # past the length
    assert not _type_ok(lay, v)
    assert Layout(ms[1]).slots == Layout(ms[1], hidden=False).slots and lay.caps[Q.JOBQ] == 2 * 1 + 2
