"""How many jobs one atomic step touches: the *t* of the any-size argument, measured.

The plan for proofs about any number of jobs (docs/proofs.md, "Fixed number of jobs")
projects a state onto a few copies and checks one instance of q + t copies, where t is the
most jobs one step reads or writes.  That only works if t does not grow with the number of
jobs.  This module measures it on the explicit model, from the spec's own step bodies: every
reachable (or sampled) state, every enabled step, run on a View that records each job and
lio record the step indexes (its guard included), and where the step passes ``View.cut``.

Two figures per label: the most jobs one atomic step touches, and the most between two cuts
(one iteration of a loop the encoder merges).  A step whose first figure grows with the
scenario's size while the second stays put is a loop over jobs inside one critical section:
the argument needs it split at its cuts into steps of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..spec.actions import Label
from ..spec.model import Actor, Model
from ..spec.state import S_JOBS, S_LIOS, S_LISTS, State
from ..spec.variables import LIST_VARS


class _Indexed:
    """A table of records that notes which rows are indexed (iterating notes them all)."""

    __slots__ = ("rows", "seen")

    def __init__(self, rows, seen: set[int]) -> None:
        self.rows, self.seen = rows, seen

    def __getitem__(self, i):
        if isinstance(i, slice):
            self.seen.update(range(len(self.rows))[i])
        else:
            self.seen.add(i % len(self.rows) if isinstance(i, int) and i < 0 else i)
        return self.rows[i]

    def __setitem__(self, i, value) -> None:
        self.seen.add(i)
        self.rows[i] = value

    def __iter__(self):
        self.seen.update(range(len(self.rows)))
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


class _TupleIndexed(tuple):
    """The same for a frozen State's component, read by a label's guard (``choices``)."""

    seen: set[int]

    def __getitem__(self, i):
        self.seen.add(i)
        return tuple.__getitem__(self, i)

    def __iter__(self):
        self.seen.update(range(len(self)))
        return tuple.__iter__(self)


class _Segment:
    __slots__ = ("jobs", "lios", "alike")

    def __init__(self) -> None:
        self.jobs: set[int] = set()
        self.lios: set[int] = set()
        self.alike: set[int] = set()  # read inside ``View.alike``: every job alike, not counted


class _Alike:
    """While open, the current stretch's job reads go to its ``alike`` set."""

    __slots__ = ("seg", "kept")

    def __init__(self, seg: _Segment) -> None:
        self.seg = seg

    def __enter__(self) -> None:
        self.kept, self.seg.jobs = self.seg.jobs, self.seg.alike

    def __exit__(self, *exc) -> None:
        self.seg.jobs = self.kept


class _StaticSlot:
    """``sc.slots[j]`` read by a step: any field but the job's user pointer counts as reading job
    j.  Comparing user pointers does not: copies never share an aiocb, so "is this entry my
    aiocb's job?" is answered for another copy's job without knowing anything of it (the search
    of ``aio_return`` passes every entry of ``kaio_done`` so; ``symbolic/commute.py``)."""

    __slots__ = ("_slot", "_j", "_view")

    def __init__(self, slot, j: int, view) -> None:
        self._slot, self._j, self._view = slot, j, view

    def __getattr__(self, name: str):
        if name != "aiocb":
            self._view.segments[-1].jobs.add(self._j)
        return getattr(self._slot, name)


class _StaticSlots(tuple):
    view: object

    def __getitem__(self, j):
        return _StaticSlot(tuple.__getitem__(self, j), j, self.view)


class _Scenario:
    """The View's scenario, with its job table read through ``_StaticSlot``: a step that reads a
    job's opcode or fd from the scenario (``aio_fsync``'s scan, L1873-1898, skips another fsync
    so) reads that job as surely as one that reads its record."""

    __slots__ = ("_sc", "slots")

    def __init__(self, sc, view) -> None:
        self._sc = sc
        self.slots = _StaticSlots(sc.slots)
        self.slots.view = view

    def __getattr__(self, name: str):
        return getattr(self._sc, name)


def _noter(seg_of, q: int) -> Callable[[object], None]:
    """A list operation about entry x (is it on the list, where, take it off, put it on) reads
    or writes x's links, so it touches x (``symbolic/hidden.py``: a projection cuts it when x
    is hidden)."""
    lios = LIST_VARS[q].domain == "seq of lios"

    def note(x) -> None:
        if isinstance(x, int) and x >= 0:
            seg = seg_of()
            (seg.lios if lios else seg.jobs).add(x)
    return note


class AskedList(list):
    """A list that tells ``asked`` of every entry it is asked about, given or taken (membership,
    position, count, removal, insertion, pop).  The footprint notes the entry; the check on
    projections (``symbolic/commute.py``) refuses a hidden one."""

    __slots__ = ("asked",)

    def __contains__(self, x) -> bool:
        self.asked(x)
        return list.__contains__(self, x)

    def index(self, x, *args) -> int:
        self.asked(x)
        return list.index(self, x, *args)

    def count(self, x) -> int:
        self.asked(x)
        return list.count(self, x)

    def remove(self, x) -> None:
        self.asked(x)
        list.remove(self, x)

    def append(self, x) -> None:
        self.asked(x)
        list.append(self, x)

    def insert(self, i: int, x) -> None:
        self.asked(x)
        list.insert(self, i, x)

    def pop(self, i: int = -1):
        x = list.pop(self, i)
        self.asked(x)
        return x


class AskedEntries(tuple):
    """The same for a frozen State's list, read by a guard."""

    asked: Callable[[object], None]

    def __contains__(self, x) -> bool:
        self.asked(x)
        return tuple.__contains__(self, x)

    def index(self, x, *args) -> int:
        self.asked(x)
        return tuple.index(self, x, *args)

    def count(self, x) -> int:
        self.asked(x)
        return tuple.count(self, x)


def asked(kind: type, entries, hook: Callable[[object], None]):
    """``entries`` as an ``AskedList`` or ``AskedEntries`` that calls ``hook``."""
    out = kind(entries)
    out.asked = hook
    return out


_RECORDING: dict[type, type] = {}


def _recording(base: type) -> type:
    """The model's View class, noting the job and lio records each stretch between two cuts
    indexes (a cut of ``SplitModel`` may end the step instead)."""
    cls = _RECORDING.get(base)
    if cls is not None:
        return cls

    class Recording(base):  # type: ignore[valid-type, misc]
        __slots__ = ("segments",)

        def __init__(self, s: State, sc) -> None:
            super().__init__(s, _Scenario(sc, self))
            self.segments = [_Segment()]

        jobs = property(lambda self: _Indexed(self._nested(S_JOBS), self.segments[-1].jobs))
        lios = property(lambda self: _Indexed(self._nested(S_LIOS), self.segments[-1].lios))

        def _nested(self, i: int) -> list:
            if i == S_LISTS and self._c[i] is None:
                seg_of = lambda: self.segments[-1]  # noqa: E731 - the stretch open when the list is used
                self._c[i] = [asked(AskedList, r, _noter(seg_of, q)) for q, r in enumerate(self._s[i])]
            return base._nested(self, i)

        def cut(self, fn, *args) -> None:
            super().cut(fn, *args)
            self.segments.append(_Segment())

        def alike(self) -> _Alike:
            return _Alike(self.segments[-1])

    _RECORDING[base] = Recording
    return Recording


def _guard_reads(model: Model, s: State, actor: Actor) -> tuple[set[int], set[int]]:
    """The jobs and lios the actor's guards read in s (every label the actor could be at)."""
    jobs, lios = _TupleIndexed(s[S_JOBS]), _TupleIndexed(s[S_LIOS])
    jobs.seen, lios.seen = set(), set()
    seg = _Segment()
    seg.jobs, seg.lios = jobs.seen, lios.seen
    lists = [asked(AskedEntries, lst, _noter(lambda: seg, q)) for q, lst in enumerate(s[S_LISTS])]
    t = list(s)
    t[S_JOBS], t[S_LIOS], t[S_LISTS] = jobs, lios, tuple(lists)
    list(model.enabled_for(tuple(t), actor))
    return jobs.seen, lios.seen


@dataclass
class LabelFootprint:
    """What the steps of one label touched, over the states measured."""

    label: Label
    steps: int = 0
    most_jobs: int = 0  # most distinct jobs one step (guard and body) indexes
    most_between_cuts: int = 0  # most distinct jobs one stretch between two cuts indexes
    most_lios: int = 0
    cuts: int = 0  # most cuts one step passes
    alike: int = 0  # most jobs one step reads alike (``View.alike``), not counted above
    example: tuple[str, tuple[int, ...]] = ("", ())  # an actor and the jobs of a step with most_jobs
    stretch_example: tuple[str, tuple[int, ...]] = ("", ())

    @property
    def loops(self) -> bool:
        """Whether one step of it touches more jobs than any one stretch between its cuts."""
        return self.most_jobs > self.most_between_cuts


@dataclass
class Footprint:
    """Per label, and the scenario's t: the most jobs one atomic step touches."""

    labels: dict[str, LabelFootprint] = field(default_factory=dict)
    states: int = 0
    transitions: int = 0

    @property
    def t(self) -> int:
        return max((f.most_jobs for f in self.labels.values()), default=0)

    @property
    def t_between_cuts(self) -> int:
        return max((f.most_between_cuts for f in self.labels.values()), default=0)


@dataclass(frozen=True)
class StepFootprint:
    """What one step indexed: jobs and lios (guard and body), the jobs of each stretch between
    two cuts (the guard's with the first), the jobs read alike, and the state it led to."""

    jobs: frozenset[int]
    lios: frozenset[int]
    stretches: tuple[frozenset[int], ...]
    alike: frozenset[int]
    target: State


def step_footprint(model: Model, s: State, actor: Actor, lb: Label, choice: object,
                   guard: tuple[set[int], set[int]] | None = None) -> StepFootprint:
    """Run one step of ``actor`` at label ``lb`` on a recording View.  The guard's reads count
    with the first stretch: a guard is evaluated with the step's lock held, before its body.
    ``guard``: the actor's guard reads in s, if the caller has them already."""
    g_jobs, g_lios = guard if guard is not None else _guard_reads(model, s, actor)
    v = _recording(model.View)(s, model.sc)
    tr = model.step(s, actor, lb, choice, canonical=False, view=v)
    segs = v.segments
    return StepFootprint(frozenset(g_jobs).union(*(x.jobs for x in segs)),
                         frozenset(g_lios).union(*(x.lios for x in segs)),
                         tuple(frozenset(x.jobs | g_jobs if k == 0 else x.jobs) for k, x in enumerate(segs)),
                         frozenset().union(*(x.alike for x in segs)), tr.target)


def measure(model: Model, states: Iterable[State]) -> Footprint:
    """Every enabled step of every state in ``states``, run on a recording View, summed up per label."""
    out = Footprint()
    for s in states:
        out.states += 1
        for actor in model.actors():
            guard = _guard_reads(model, s, actor)
            for _a, lb, choice in model.enabled_for(s, actor):
                out.transitions += 1
                st = step_footprint(model, s, actor, lb, choice, guard)
                f = out.labels.get(lb.name)
                if f is None:
                    f = out.labels[lb.name] = LabelFootprint(lb)
                f.steps += 1
                who = model.actor_name(actor)
                if len(st.jobs) > f.most_jobs:
                    f.most_jobs, f.example = len(st.jobs), (who, tuple(sorted(st.jobs)))
                f.most_lios = max(f.most_lios, len(st.lios))
                f.cuts = max(f.cuts, len(st.stretches) - 1)
                f.alike = max(f.alike, len(st.alike))
                for x in st.stretches:
                    if len(x) > f.most_between_cuts:
                        f.most_between_cuts, f.stretch_example = len(x), (who, tuple(sorted(x)))
    return out


def states_of(model: Model, limit: int) -> tuple[list[State], bool]:
    """Every reachable state if fewer than ``limit`` (True), else a sample of about that many:
    breadth-first plus random runs, as ``prove`` mines from (False)."""
    from .symbolic.lemmas import TooMany, reachable_states
    from .symbolic.strengthen import sample_states

    try:
        return reachable_states(model, limit), True
    except TooMany as e:
        return sample_states(model, limit, start=e.bfs), False
