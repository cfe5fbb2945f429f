"""Does a step commute with projecting?  The any-size argument's premise, measured.

The argument for proofs about any number of jobs (docs/proofs.md, "The argument") checks a
step of a large state on its projection onto the copies the step touches and the copies a
lemma names.  That is sound only if the small model, run on the projection, does what the
large one did, seen through the projection: for a step s -> s' of a shown actor whose
footprint (``checker/footprint.py``) holds only shown jobs, the same label and choice must be
enabled in proj(s) and lead to proj(s').  The steps of hidden actors are the other half: the
abstract model must let "the other copies" change what they change in the projection (the
*environment*), and this module says which parts of the projected state those steps change.

Run on the small model, a projection may hold ``HIDDEN`` in a pointer or a list.  The step runs
on a View that refuses to index a hidden job or lio (``ReadsHidden``: the argument cuts that
path, a larger projection shows the job), and after the step each run of hidden list entries
is merged into one marker, as projecting does.  Nothing here is trusted by a proof: it measures
where the abstraction the encoder must build would be exact, and where it must give more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ...spec.model import KIND_BIO, KIND_THREAD, Actor, Model
from ...spec.state import S_JOBS, S_LIOS, S_LISTS, State
from ...spec.variables import DM, G, J, K, L, Q, T, U
from ..footprint import step_footprint, _guard_reads
from .layout import HIDDEN
from .project import Projection

# each component of a State: its name, and its fields (flat components: one record)
_PARTS = (("job", J, False), ("aiocb", U, False), ("lio", L, False), ("ki", K, True), ("list", Q, True),
          ("glob", G, True), ("actor", T, False), ("daemon", DM, False))


class ReadsHidden(Exception):
    """A step of a projection indexed a job or lio the projection does not show."""


class _Strict:
    """A table of records that refuses the ``HIDDEN`` index (a Python list would read the
    second-to-last record instead)."""

    __slots__ = ("rows",)

    def __init__(self, rows) -> None:
        self.rows = rows

    def __getitem__(self, i):
        if isinstance(i, int) and i == HIDDEN:
            raise ReadsHidden(i)
        return self.rows[i]

    def __setitem__(self, i, value) -> None:
        if isinstance(i, int) and i == HIDDEN:
            raise ReadsHidden(i)
        self.rows[i] = value

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


class _StrictTuple(tuple):
    """The same for a frozen State's component, read by a label's guard."""

    def __getitem__(self, i):
        if isinstance(i, int) and i == HIDDEN:
            raise ReadsHidden(i)
        return tuple.__getitem__(self, i)


class _Unnamed(str):
    """A hidden job's aiocb: unequal to every name, and no key to look anything up by."""

    def __hash__(self) -> int:
        raise ReadsHidden(str(self))

    __eq__ = str.__eq__


class _OtherCopysSlot:
    """``sc.slots[HIDDEN]``: a job of a copy not shown.  Its user pointer is known to be none
    of the shown ones (copies do not share aiocbs: ``family.signature``), so comparing it with
    one answers "no", as ``aio_return``'s and ``aio_suspend``'s searches do.  Anything else
    about it is unknown: reading it is reading a hidden job."""

    aiocb = _Unnamed("(another copy's aiocb)")

    def __getattr__(self, name: str):
        raise ReadsHidden(name)


class _StrictSlots(tuple):
    def __getitem__(self, i):
        if isinstance(i, int) and i == HIDDEN:
            return _OtherCopysSlot()
        return tuple.__getitem__(self, i)


_STRICT: dict[type, type] = {}


def _strict_view(base: type) -> type:
    cls = _STRICT.get(base)
    if cls is None:
        class Strict(base):  # type: ignore[valid-type, misc]
            __slots__ = ()
            jobs = property(lambda self: _Strict(self._nested(S_JOBS)))
            lios = property(lambda self: _Strict(self._nested(S_LIOS)))
        cls = _STRICT[base] = Strict
    return cls


def merged(s: State) -> State:
    """``s`` with each run of ``HIDDEN`` list entries one marker (a step that removes a shown
    job from between two hidden ones leaves two in a row; projecting would have merged them)."""
    lists = tuple(tuple(x for k, x in enumerate(lst) if not (x == HIDDEN and k and lst[k - 1] == HIDDEN))
                  for lst in s[S_LISTS])
    return s[:S_LISTS] + (lists,) + s[S_LISTS + 1:]


def changed(a: State, b: State) -> list[str]:
    """The variables in which two states differ, named as the lemmas name them
    ("ki.COUNT", "actor[1].PC", "list.KAIO_JOBQUEUE"; a split walk's "resume[k]")."""
    out = []
    for c, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        if c >= len(_PARTS):
            out += [f"resume[{k}]" for k, (u, w) in enumerate(zip(x, y)) if u != w]
            continue
        name, fields, flat = _PARTS[c]
        if flat:
            out += [f"{name}.{fields.names[k]}" for k, (u, w) in enumerate(zip(x, y)) if u != w]
        else:
            out += [f"{name}[{k}].{fields.names[f]}" for k, (r, q) in enumerate(zip(x, y)) if r != q
                    for f, (u, w) in enumerate(zip(r, q)) if u != w]
    return out


@dataclass
class LabelCommute:
    """What projecting did to the steps of one label."""

    shown: int = 0  # steps of a shown actor whose footprint is shown: the small model must match
    exact: int = 0  # of those, the small model took the same step to the projected successor
    differ: int = 0  # it reached another state (``example`` says where)
    disabled: int = 0  # the label (with that choice) was not enabled on the projection
    reads_hidden: int = 0  # it indexed a hidden job: only a larger projection shows the step
    wider: int = 0  # steps that touch a shown and a hidden copy's job: a larger projection's
    hidden: int = 0  # steps of hidden actors that touch only hidden jobs (the environment)
    moves: int = 0  # of those, steps that change the projection
    example: str = ""

    def note(self, what: str) -> None:
        if not self.example:
            self.example = what


@dataclass
class Commute:
    """Per label; and, for the environment, which parts of the projection hidden steps change."""

    labels: dict[str, LabelCommute] = field(default_factory=dict)
    environment: dict[str, int] = field(default_factory=dict)  # "component[index]" -> steps changing it
    states: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(x, name) for x in self.labels.values())


def _small_actor(p: Projection, actor: Actor) -> Actor | None:
    """Where ``actor`` of the large model is in the small one; None when it is hidden."""
    kind, i = actor
    if kind == KIND_THREAD:
        a = p.actors.get(i)
        return None if a is None else Actor(kind, a)
    if kind == KIND_BIO:
        j = p.jobs.get(i)
        return None if j is None else Actor(kind, j)
    return actor  # daemons and the sync task are no copy's


def _enabled(small: Model, s: State, actor: Actor) -> set[tuple[str, object]]:
    t = list(s)
    t[S_JOBS], t[S_LIOS] = _StrictTuple(s[S_JOBS]), _StrictTuple(s[S_LIOS])
    return {(lb.name, c) for _a, lb, c in small.enabled_for(tuple(t), actor)}


def commute(big: Model, small: Model, p: Projection, states: Iterable[State], out: Commute | None = None) -> Commute:
    """Every enabled step of every state in ``states`` (of ``big``), judged against ``small``
    run on the projection ``p`` (see the module docstring)."""
    out = out if out is not None else Commute()
    small = type(small)(replace(small.sc, slots=_StrictSlots(small.sc.slots)), small.mutations)  # guards index it
    view = _strict_view(small.View)
    shown_jobs, shown_lios = set(p.jobs), set(p.lios)
    for s in states:
        out.states += 1
        ps = p(s)
        for actor in big.actors():
            mine = _small_actor(p, actor)
            guard = _guard_reads(big, s, actor)
            try:
                enabled = _enabled(small, ps, mine) if mine is not None else set()
            except ReadsHidden:
                enabled = None
            for _a, lb, choice in big.enabled_for(s, actor):
                f = out.labels.setdefault(lb.name, LabelCommute())
                st = step_footprint(big, s, actor, lb, choice, guard)
                after = p(st.target)
                if mine is None and (st.jobs & shown_jobs or st.lios & shown_lios):
                    f.wider += 1  # another copy's step on a shown job: a projection showing that copy judges it
                    continue
                if mine is None:
                    f.hidden += 1
                    if after != ps:
                        f.moves += 1
                        for k in changed(ps, after):
                            out.environment[k] = out.environment.get(k, 0) + 1
                    continue
                if not (st.jobs <= shown_jobs and st.lios <= shown_lios):
                    f.wider += 1
                    continue
                f.shown += 1
                who = f"{big.actor_name(actor)} at {lb.name}"
                if enabled is None:
                    f.reads_hidden += 1
                    f.note(f"{who}: its guard reads a hidden job")
                    continue
                if (lb.name, choice) not in enabled:
                    f.disabled += 1
                    f.note(f"{who} ({choice!r}): not enabled on the projection")
                    continue
                try:
                    got = merged(small.step(ps, mine, lb, choice, canonical=False, view=view(ps, small.sc)).target)
                except ReadsHidden:
                    f.reads_hidden += 1
                    f.note(f"{who}: reads a hidden job")
                    continue
                if got == after:
                    f.exact += 1
                else:
                    f.differ += 1
                    f.note(f"{who}: the projection's step differs in {', '.join(changed(after, got))}")
    return out
