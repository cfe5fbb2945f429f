"""Interchangeable threads: moving a state between the copies of a thread, and between sizes.

A scenario family (``repeat = n``) has n copies of one thread, each with its own aiocbs and
job slots.  No step of the spec looks at a copy's index, so renaming the copies (their actor
records, their job slots and aiocbs, and every local, list and bitmask that names a job) maps
a reachable state to a reachable state, and a state of size n, with one more copy that has not
started, is a reachable state of size n+1 (both tested).  ``prove`` uses the renaming
(``closure``) on a sample before mining: what the sample saw of copy 1 is then said of copy 3
too, in the form "for every copy" that a parametric invariant takes.  Nothing here is trusted:
a state moved wrongly can only make mining propose less, since Houdini checks every candidate
on the real relation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from ...spec.model import Model
from ...spec.scenario import LioEntry, Scenario, program_aiocbs, aiocbs_of
from ...spec.split import S_RESUME
from ...spec.state import S_ACTORS, S_AIOCBS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS, State
from ...spec.variables import DM, G, J, Q, T


def signature(sc: Scenario, t: int) -> tuple:
    """What thread ``t`` does, with its aiocbs named by order of first use: equal signatures are
    interchangeable threads (the copies of ``repeat``, or threads written alike by hand) when
    no other thread uses their aiocbs."""
    calls = sc.threads[t].calls
    names = program_aiocbs(calls)
    if any(a in program_aiocbs(th.calls) for u, th in enumerate(sc.threads) if u != t for a in names):
        return ("shares its aiocbs", t)  # renaming it would rename another thread's aiocb too
    at = {a: i for i, a in enumerate(names)}
    shape = tuple((replace(c, text="", line=None, slots=(), lio=-1, aiocb=None,
                           entries=tuple(LioEntry(e.op, None) for e in c.entries),
                           targets=tuple(None for _ in c.targets)),
                   tuple(at[a] for a in aiocbs_of(c))) for c in calls)
    return shape, tuple(replace(sc.aiocbs[a], name="") for a in names)


@dataclass(frozen=True)
class ThreadMap:
    """Where each thread of the source scenario goes in the destination (injective)."""

    threads: tuple[int, ...]


def thread_maps(src: Scenario, dst: Scenario) -> list[ThreadMap]:
    """Every injective map of src's threads into dst's that keeps signatures and keeps the order
    of the threads that are not copies of another (only interchangeable ones move)."""
    sig_s = [signature(src, t) for t in range(len(src.threads))]
    sig_d = [signature(dst, t) for t in range(len(dst.threads))]
    groups: dict[tuple, tuple[list[int], list[int]]] = {}
    for t, g in enumerate(sig_s):
        groups.setdefault(g, ([], []))[0].append(t)
    for t, g in enumerate(sig_d):
        groups.setdefault(g, ([], []))[1].append(t)
    if any(len(a) > len(b) for a, b in groups.values()):
        return []
    per_group = [[dict(zip(a, img)) for img in itertools.permutations(b, len(a))] for a, b in groups.values() if a]
    out = []
    for combo in itertools.product(*per_group):
        m: dict[int, int] = {}
        for part in combo:
            m.update(part)
        out.append(ThreadMap(tuple(m[t] for t in range(len(src.threads)))))
    return out


class Transport:
    """Moves states of ``src`` into ``dst`` along one thread map; dst's threads outside the
    map keep their initial records (they have not started)."""

    def __init__(self, src: Model, dst: Model, tm: ThreadMap):
        self.src, self.dst, self.tm = src, dst, tm
        ss, ds = src.sc, dst.sc
        where = {(sl.thread, sl.call, sl.entry): sl.index for sl in ds.slots}
        self.jobs = {sl.index: where[(tm.threads[sl.thread], sl.call, sl.entry)] for sl in ss.slots}
        self.lios = {sl.lio: ds.slots[self.jobs[sl.index]].lio for sl in ss.slots if sl.lio >= 0}
        for t, calls in enumerate(th.calls for th in ss.threads):
            for c, call in enumerate(calls):
                if call.lio >= 0:
                    self.lios[call.lio] = ds.threads[tm.threads[t]].calls[c].lio
        self.aiocbs: dict[int, int] = {}
        for t, th in enumerate(ss.threads):
            for a, b in zip(program_aiocbs(th.calls), program_aiocbs(ds.threads[tm.threads[t]].calls)):
                self.aiocbs[ss.aiocb_index[a]] = ds.aiocb_index[b]
        self.actors = {t: d for t, d in enumerate(tm.threads)}
        self.actors[len(ss.threads)] = len(ds.threads)  # the exiting thread
        self.init = dst.initial()
        self.src_init = src.initial()
        # which calls keep a job in A and B (the cancel walk, the rundown, aio_return and the
        # waits) rather than a lio entry and counts (lio_listio)
        self.lio_call = {(t, c) for t, th in enumerate(ss.threads) for c, call in enumerate(th.calls)
                         if call.kind == "lio_listio"}
        self._masks: list[int] = []  # every mask of the source's jobs, renamed, when there are few jobs
        self._masks = [self.mask(m) for m in range(1 << len(ss.slots))] if len(ss.slots) <= 12 else []

    def fits(self, s: State) -> bool:
        """Whether ``s`` moves to a reachable state: the exiting thread starts only once every
        thread is done, so when dst has threads outside the map (not started), not before."""
        grows = len(self.dst.sc.threads) > len(self.src.sc.threads)
        exit_ = len(self.src.sc.threads)
        i = self.src_init
        return not grows or (s[S_ACTORS][exit_] == i[S_ACTORS][exit_]
                             and (len(s) <= S_RESUME or s[S_RESUME][exit_] == i[S_RESUME][exit_]))

    def job(self, j: int) -> int:
        return self.jobs.get(j, j)  # keys are the jobs (>= 0): "none" (-1) stays itself

    def mask(self, m: int) -> int:
        if 0 <= m < len(self._masks):
            return self._masks[m]
        out = 0
        for j, k in self.jobs.items():
            if m >> j & 1:
                out |= 1 << k
        return out

    def __call__(self, s: State) -> State:
        init = self.init
        job, mask = self.jobs.get, self.mask
        jobs, aiocbs, lios, actors = (list(init[c]) for c in (S_JOBS, S_AIOCBS, S_LIOS, S_ACTORS))
        for j, rec in enumerate(s[S_JOBS]):
            r = list(rec)
            r[J.G_PREDS] = mask(r[J.G_PREDS])
            jobs[self.jobs[j]] = tuple(r)
        for u, rec in enumerate(s[S_AIOCBS]):
            aiocbs[self.aiocbs.get(u, u)] = rec
        for lj, rec in enumerate(s[S_LIOS]):
            lios[self.lios.get(lj, lj)] = rec
        lists = tuple(tuple(self.lios.get(x, x) for x in lst) if q == Q.LIOS else tuple(job(x, x) for x in lst)
                      for q, lst in enumerate(s[S_LISTS]))
        g = list(s[S_GLOB])
        g[G.TASK_JOB] = job(g[G.TASK_JOB], g[G.TASK_JOB])
        for a, rec in enumerate(s[S_ACTORS]):
            r = list(rec)
            if (a, r[T.CALL]) not in self.lio_call:
                r[T.A], r[T.B] = job(r[T.A], r[T.A]), job(r[T.B], r[T.B])
                r[T.E] = mask(r[T.E])
            actors[self.actors[a]] = tuple(r)
        daemons = tuple(tuple(job(x, x) if f == DM.JOB else x for f, x in enumerate(rec)) for rec in s[S_DAEMONS])
        out = (tuple(jobs), tuple(aiocbs), tuple(lios), s[S_KI], lists, tuple(g), tuple(actors), daemons)
        if len(init) > S_RESUME:  # a SplitModel's: where each thread's suspended step resumes, and at which job
            resume = list(init[S_RESUME])
            for a, (fn, j, passed) in enumerate(s[S_RESUME]):
                resume[self.actors[a]] = (fn, job(j, j), passed)
            out += (tuple(resume),)
        return out


def closure(model: Model, states: list[State], cap: int | None = None) -> list[State]:
    """``states`` and their images under every renaming of interchangeable threads (each new
    state once, up to ``cap`` states in all): a sample that saw copy 1 at some point then says
    the same of every copy, so mining proposes "for every copy", not "for the copy the sample
    happened to run"."""
    maps = [tm for tm in thread_maps(model.sc, model.sc) if tm.threads != tuple(range(len(model.sc.threads)))]
    if not maps:
        return states
    out, seen = list(states), set(states)
    for tm in maps:
        move = Transport(model, model, tm)
        for s in states:
            t = move(s)
            if t not in seen:
                if cap is not None and len(out) >= cap:
                    return out
                seen.add(t)
                out.append(t)
    return out
