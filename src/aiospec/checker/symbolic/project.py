"""Projections: a state of a family of any size, seen through a few of its copies.

The argument for proofs about any number of jobs (docs/proofs.md, "The argument") looks at a
state of size N only through its projections onto sets V of at most M copies.  The other
copies' jobs are *hidden*: a pointer to one (a walk's current job ``A`` or saved successor
``B``, the daemon's or the sync task's job, a resumed walk's job) reads ``HIDDEN``; in a list,
each run of hidden entries becomes one ``HIDDEN`` marker, so a list holding k jobs shown has
at most 2k + 1 entries whatever N is; a bitmask of jobs loses the hidden jobs' bits.  The counters
(``kaio_count`` and the rest) keep their values: only the jobs are hidden.

This module computes projections of explicit states, so that what the argument needs can be
measured on real states before the encoder learns the ``HIDDEN`` value: how many distinct
projections there are, and which of them no smaller instance reaches.  Projecting is the
inverse of ``family.Transport`` (which embeds a smaller instance into a larger one): a state
embedded and projected back is the state itself (tested).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...spec.model import Model
from ...spec.split import S_RESUME
from ...spec.state import S_ACTORS, S_AIOCBS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS, State
from ...spec.variables import DM, G, J, Q, T
from .family import ThreadMap, Transport, thread_maps
from .layout import HIDDEN  # a job (or lio) of a copy the projection does not show; -1 stays "none"
from .lemmas import reachable_states


class Projection:
    """Moves states of ``big`` onto the copies of ``small``: ``tm`` says where each of small's
    threads sits in big (as for ``Transport(small, big, tm)``); big's other threads are hidden.

    A state of ``small`` may itself hold ``HIDDEN`` (a projection of a projection): it stays
    hidden, so projecting in two stages is projecting once (tested)."""

    def __init__(self, big: Model, small: Model, tm: ThreadMap) -> None:
        emb = Transport(small, big, tm)
        self.big, self.small = big, small
        self.jobs = {k: j for j, k in emb.jobs.items()}  # big's job -> small's
        self.lios = {k: j for j, k in emb.lios.items()}
        self.aiocbs = {k: u for u, k in emb.aiocbs.items()}
        self.actors = {k: a for a, k in emb.actors.items()}  # big's actor -> small's (the shown ones)
        self.lio_call = {(tm.threads[t], c) for t, c in emb.lio_call}  # in big's numbering
        self.init = small.initial()

    def job(self, k: int) -> int:
        if k < 0:
            return k  # none, or already hidden
        return self.jobs.get(k, HIDDEN)

    def lio(self, k: int) -> int:
        return k if k < 0 else self.lios.get(k, HIDDEN)

    def mask(self, m: int) -> int:
        out = 0
        for k, j in self.jobs.items():
            if m >> k & 1:
                out |= 1 << j
        return out

    def entries(self, lst: tuple, name) -> tuple:
        """A list's entries renamed, each run of hidden ones one ``HIDDEN`` marker."""
        out: list[int] = []
        for x in lst:
            y = name(x)
            if not (y == HIDDEN and out and out[-1] == HIDDEN):
                out.append(y)
        return tuple(out)

    def __call__(self, s: State) -> State:
        init = self.init
        jobs, aiocbs, lios, actors = (list(init[c]) for c in (S_JOBS, S_AIOCBS, S_LIOS, S_ACTORS))
        for k, j in self.jobs.items():
            r = list(s[S_JOBS][k])
            r[J.G_PREDS] = self.mask(r[J.G_PREDS])
            jobs[j] = tuple(r)
        for k, u in self.aiocbs.items():
            aiocbs[u] = s[S_AIOCBS][k]
        for k, lj in self.lios.items():
            lios[lj] = s[S_LIOS][k]
        lists = tuple(self.entries(lst, self.lio if q == Q.LIOS else self.job) for q, lst in enumerate(s[S_LISTS]))
        g = list(s[S_GLOB])
        g[G.TASK_JOB] = self.job(g[G.TASK_JOB])
        for k, a in self.actors.items():
            r = list(s[S_ACTORS][k])
            if (k, r[T.CALL]) not in self.lio_call:
                r[T.A], r[T.B] = self.job(r[T.A]), self.job(r[T.B])
                r[T.E] = self.mask(r[T.E])
            actors[a] = tuple(r)
        daemons = tuple(tuple(self.job(x) if f == DM.JOB else x for f, x in enumerate(rec)) for rec in s[S_DAEMONS])
        out = (tuple(jobs), tuple(aiocbs), tuple(lios), s[S_KI], lists, tuple(g), tuple(actors), daemons)
        if len(init) > S_RESUME:  # a SplitModel's suspended walks: the job each resumes at
            resume = list(init[S_RESUME])
            for k, a in self.actors.items():
                fn, j, passed = s[S_RESUME][k]
                resume[a] = (fn, self.job(j), passed)
            out += (tuple(resume),)
        return out


def holds_hidden(s: State) -> bool:
    """Whether ``s`` (a projection) holds a ``HIDDEN`` value anywhere: a job of a copy it does
    not show is pointed at or listed."""
    lists = s[S_LISTS]
    if any(HIDDEN in lst for lst in lists):
        return True
    if s[S_GLOB][G.TASK_JOB] == HIDDEN or any(rec[DM.JOB] == HIDDEN for rec in s[S_DAEMONS]):
        return True
    if any(rec[T.A] == HIDDEN or rec[T.B] == HIDDEN for rec in s[S_ACTORS]):
        return True
    return len(s) > S_RESUME and any(j == HIDDEN for _, j, _ in s[S_RESUME])


@dataclass
class Census:
    """What the projections of a set of states onto k copies look like."""

    jobs: int  # the job slots each projection shows
    maps: int  # the ways of choosing and ordering k copies of the larger family
    distinct: int  # distinct projected states, over every map
    reachable: int  # of those, states the k-copy family reaches itself
    hidden: int  # of those, states holding a HIDDEN value
    longest: int  # the longest list in any of them


def census(big: Model, small: Model, states: Iterable[State]) -> Census:
    """Project ``states`` (of ``big``) onto ``small``'s copies along every thread map, and
    count what comes out against ``small``'s own reachable states."""
    maps = thread_maps(small.sc, big.sc)
    states = list(states)
    seen: set[State] = set()
    for tm in maps:
        p = Projection(big, small, tm)
        seen.update(p(s) for s in states)
    own = set(reachable_states(small))
    return Census(len(small.sc.slots), len(maps), len(seen), len(seen & own), sum(holds_hidden(s) for s in seen),
                  max((len(lst) for s in seen for lst in s[S_LISTS]), default=0))
