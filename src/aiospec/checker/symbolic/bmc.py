"""Bounded model checking: is any property violated within K steps of the initial state?

The unrolling has one frame of variables per step.  Step i picks one guarded update with
a selector ``sel_i`` (each variable of frame i+1 is an if-then-else over the updates that
write it, the rest keep their value), so a frame costs one term per variable instead of one
copy of the whole relation per update.  Depths are tried in increasing order, so every
violation found is reported at its shortest depth; its path is then replayed on the
explicit model (``checker/trace.py``), which both prints it in the usual format and
confirms that the symbolic encoding and the model agree on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import z3

from ...spec.model import Model
from ...spec.properties import PROPERTIES, Property
from .encode import NOT_BY_DEFAULT, SPEC_ERROR, Encoding, encode
from .por import Reduction, independence
from .rename import Renamer


TYPE = "TYPE-OK"  # the domains the encoding assumes (layout.py), checked on every frame
FACTS = "FACTS"  # the facts an encoding assumed (encode(facts=...)), checked on every frame


@dataclass
class BmcViolation:
    prop: str
    depth: int  # number of steps of the counterexample, the violating step included
    path: list[tuple]  # (actor, label index, choice), replayable on the explicit model
    message: str = ""  # what the explicit model says at the end of the path
    states: list = field(default_factory=list)  # the states of the path (kept for FACTS: all reachable)


@dataclass
class BmcResult:
    scenario: str
    depth: int
    violations: dict[str, BmcViolation] = field(default_factory=dict)
    encode_seconds: float = 0.0
    solve_seconds: float = 0.0
    paths: int = 0
    updates: int = 0
    complete: bool = True  # False when the search stopped short of the depth (a broken fact, or undecided)
    undecided: tuple[int, str] | None = None  # (depth, z3's reason) where a check came back "unknown"
    rounds: int = 1  # encodings built (bmc_exact refines its facts between rounds)
    facts: int = 0  # facts the last encoding assumed (each checked on every frame)
    sampled: int = 0  # explicit states the facts were mined from


class Unroller:
    """Frames of the transition relation, built on demand.  With ``por``, consecutive
    independent steps are taken in one order only (``por.py``): fewer runs, the same
    reachable states at each depth."""

    def __init__(self, enc: Encoding, por: bool = False):
        self.enc = enc
        self.lay = enc.layout
        self.frames: list[list[z3.BitVecRef]] = [self.lay.frame("0")]
        self.sels: list[z3.BitVecRef] = []
        self.trans: list[z3.BoolRef] = []  # trans[i] links frame i to frame i+1
        self.moves = [i for i, st in enumerate(enc.steps) if st.halts is None]
        self.sel_width = max(1, len(self.moves).bit_length())
        self._writes = self._writers()
        self._template = None
        guards = [enc.steps[i].guard for i in self.moves]
        self.reduction = Reduction(independence(enc.xs, guards, self._writes)) if por else None
        self.classes: list[list[z3.BoolRef]] = []  # per step: its class literals (with por)

    def _writers(self) -> list[list[tuple[int, z3.BitVecRef]]]:
        """For each variable: the (update, new value) pairs of the updates that change it."""
        xs = self.enc.xs
        out: list[list[tuple[int, z3.BitVecRef]]] = [[] for _ in xs]
        for n, i in enumerate(self.moves):
            post = self.enc.steps[i].post
            for v, (x, t) in enumerate(zip(xs, post)):
                if not t.eq(x):
                    out[v].append((n, t))
        return out

    def writers(self) -> list[list[tuple[int, z3.BitVecRef]]]:
        """For each variable: (move number, new value) for the moves that change it."""
        return self._writes

    def sub(self, f: z3.ExprRef, k: int) -> z3.ExprRef:
        return z3.substitute(f, *zip(self.enc.xs, self.frames[k]))

    def init_values(self, model: Model) -> list[int]:
        return self.lay.values(model.initial())

    def init(self, model: Model) -> z3.BoolRef:
        return z3.And(*[x == v for x, v in zip(self.frames[0], self.init_values(model))])

    def template(self) -> z3.BoolRef:
        """One non-halting step from ``xs`` to ``xs'`` chosen by ``sel`` (built once, renamed per frame)."""
        if self._template is None:
            enc = self.enc
            nxt = self.lay.frame("next")
            sel = z3.BitVec("sel", self.sel_width)
            cs = [z3.ULT(sel, len(self.moves)),
                  z3.Or(*[z3.And(sel == n, enc.steps[i].guard) for n, i in enumerate(self.moves)])]
            for v, ws in enumerate(self._writes):
                val = enc.xs[v]
                for n, t in ws:
                    val = z3.If(sel == n, t, val)
                cs.append(nxt[v] == val)
            self._template = (z3.And(*cs), nxt, sel)
        return self._template[0]

    def group_step(self, lo: int, hi: int) -> tuple[z3.BoolRef, z3.BitVecRef]:
        """The step from frame 0 to frame 1 restricted to the moves ``lo..hi`` (one actor's
        paths), with a selector of its own: a much smaller relation than the whole step, for
        questions about those moves only.  Needs frame 1 (``step()`` first)."""
        enc = self.enc
        x0, x1 = self.frames[0], self.frames[1]
        sel = z3.BitVec(f"gsel{lo}_{hi}", self.sel_width)
        cs = [z3.ULE(lo, sel), z3.ULE(sel, hi),
              z3.Or(*[z3.And(sel == n, enc.steps[self.moves[n]].guard) for n in range(lo, hi + 1)])]
        for v, ws in enumerate(self._writes):
            val = enc.xs[v]
            for n, t in ws:
                if lo <= n <= hi:
                    val = z3.If(sel == n, t, val)
            cs.append(x1[v] == val)
        return Renamer(list(zip(enc.xs, x0)))(z3.And(*cs)), sel

    def step(self) -> z3.BoolRef:
        """The constraint linking the last frame to a new one (a non-halting step)."""
        t = self.template()
        _, nxt_t, sel_t = self._template
        k = len(self.frames) - 1
        cur, nxt = self.frames[k], self.lay.frame(str(k + 1))
        sel = z3.BitVec(f"sel@{k}", self.sel_width)
        self.frames.append(nxt)
        self.sels.append(sel)
        link = z3.substitute(t, *zip(self.enc.xs, cur), *zip(nxt_t, nxt), (sel_t, sel))
        if self.reduction is not None:
            lits, defs = self.reduction.class_literals(sel, str(k))
            self.classes.append(lits)
            link = z3.And(link, defs)
            if k >= 2:  # steps k-2, k-1; never the last step, which a two-state property judges
                link = z3.And(link, self.reduction.order(self.classes[k - 2], self.classes[k - 1]))
        self.trans.append(link)
        return link


def bad(enc: Encoding, props: list[Property], unroller: Unroller, k: int) -> dict[str, z3.BoolRef]:
    """What violating each property at frame k (a state, or a step from it) means."""
    out: dict[str, z3.BoolRef] = {}
    want = {p.name for p in props}
    for name, f in enc.invariants.items():
        if name in want:
            out[name] = unroller.sub(f, k)
    for name, f in enc.step_props.items():
        if name in want or name == SPEC_ERROR:
            out[name] = unroller.sub(f, k)
    if k >= 1:
        pairs = list(zip(enc.xs, unroller.frames[k - 1])) + list(zip(enc.ys, unroller.frames[k]))
        for name, f in enc.pairs.items():
            if name in want:
                out[name] = z3.substitute(f, *pairs)
    en = unroller.sub(enc.enabled(), k)
    fin = unroller.sub(enc.finished, k)
    for name, f in enc.ends.items():
        if name in want:
            out[name] = z3.And(z3.Not(en), fin, unroller.sub(f, k))
    if "DEADLOCK" in want:
        out["DEADLOCK"] = z3.And(z3.Not(en), z3.Not(fin))
    out[TYPE] = z3.Not(enc.layout.type_ok(unroller.frames[k]))
    if enc.facts:
        out[FACTS] = z3.Not(z3.And(*[unroller.sub(f, k) for _, f in enc.facts]))
    return out


def bmc(model: Model, depth: int, props: list[Property] | None = None, enc: Encoding | None = None,
        progress: Callable[[int, str], None] | None = None, por: bool = True,
        solver_params: dict[str, int] | None = None, jobs: int = 1) -> BmcResult:
    """Every property violated within ``depth`` steps, each at its shortest depth.  ``por``
    unrolls with the partial-order reduction, which keeps both (``por.py``); ``jobs``: processes
    that encode (``encode``).

    ``solver_params`` limit each check (z3's ``timeout`` in ms, ``rlimit``).  A check the
    solver cannot decide is not "nothing at this depth": the search stops there and says so
    in ``undecided``, since nothing deeper would be exact either."""
    if props is None:
        props = [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT]
    props = [p for p in props if p.kind != "reach"]
    enc = enc or encode(model, props, jobs=jobs)
    res = BmcResult(model.sc.name, depth, encode_seconds=enc.seconds, paths=enc.paths, updates=len(enc.steps),
                    facts=len(enc.facts))
    un = Unroller(enc, por=por)
    s = z3.SolverFor("QF_BV")  # all bit-vectors: z3's bit-blasting solver, about 3x faster than the default here
    if solver_params:
        s.set(**solver_params)
    s.add(un.init(model))

    def give_up(k: int) -> None:
        res.undecided, res.complete = (k, s.reason_unknown()), False
        s.pop()

    t0 = time.perf_counter()
    for k in range(depth + 1):
        if progress:
            progress(k, f"depth {k}")
        checks = {n: f for n, f in bad(enc, props, un, k).items() if n not in res.violations}
        if FACTS in checks:  # a broken assumption makes everything from here on inexact: report it and stop
            s.push()
            s.add(checks[FACTS])
            r = s.check()
            if r == z3.unknown:
                give_up(k)
                break
            if r == z3.sat:
                m = s.model()
                path = _path_of(model, enc, un, m, k)
                frames = [enc.layout.state_of([m.eval(x, model_completion=True).as_signed_long() for x in fr])
                          for fr in un.frames[:k + 1]]
                s.pop()
                res.violations[FACTS] = BmcViolation(FACTS, len(path), path, _confirm(model, props, path, FACTS)[1],
                                                     frames)
                res.complete = False
                break
            s.pop()
            checks.pop(FACTS)
        while checks:
            s.push()
            s.add(z3.Or(*checks.values()))
            r = s.check()
            if r == z3.unknown:
                give_up(k)
                break
            if r == z3.unsat:
                s.pop()
                break
            m = s.model()
            hit = [n for n, f in checks.items() if z3.is_true(m.eval(f, model_completion=True))]
            path = _path_of(model, enc, un, m, k)
            s.pop()
            for n in hit:
                full, msg = _confirm(model, props, path, n)
                res.violations[n] = BmcViolation(n, len(full), full, msg)
                checks.pop(n)
        if res.undecided:
            break
        if k < depth:
            s.add(un.step())
    res.solve_seconds = time.perf_counter() - t0
    return res


def _path_of(model: Model, enc: Encoding, un: Unroller, m: z3.ModelRef, k: int) -> list[tuple]:
    """The explicit steps (actor, label index, choice) a model of the unrolling takes."""
    from ...spec.actions import BY_NAME

    out = []
    state = model.initial()
    for i in range(k):
        n = m.eval(un.sels[i], model_completion=True).as_long()
        st = enc.steps[un.moves[n]]
        opts = list(model.enabled_for(state, st.actor))
        _, lb, choice = opts[st.option]
        assert lb.name == st.label, f"step {i}: the encoding took {st.label}, the model has {lb.name}"
        actor = st.actor
        if actor.kind == 1 and model.symmetric:  # paths name daemons by their canonical place
            actor = type(actor)(1, model.daemon_order(state).index(actor.index))
        out.append((actor, BY_NAME[st.label].index, choice))
        state = model.step(state, st.actor, lb, choice, canonical=False).target
    return out


def _confirm(model: Model, props: list[Property], path: list[tuple], name: str) -> tuple[list[tuple], str]:
    """Replay the path explicitly and find the violation there (and its last step, for a step
    property or a halting event): the explicit model must agree with the solver."""
    from ...spec.actions import LABELS
    from ...spec.properties import EVENT_PROPERTY, Ctx
    from ...spec.state import HALTING
    from ..trace import replay

    ctx = Ctx(model)
    s = replay(model, path).states[-1]
    byname = {p.name: p for p in props}
    p = byname.get(name)
    if p is not None and p.kind in ("invariant", "end"):
        msg = p.check(ctx, s)
        if msg:
            return path, msg
    elif name == "DEADLOCK":
        if not model.successors(s) and not model.finished(s):
            return path, "nothing can move"
    elif name == TYPE:
        return path, "a variable left the domain the encoding assumes"
    elif name == FACTS:
        return path, "a state reached here breaks a fact the encoding assumed: results past this depth are not exact"
    elif name == SPEC_ERROR:
        for actor, lb, c in model.enabled(s):
            try:
                model.step(s, actor, lb, c)
            except Exception as e:  # noqa: BLE001 - the spec's own failure is what is reported
                return path + [(actor, lb.index, c)], f"the spec's {lb.name} raised {type(e).__name__}: {e}"
    else:
        if path and p is not None and p.kind == "step" and not p.on:  # a two-state property: the last step
            tr0 = replay(model, path[:-1]).states[-1]
            actor, li, choice = path[-1]
            if actor.kind == 1 and model.symmetric:
                actor = type(actor)(1, model.daemon_order(tr0)[actor.index])
            tr = model.step(tr0, actor, LABELS[li], choice, canonical=False)
            msg = p.check(ctx, tr0, tr)
            if msg:
                return path, msg
        for tr in model.successors(s):
            msg = None
            for e in tr.events:
                if e.kind in HALTING:
                    hit = e.a if e.kind in ("kassert", "panic") else EVENT_PROPERTY[e.kind]
                    if hit == name:
                        msg = str(e.b)
            if msg is None and p is not None and p.kind == "step" and (not p.on or any(e.kind in p.on for e in tr.events)):
                msg = p.check(ctx, s, tr)
            if msg:
                actor = tr.actor
                return path + [(actor, LABELS.index(tr.label), tr.choice)], msg
    raise AssertionError(f"BMC reported {name} at depth {len(path)} but the explicit model does not confirm it")
