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

from ...spec.model import KIND_BIO, KIND_THREAD, Actor, Model, Transition
from ...spec.state import S_JOBS, S_LIOS, S_LISTS, State
from ...spec.variables import DM, G, J, K, L, Q, T, U
from ..footprint import AskedEntries, AskedList, asked, step_footprint, _guard_reads
from .hidden import ReadsHidden, StrictSlots, StrictTuple, merged_list, refuse
from .project import Projection

# each component of a State: its name, and its fields (flat components: one record)
_PARTS = (("job", J, False), ("aiocb", U, False), ("lio", L, False), ("ki", K, True), ("list", Q, True),
          ("glob", G, True), ("actor", T, False), ("daemon", DM, False))


_STRICT: dict[type, type] = {}


def _strict_view(base: type) -> type:
    cls = _STRICT.get(base)
    if cls is None:
        class Strict(base):  # type: ignore[valid-type, misc]
            __slots__ = ()

            def _nested(self, i: int) -> list:
                c = self._c[i]
                if c is None and i in (S_JOBS, S_LIOS):
                    c = self._c[i] = _Strict([list(r) for r in self._s[i]])
                elif c is None and i == S_LISTS:
                    c = self._c[i] = [asked(AskedList, r, refuse) for r in self._s[i]]
                return base._nested(self, i)
        cls = _STRICT[base] = Strict
    return cls


class _Strict(list):
    """A table of records that refuses the ``HIDDEN`` index (a Python list would read the
    second-to-last record instead)."""

    def __getitem__(self, i):
        refuse(i)
        return list.__getitem__(self, i)

    def __setitem__(self, i, value) -> None:
        refuse(i)
        list.__setitem__(self, i, value)


class OnProjection:
    """The small model run on projections under ``hidden.py``'s rules: the explicit oracle
    that the encoder's relation on projections (``encode(..., hidden=True)``) must match."""

    def __init__(self, small: Model) -> None:
        self.model = type(small)(replace(small.sc, slots=StrictSlots(small.sc.slots)), small.mutations)
        self.view = _strict_view(small.View)

    def _frozen(self, s: State) -> State:
        t = list(s)
        t[S_JOBS], t[S_LIOS] = StrictTuple(s[S_JOBS]), StrictTuple(s[S_LIOS])
        t[S_LISTS] = tuple(asked(AskedEntries, q, refuse) for q in s[S_LISTS])
        return tuple(t)

    def enabled(self, s: State, actor: Actor) -> list | None:
        """(label, choice) of each step ``actor`` may take; None when its guards read a hidden job."""
        try:
            return [(lb, c) for _a, lb, c in self.model.enabled_for(self._frozen(s), actor)]
        except ReadsHidden:
            return None

    def step(self, s: State, actor: Actor, lb, choice) -> Transition:
        """The step, its lists' markers merged; raises ``ReadsHidden`` where the path is cut."""
        tr = self.model.step(s, actor, lb, choice, canonical=False, view=self.view(s, self.model.sc))
        return tr._replace(target=merged(tr.target))

    def targets(self, s: State, layout) -> set[tuple]:
        """``concrete.step_targets`` for one state, from the spec run explicitly: what the
        encoder's relation on projections must give (a step whose Python fails is "SPEC-ERROR")."""
        out: set[tuple] = set()
        for actor in self.model.actors():
            for lb, choice in self.enabled(s, actor) or ():
                try:
                    tr = self.step(s, actor, lb, choice)
                except ReadsHidden:
                    continue
                except Exception:  # noqa: BLE001 - the encoder's SPEC-ERROR path
                    out.add((actor, lb.name, "SPEC-ERROR"))
                    continue
                out.add((actor, lb.name, "halt") if tr.halts else (actor, lb.name, tuple(layout.values(tr.target))))
        return out


def merged(s: State) -> State:
    """``s`` with each run of ``HIDDEN`` list entries one marker (a step that removes a shown
    job from between two hidden ones leaves two in a row; projecting would have merged them)."""
    lists = tuple(merged_list(lst) for lst in s[S_LISTS])
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


def commute(big: Model, small: Model, p: Projection, states: Iterable[State], out: Commute | None = None) -> Commute:
    """Every enabled step of every state in ``states`` (of ``big``), judged against ``small``
    run on the projection ``p`` (see the module docstring)."""
    out = out if out is not None else Commute()
    on = OnProjection(small)
    shown_jobs, shown_lios = set(p.jobs), set(p.lios)
    for s in states:
        out.states += 1
        ps = p(s)
        for actor in big.actors():
            mine = _small_actor(p, actor)
            guard = _guard_reads(big, s, actor)
            steps = on.enabled(ps, mine) if mine is not None else []
            enabled = None if steps is None else {(lb.name, c) for lb, c in steps}
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
                    got = on.step(ps, mine, lb, choice).target
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
