"""The spec of one scenario as z3 formulas, obtained by running the spec's own code symbolically.

Nothing here restates a step: for every actor and every option it may have, the model's
``enabled_for`` and the label's body run on a symbolic state (``values.py``); each feasible
path becomes a *guarded update*: a guard over the pre-state and a term for every variable
of the post-state.  Properties are encoded the same way, by running their ``check``
functions.  So a change to a label body (or a mutant) changes the encoding with no other edit.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from typing import Callable

import z3

from ...spec.model import Actor, Model, Transition
from ...spec.properties import EVENT_PROPERTY, PROPERTIES, Ctx, Property
from ...spec.actions import BY_NAME
from ...spec.split import SplitModel, SplitView
from ...spec.state import HALTING, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS, Event, Halt, View
from .hidden import HiddenStatic, HiddenSymList, HiddenTable, Pointer, ReadsHidden, is_hidden, merge_markers, refuse
from .layout import Layout, SymList
from .parallel import ActorSteps, spread
from .tables import SymStatic, SymTable
from .values import Path, PathExplorer, SymBool, SymInt, _bv, _num


class SymView(View):
    """A View that neither interns records nor forks on a list it does not touch, and whose
    records can be indexed by a symbolic value (``tables.py``)."""

    __slots__ = ("resuming",)

    def __init__(self, s, sc) -> None:
        super().__init__(s, sc)
        self.resuming = False

    def cut(self, fn, *args) -> None:
        if self.resuming:  # the cut this run resumes from
            self.resuming = False
            return
        raise Suspend(fn, args, self.freeze(), list(self.events))

    def _nested(self, i: int) -> list:
        c = self._c[i]
        if c is None:
            c = self._c[i] = SymTable(list(r) for r in self._s[i])
        return c

    @property
    def lists(self):  # type: ignore[override]
        c = self._c[S_LISTS]
        if c is None:
            c = self._c[S_LISTS] = _Lists(self._s[S_LISTS])
        return c

    def freeze(self):
        out = []
        for i, c in enumerate(self._c):
            if c is None:
                out.append(self._s[i])
            elif i == S_LISTS:
                out.append(c.freeze())
            elif isinstance(c[0] if c else 0, list):
                out.append(tuple(tuple(x) for x in c))
            else:
                out.append(tuple(c))
        return tuple(out)


class _Lists:
    """The View's lists, each wrapped when a step first touches it."""

    def __init__(self, src: tuple, kind: type | None = None) -> None:
        self.src, self.mat, self.kind = src, {}, kind or _LazyList

    def __getitem__(self, q: int):
        lst = self.mat.get(q)
        if lst is None:
            lst = self.mat[q] = self.kind(self.src[q])
        return lst

    def __len__(self) -> int:
        return len(self.src)

    def __iter__(self):
        return (self[q] for q in range(len(self.src)))

    def freeze(self) -> tuple:
        return tuple(self.mat[q].freeze() if q in self.mat else self.src[q] for q in range(len(self.src)))


class _LazyList:
    """A TAILQ a step works on: append, membership, removal and the head stay symbolic (no fork on
    the list's length); iterating or asking its length turns it into a plain list (one fork per length)."""

    __slots__ = ("ln", "el", "ex", "mat")

    def __init__(self, src) -> None:
        self.mat = None
        if isinstance(src, SymList) and not src.materialized():
            self.ln, self.el, self.ex = src.len, list(src.elems), src.ex
        else:
            self.mat = list(src)

    def _m(self) -> list:
        if self.mat is None:
            n = self.ex.concretize(self.ln)
            self.mat = [self._entry(e, self.ex) for e in self.el[:n]]
        return self.mat

    def _has(self, x) -> z3.BoolRef:
        xv = _bv(x, self.ex.width)
        return z3.Or(*[z3.And(self.ln > i, e == xv) for i, e in enumerate(self.el)]) if self.el else z3.BoolVal(False)

    def append(self, x) -> None:
        if self.mat is not None:
            self.mat.append(x)
            return
        if not self.ex.decide(self.ln < len(self.el)):
            raise OverflowError("list full")
        xv = _bv(x, self.ex.width)
        self.el = [z3.simplify(z3.If(self.ln == i, xv, e)) for i, e in enumerate(self.el)]
        self.ln = z3.simplify(self.ln + 1)

    def __contains__(self, x) -> bool:
        if self.mat is not None:
            return x in self.mat
        return self.ex.decide(self._has(x))

    def remove(self, x) -> None:
        if self.mat is not None:
            self.mat.remove(x)
            return
        if not self.ex.decide(self._has(x)):
            raise ValueError("list.remove(x): x not in list")
        xv = _bv(x, self.ex.width)
        w = self.ex.width
        out, seen = [], z3.BoolVal(False)
        for i, e in enumerate(self.el):  # elements are distinct: everything after x moves up one place
            seen = z3.Or(seen, e == xv)
            nxt = self.el[i + 1] if i + 1 < len(self.el) else z3.BitVecVal(-1, w)
            out.append(z3.simplify(z3.If(seen, nxt, e)))
        self.el = out
        self.ln = z3.simplify(self.ln - 1)

    def __bool__(self) -> bool:
        if self.mat is not None:
            return bool(self.mat)
        return self.ex.decide(self.ln != 0)

    def __getitem__(self, i):
        if self.mat is not None or not isinstance(i, int) or i < 0:
            return self._m()[i]
        if not self.ex.decide(self.ln > i):
            raise IndexError("list index out of range")
        return self._entry(self.el[i], self.ex)

    def __len__(self) -> int:
        return len(self._m())

    def __iter__(self):
        return iter(self._m())

    def index(self, x) -> int:
        return self._m().index(x)

    def after(self, x):
        """The element after x (on the list), or -1: one term over the positions."""
        if self.mat is not None:
            i = self.mat.index(x)
            return self.mat[i + 1] if i + 1 < len(self.mat) else -1
        w = self.ex.width
        xv = _bv(x, w)
        acc = z3.BitVecVal(-1, w)
        for i in range(len(self.el) - 1, -1, -1):
            nxt = z3.If(self.ln > i + 1, self.el[i + 1], z3.BitVecVal(-1, w)) if i + 1 < len(self.el) else \
                z3.BitVecVal(-1, w)
            acc = z3.If(self.el[i] == xv, nxt, acc)
        return _wrap(acc, self.ex)

    def pop(self, i: int = -1):
        if self.mat is None and i == 0:  # TAILQ_REMOVE of the head: symbolic like remove()
            head = self[0]
            self.remove(head)
            return head
        return self._m().pop(i)

    def count(self, x) -> int:
        return self._m().count(x)

    def freeze(self):
        if self.mat is not None:
            return tuple(self.mat)
        return SymList(self.ln, self.el, self.ex)

    @staticmethod
    def _entry(e: z3.ExprRef, ex: PathExplorer):
        return _wrap(e, ex)


class _HiddenList(_LazyList):
    """A list of a projection (``hidden.py``): its entries are ``Pointer``s; asking it about a
    hidden job, or taking one off it, is a read of that job; a removal merges the markers it
    brings together."""

    __slots__ = ()

    @staticmethod
    def _entry(e: z3.ExprRef, ex: PathExplorer):
        return _pointer(e, ex)

    def append(self, x) -> None:
        refuse(x)
        _LazyList.append(self, x)

    def __contains__(self, x) -> bool:
        refuse(x)
        return _LazyList.__contains__(self, x)

    def remove(self, x) -> None:
        refuse(x)
        _LazyList.remove(self, x)
        if self.mat is None:
            self.el, self.ln = merge_markers(self.el, self.ln)

    def index(self, x) -> int:
        refuse(x)
        return _LazyList.index(self, x)

    def after(self, x):
        refuse(x)
        y = _LazyList.after(self, x)
        return Pointer(y.e, y.ex) if type(y) is SymInt else y

    def pop(self, i: int = -1):
        x = _LazyList.pop(self, i)
        refuse(x)
        return x

    def count(self, x) -> int:
        refuse(x)
        return _LazyList.count(self, x)

    def freeze(self):
        if self.mat is None:
            return HiddenSymList(self.ln, self.el, self.ex)
        out: list = []
        for x in self.mat:  # each run of markers one marker, as projecting makes it
            if not (out and is_hidden(out[-1]) and is_hidden(x)):
                out.append(x)
        return tuple(out)


def _pointer(e: z3.ExprRef, ex: PathExplorer):
    n = _num(z3.simplify(e))
    return n if n is not None else Pointer(e, ex)


class _Hidden:
    """Makes a SymView one of projections: job and lio records refuse ``HIDDEN``."""

    __slots__ = ()

    def _nested(self, i: int) -> list:
        if i not in (S_JOBS, S_LIOS):
            return SymView._nested(self, i)
        c = self._c[i]
        if c is None:
            c = self._c[i] = HiddenTable(list(r) for r in self._s[i])
        return c

    @property
    def lists(self):
        c = self._c[S_LISTS]
        if c is None:
            c = self._c[S_LISTS] = _Lists(self._s[S_LISTS], _HiddenList)
        return c


class HiddenView(_Hidden, SymView):
    __slots__ = ()


class SymSplitView(SymView):
    """A SymView for a ``SplitModel``: a cut ends the step (``split.SplitView``'s rule), it
    does not merge paths; the model stores where the step resumes."""

    __slots__ = ("resume_from",)

    def __init__(self, s, sc) -> None:
        super().__init__(s, sc)
        self.resume_from = None

    cut = SplitView.cut
    recording = SplitView.recording
    observe = SplitView.observe


class HiddenSplitView(_Hidden, SymSplitView):
    __slots__ = ()


def _wrap(e: z3.ExprRef, ex: PathExplorer):
    n = _num(z3.simplify(e))
    return n if n is not None else SymInt(e, ex)


class Suspend(Exception):
    """A symbolic path reached ``View.cut``: the rest of its step is ``fn(view, *args)``."""

    def __init__(self, fn, args: tuple, state, events: list) -> None:
        super().__init__("cut")
        self.fn, self.args, self.state, self.events = fn, args, state, events


@dataclass
class Step:
    """One guarded update: actor takes the option-th step it has, along one path of its body."""

    actor: Actor
    option: int
    label: str
    guard: z3.BoolRef
    post: list[z3.BitVecRef]
    halts: str | None  # the property a halting event of this path violates


@dataclass
class Encoding:
    """A scenario's transition relation and properties over the template frame ``xs``."""

    model: Model
    layout: Layout
    xs: list[z3.BitVecRef]
    steps: list[Step] = field(default_factory=list)
    invariants: dict[str, z3.BoolRef] = field(default_factory=dict)  # violated in a state
    step_props: dict[str, z3.BoolRef] = field(default_factory=dict)  # violated by some step from a state
    # for each step property: (index in ``steps``, violated by that path from a state), to say which step
    step_where: dict[str, list[tuple[int, z3.BoolRef]]] = field(default_factory=dict)
    ends: dict[str, z3.BoolRef] = field(default_factory=dict)  # violated in a finished state
    finished: z3.BoolRef | None = None
    pairs: dict[str, z3.BoolRef] = field(default_factory=dict)  # violated by a step from xs to ys
    facts: list[tuple[str, z3.BoolRef]] = field(default_factory=list)  # assumed while encoding
    ys: list[z3.BitVecRef] = field(default_factory=list)
    paths: int = 0
    solver_checks: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    encoded: frozenset[str] = frozenset()  # the properties this encoding was built with

    def enabled(self) -> z3.BoolRef:
        return z3.Or(*[s.guard for s in self.steps]) if self.steps else z3.BoolVal(False)


def encode(model: Model, props: list[Property] | None = None, max_paths: int = 200_000,
           progress: Callable[[str], None] | None = None,
           facts: list[tuple[str, z3.BoolRef]] | None = None, jobs: int = 1, hidden: bool = False) -> Encoding:
    """Run every actor's steps and every property symbolically; collect guarded updates.

    ``facts`` (formulas over the layout's frame "x", e.g. ``lemmas.value_facts``) are assumed
    while encoding, like TYPE-OK: they prune forks, and the encoding is exact only on states
    that satisfy them, so BMC checks them on every frame (``bmc.FACTS``).  ``jobs``: actors
    encoded at once, in forked processes (``parallel.py``); the same relation, sooner.
    ``hidden``: the relation on projections (``Layout(hidden=True)``, ``hidden.py``), where a
    path that reads a job not shown is cut."""
    t0 = time.perf_counter()
    split = isinstance(model, SplitModel)
    static = HiddenStatic if hidden else SymStatic
    model = type(model)(dataclasses.replace(model.sc, slots=static(model.sc.slots)), mutations=model.mutations)
    model.View = (HiddenSplitView if split else HiddenView) if hidden else (SymSplitView if split else SymView)
    lay = Layout(model, hidden=hidden)
    xs = lay.frame("x")
    enc = Encoding(model, lay, xs)
    enc.facts = list(facts or [])
    ex = PathExplorer(lay.width, [lay.type_ok(xs)] + [f for _, f in enc.facts], max_paths=max_paths)
    if props is None:
        props = [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT]
    enc.encoded = frozenset(p.name for p in props)
    ctx = Ctx(model)
    event_names = {p.name for p in props if p.kind == "event"}
    event_checks = [p for p in props if p.kind == "step" and p.on]
    pair_checks = [p for p in props if p.kind == "step" and not p.on and p.name not in LABELLED]
    labelled = [p for p in props if p.name in LABELLED]
    shared = [i for i, sl in enumerate(lay.slots) if sl.comp in SHARED]
    bad_steps: dict[str, list[tuple[int, z3.BoolRef]]] = {p.name: [] for p in props if p.name in LABELLED}

    work = _ActorWork(enc, ex, ctx, event_names, event_checks, labelled, shared)
    actors = list(model.actors())
    results = spread(work, actors, jobs, progress) if jobs > 1 and len(actors) > 1 else None
    if results is not None:  # the workers' explorers counted their own checks
        ex.solver_checks += sum(r.checks for r in results)
    else:  # one core, or forking is not safe here: the same work, in order
        results = []
        for actor in actors:
            results.append(work.run(actor))
            if progress:
                for line in results[-1].said:
                    progress(line)
    for actor, res in zip(actors, results):
        base = len(enc.steps)
        enc.steps += [Step(actor, option, name, guard, post, halts) for option, name, halts, guard, post in res.steps]
        for name, k, f in res.bad:
            bad_steps.setdefault(name, []).append((base + k, f))
        enc.paths += res.paths

    for p in props:
        if p.kind in ("invariant", "end"):
            def check(ex: PathExplorer, p=p):
                return p.check(ctx, lay.sym_state(xs, ex)) is not None

            t1 = time.perf_counter()
            paths: list[Path] = []
            for focus in range(max(1, ctx.nj)):  # one job at a time when the check loops over ctx.jobs()
                ctx.focus, ctx.focused = (focus if ctx.nj else None), False
                paths += ex.explore(check)
                if not ctx.focused:
                    break
            ctx.focus = None
            enc.paths += len(paths)
            if progress:
                progress(f"{p.name}: {len(paths)} paths, {time.perf_counter() - t1:.1f}s")
            for path in paths:
                _note_error(enc, path, p.name)
            f = z3.Or(*[path.guard for path in paths if path.result]) if any(path.result for path in paths) else z3.BoolVal(False)
            (enc.invariants if p.kind == "invariant" else enc.ends)[p.name] = z3.simplify(f)
    ys = lay.frame("y")
    for p in pair_checks:  # properties of (state, next state) alone: one formula over two frames
        def pair(ex: PathExplorer, p=p):
            tr = Transition(Actor(0, 0), None, None, (), lay.sym_state(ys, ex))
            return p.check(ctx, lay.sym_state(xs, ex), tr) is not None

        ex2 = PathExplorer(lay.width, [lay.type_ok(xs), lay.type_ok(ys)], max_paths=max_paths)
        vp: list[Path] = []
        for focus in range(max(1, ctx.nj)):  # one job at a time, as for invariants
            ctx.focus, ctx.focused = (focus if ctx.nj else None), False
            vp += ex2.explore(pair)
            if not ctx.focused:
                break
        ctx.focus = None
        enc.paths += len(vp)
        enc.pairs[p.name] = z3.Or(*[q.guard for q in vp if q.result]) if any(q.result for q in vp) else z3.BoolVal(False)
    enc.ys = ys
    for name, gs in bad_steps.items():
        enc.step_props[name] = z3.Or(*[f for _, f in gs]) if gs else z3.BoolVal(False)
        enc.step_where[name] = gs
    fin = ex.explore(lambda ex: model.finished(lay.sym_state(xs, ex)))
    enc.finished = z3.Or(*[p.guard for p in fin if p.result]) if any(p.result for p in fin) else z3.BoolVal(False)
    enc.solver_checks = ex.solver_checks
    enc.seconds = time.perf_counter() - t0
    return enc


@dataclass
class _ActorWork:
    """Encodes one actor's steps.  One explorer serves them all in turn; a forked worker
    (``parallel.py``) starts from the parent's, as it was before any actor was encoded."""

    enc: Encoding
    ex: PathExplorer
    ctx: Ctx
    event_names: set[str]
    event_checks: list[Property]
    labelled: list[Property]
    shared: list[int]

    def run(self, actor: Actor) -> ActorSteps:
        enc, ctx, lay, xs = self.enc, self.ctx, self.enc.layout, self.enc.xs
        ex, checks = self.ex, self.ex.solver_checks
        res = ActorSteps([], [])
        option = 0
        while True:
            t1 = time.perf_counter()
            outs, n = _step_paths(enc, ex, actor, option, self.event_names)
            res.paths += n
            res.said.append(f"{enc.model.actor_name(actor)} option {option}: {n} paths, "
                            f"{time.perf_counter() - t1:.1f}s")
            if outs is None:
                break
            for guard, name, halts, events, post in outs:
                k = len(res.steps)
                res.steps.append((option, name, halts, guard, post))
                if halts and not halts.startswith("halt:"):
                    res.bad.append((halts, k, guard))
                if halts == SPEC_ERROR:
                    continue
                for p in self.labelled:
                    if any(not post[i].eq(xs[i]) for i in self.shared):  # else nothing it audits changed
                        res.bad += [(p.name, k, f) for f in
                                    _labelled_violations(ex, ctx, lay, xs, p, actor, name, post, guard)]
                kinds = {e.kind for _, e in events}
                for p in self.event_checks:
                    if kinds & set(p.on):
                        res.bad += [(p.name, k, f) for f in
                                    _step_violations(ex, ctx, lay, xs, p, actor, name, events, post, guard)]
            option += 1
        res.checks = ex.solver_checks - checks
        return res


# A step whose Python raises (an IndexError, a message that cannot be formatted): never from a
# state the explicit checker reaches (it would crash), so every such state must be unreachable.
SPEC_ERROR = "SPEC-ERROR"

# LOCKS audits every write of every step against the lock it holds: symbolically that is a
# comparison of whole records per path, the costliest property by far (and one the explicit
# checker settles on every scenario).  Encoded when asked for by name.
NOT_BY_DEFAULT = frozenset({"LOCKS"})

# Two-state properties that also read which label took the step (LOCKS: the lock it holds),
# so they are checked on each path of each step instead of on a pair of free states; and the
# state components they audit (a path that writes none of them cannot break them).
LABELLED = frozenset({"LOCKS"})
SHARED = frozenset({S_JOBS, S_LIOS, S_KI, S_LISTS, S_GLOB})



@dataclass(frozen=True)
class _Ptr:
    """A merged argument of a resumed step that held a job pointer."""

    e: z3.BitVecRef


@dataclass
class _Resume:
    """Paths of one step merged at a cut: where they continue, and under what condition."""

    label: str
    fn: Callable
    args: list
    terms: list[z3.BitVecRef]  # the merged state
    reach: z3.BoolRef  # some merged path was taken
    events: list[tuple]  # (guard or None, Event) emitted before the cut


def _step_paths(enc: Encoding, ex: PathExplorer, actor: Actor, option: int,
                event_names: set[str]) -> tuple[list[tuple] | None, int]:
    """The terminal paths of one actor's option-th step: (guard, label, halts, events, post), with
    each event as (guard or None, Event); None when no state offers that option.

    Paths stop at each ``View.cut``; those that reach the same cut are merged into one state
    (if-then-else terms over their guards) and the rest of the step runs once on it."""
    model, lay, xs = enc.model, enc.layout, enc.xs

    def finish(name: str, run) -> tuple | None:
        try:
            events, target = run()
        except Suspend as sp:
            return name, sp
        except Exception as e:
            e.add_note(f"aiospec-label:{name}")  # so that the SPEC-ERROR step is named after its label
            raise
        return name, events, lay.terms_of(target, xs)

    def first(ex: PathExplorer):
        s = lay.sym_state(xs, ex)
        try:
            opts = list(model.enabled_for(s, actor))
        except Exception:
            if option:  # the same failure for every option: report it once, with option 0
                return None
            raise
        if option >= len(opts):
            return None
        _, lb, choice = opts[option]

        def run():
            tr = model.step(s, actor, lb, choice, canonical=False)
            return tr.events, tr.target
        return finish(lb.name, run)

    def resumed(ex: PathExplorer, r: _Resume):
        v = model.View(lay.sym_state(r.terms, ex), model.sc)
        v.resuming = True

        def run():
            try:
                r.fn(v, *[_pointer(a.e, ex) if isinstance(a, _Ptr) else _wrap(a, ex) if isinstance(a, z3.ExprRef) else a
                          for a in r.args])
            except Halt:
                pass
            return v.events, v.freeze()
        return finish(r.label, run)

    out: list[tuple] = []
    total = 0
    work: list[_Resume | None] = [None]
    while work:
        r = work.pop(0)
        paths = ex.explore(first) if r is None else ex.explore(lambda ex, r=r: resumed(ex, r), given=r.reach)
        total += len(paths)
        if r is None and not any(q.result is not None or q.error is not None for q in paths):
            return None, total
        cuts: dict[tuple, list[tuple]] = {}
        prefix = [] if r is None else r.events
        for path in paths:
            guard = path.guard if r is None else z3.And(r.reach, path.guard)
            if isinstance(path.error, ReadsHidden):
                continue  # a projection's path that needs a job not shown: a larger projection's step
            if path.error is not None and not isinstance(path.error, Halt):
                # the spec's Python fails from these states: a step of its own, that BMC and prove check
                notes = [n for n in getattr(path.error, "__notes__", ()) if n.startswith("aiospec-label:")]
                label = notes[0].removeprefix("aiospec-label:") if notes else r.label if r else "enabled_for"
                out.append((guard, label, SPEC_ERROR, prefix, list(xs)))
                continue
            if path.result is None:
                continue
            if isinstance(path.result[1], Suspend):
                name, sp = path.result
                key = (name, sp.fn, tuple(a if type(a) is int else None for a in sp.args))
                cuts.setdefault(key, []).append((path.guard, guard, sp))
                continue
            name, events, post = path.result
            out.append((guard, name, _halts(events, event_names), prefix + [(None, e) for e in events], post))
        for (name, fn, _), members in cuts.items():
            sts = [(own, lay.terms_of(sp.state, xs)) for own, _, sp in members]
            terms = [_merge([(own, t[i]) for own, t in sts]) for i in range(len(xs))]
            args = []
            for i, a in enumerate(members[0][2].args):
                if type(a) is int and all(type(m[2].args[i]) is int and m[2].args[i] == a for m in members):
                    args.append(a)
                else:
                    e = _merge([(own, _bv(sp.args[i], lay.width)) for own, _, sp in members])
                    # a pointer stays one across the merge (``hidden.Pointer``)
                    args.append(_Ptr(e) if any(isinstance(sp.args[i], Pointer) for _, _, sp in members) else e)
            events = prefix + [(guard, e) for _, guard, sp in members for e in sp.events]
            work.append(_Resume(name, fn, args, terms, z3.Or(*[g for _, g, _ in members]), events))
    return out, total


def _merge(pairs: list[tuple[z3.BoolRef, z3.ExprRef]]) -> z3.ExprRef:
    """One term equal to each pair's value under its guard (the guards exclude one another)."""
    groups: dict[int, list] = {}
    for g, t in pairs:
        groups.setdefault(t.get_id(), [t, []])[1].append(g)
    items = list(groups.values())
    acc = items[-1][0]
    for t, gs in items[:-1]:
        acc = z3.If(z3.Or(*gs), t, acc)
    return z3.simplify(acc)


def _halts(events, event_names: set[str]) -> str | None:
    """The property a halting event of a path violates (``halt:NAME`` when not asked for)."""
    halts = None
    for e in events:
        if e.kind in HALTING:
            name = e.a if e.kind in ("kassert", "panic") else EVENT_PROPERTY[e.kind]
            halts = name if name in event_names else f"halt:{name}"
    return halts

def _rewrap(x, ex: PathExplorer):
    """An event argument of one exploration, usable in another (same terms, new explorer)."""
    if isinstance(x, SymInt):
        return SymInt(x.e, ex)
    if isinstance(x, SymBool):
        return SymBool(x.e, ex)
    if isinstance(x, tuple):
        return tuple(_rewrap(y, ex) for y in x)
    return x


def _step_violations(ex: PathExplorer, ctx: Ctx, lay: Layout, xs, p: Property, actor: Actor, label: str, events,
                     post, guard: z3.BoolRef) -> list[z3.BoolRef]:
    """Where an event property fails on one path of a step.

    Every event property fails on a step exactly when one of its events (of the kinds in
    ``p.on``) fails it alone (``test_event_properties_judge_each_event_alone``), so each event
    is checked on its own, under the path's guard and, for an event from before a cut, its own:
    the work is the sum over events, not one fork per combination."""
    out: list[z3.BoolRef] = []
    for g, e in events:
        if e.kind not in p.on:
            continue
        given = guard if g is None else z3.And(guard, g)

        def check(ex: PathExplorer, e=e):
            ev = Event(e.kind, _rewrap(e.a, ex), _rewrap(e.b, ex), _rewrap(e.c, ex))
            tr = Transition(actor, BY_NAME[label], None, (ev,), lay.sym_state(post, ex))
            return p.check(ctx, lay.sym_state(xs, ex), tr) is not None

        out += [z3.And(given, q.guard) for q in ex.explore(check, given=given) if q.result]
    return out


def _labelled_violations(ex: PathExplorer, ctx: Ctx, lay: Layout, xs, p: Property, actor: Actor, label: str,
                         post, guard: z3.BoolRef) -> list[z3.BoolRef]:
    """Where a two-state property that reads the step's label fails on one path of a step."""

    def check(ex: PathExplorer):
        tr = Transition(actor, BY_NAME[label], None, (), lay.sym_state(post, ex))
        return p.check(ctx, lay.sym_state(xs, ex), tr) is not None

    return [z3.And(guard, q.guard) for q in ex.explore(check, given=guard) if q.result]


def _note_error(enc: Encoding, path: Path, where: str) -> None:
    if path.error is not None and not isinstance(path.error, Halt):
        enc.errors.append(f"{where}: {type(path.error).__name__}: {path.error}")
