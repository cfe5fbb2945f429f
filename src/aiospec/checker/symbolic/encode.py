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
from ...spec.state import HALTING, S_LISTS, Event, Halt, View
from .layout import Layout, SymList
from .tables import SymStatic, SymTable
from .values import Path, PathExplorer, SymBool, SymInt, _bv, _num


class SymView(View):
    """A View that neither interns records nor forks on a list it does not touch, and whose
    records can be indexed by a symbolic value (``tables.py``)."""

    __slots__ = ()

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

    def __init__(self, src: tuple) -> None:
        self.src, self.mat = src, {}

    def __getitem__(self, q: int):
        lst = self.mat.get(q)
        if lst is None:
            lst = self.mat[q] = _LazyList(self.src[q])
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
            self.mat = [_wrap(e, self.ex) for e in self.el[:n]]
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
        return _wrap(self.el[i], self.ex)

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


def _wrap(e: z3.ExprRef, ex: PathExplorer):
    n = _num(z3.simplify(e))
    return n if n is not None else SymInt(e, ex)


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
    ends: dict[str, z3.BoolRef] = field(default_factory=dict)  # violated in a finished state
    finished: z3.BoolRef | None = None
    pairs: dict[str, z3.BoolRef] = field(default_factory=dict)  # violated by a step from xs to ys
    facts: list[tuple[str, z3.BoolRef]] = field(default_factory=list)  # assumed while encoding
    ys: list[z3.BitVecRef] = field(default_factory=list)
    paths: int = 0
    solver_checks: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def enabled(self) -> z3.BoolRef:
        return z3.Or(*[s.guard for s in self.steps]) if self.steps else z3.BoolVal(False)


def encode(model: Model, props: list[Property] | None = None, max_paths: int = 200_000,
           progress: Callable[[str], None] | None = None,
           facts: list[tuple[str, z3.BoolRef]] | None = None) -> Encoding:
    """Run every actor's steps and every property symbolically; collect guarded updates.

    ``facts`` (formulas over the layout's frame "x", e.g. ``lemmas.value_facts``) are assumed
    while encoding, like TYPE-OK: they prune forks, and the encoding is exact only on states
    that satisfy them, so BMC checks them on every frame (``bmc.FACTS``)."""
    t0 = time.perf_counter()
    model = Model(dataclasses.replace(model.sc, slots=SymStatic(model.sc.slots)), mutations=model.mutations)
    model.View = SymView
    lay = Layout(model)
    xs = lay.frame("x")
    enc = Encoding(model, lay, xs)
    enc.facts = list(facts or [])
    ex = PathExplorer(lay.width, [lay.type_ok(xs)] + [f for _, f in enc.facts], max_paths=max_paths)
    props = PROPERTIES if props is None else props
    ctx = Ctx(model)
    event_names = {p.name for p in props if p.kind == "event"}
    event_checks = [p for p in props if p.kind == "step" and p.on]
    pair_checks = [p for p in props if p.kind == "step" and not p.on and p.name not in NOT_SYMBOLIC]
    bad_steps: dict[str, list[z3.BoolRef]] = {}

    for actor in model.actors():
        option = 0
        while True:
            def run(ex: PathExplorer, actor=actor, option=option):
                s = lay.sym_state(xs, ex)
                opts = list(model.enabled_for(s, actor))
                if option >= len(opts):
                    return None
                _, lb, choice = opts[option]
                return s, lb, model.step(s, actor, lb, choice, canonical=False)

            def body(ex: PathExplorer, run=run):
                r = run(ex)
                if r is None:
                    return None
                s, lb, tr = r
                halts = None
                for e in tr.events:
                    if e.kind in HALTING:
                        name = e.a if e.kind in ("kassert", "panic") else EVENT_PROPERTY[e.kind]
                        halts = name if name in event_names else f"halt:{name}"
                return lb.name, halts, tr.events, lay.terms_of(tr.target, xs)

            t1 = time.perf_counter()
            paths = ex.explore(body)
            enc.paths += len(paths)
            if progress:
                progress(f"{model.actor_name(actor)} option {option}: {len(paths)} paths, {time.perf_counter() - t1:.1f}s")
            for path in paths:
                _note_error(enc, path, f"{model.actor_name(actor)} option {option}")
                if path.result is None:
                    continue
                name, halts, events, post = path.result
                enc.steps.append(Step(actor, option, name, path.guard, post, halts))
                if halts and not halts.startswith("halt:"):
                    bad_steps.setdefault(halts, []).append(path.guard)
                kinds = {e.kind for e in events}
                for p in event_checks:
                    if kinds & set(p.on):
                        bad_steps.setdefault(p.name, []).extend(
                            _step_violations(ex, ctx, lay, xs, p, actor, name, events, post, path.guard))
            if not any(q.result is not None for q in paths):
                break
            option += 1

    for p in props:
        if p.kind in ("invariant", "end"):
            def check(ex: PathExplorer, p=p):
                return p.check(ctx, lay.sym_state(xs, ex)) is not None

            t1 = time.perf_counter()
            paths = ex.explore(check)
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
        vp = ex2.explore(pair)
        enc.paths += len(vp)
        enc.pairs[p.name] = z3.Or(*[q.guard for q in vp if q.result]) if any(q.result for q in vp) else z3.BoolVal(False)
    enc.ys = ys
    for name, gs in bad_steps.items():
        enc.step_props[name] = z3.Or(*gs) if gs else z3.BoolVal(False)
    fin = ex.explore(lambda ex: model.finished(lay.sym_state(xs, ex)))
    enc.finished = z3.Or(*[p.guard for p in fin if p.result]) if any(p.result for p in fin) else z3.BoolVal(False)
    enc.solver_checks = ex.solver_checks
    enc.seconds = time.perf_counter() - t0
    return enc


# Properties the encoding leaves to the explicit checker: LOCKS reads which lock each label
# holds, a property of the step bodies themselves (settled by ``aiospec check`` on every scenario).
NOT_SYMBOLIC = frozenset({"LOCKS"})


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
    """Where an event property fails on one path of a step: its check run under the path's guard."""
    def check(ex: PathExplorer):
        evs = tuple(Event(e.kind, _rewrap(e.a, ex), _rewrap(e.b, ex), _rewrap(e.c, ex)) for e in events)
        tr = Transition(actor, BY_NAME[label], None, evs, lay.sym_state(post, ex))
        return p.check(ctx, lay.sym_state(xs, ex), tr) is not None

    return [z3.And(guard, q.guard) for q in ex.explore(check, given=guard) if q.result]


def _note_error(enc: Encoding, path: Path, where: str) -> None:
    if path.error is not None and not isinstance(path.error, Halt):
        enc.errors.append(f"{where}: {type(path.error).__name__}: {path.error}")
