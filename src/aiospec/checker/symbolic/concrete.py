"""Many formulas over one frame, evaluated on a batch of concrete states at once (numpy).

Houdini learns from each counterexample the solver gives: a pre-state satisfying every
surviving candidate.  Running the spec's own steps on that pre-state explicitly gives every
real successor, and any candidate false in one of them can be dropped at once (``Amplifier``):
the drop is justified exactly as the solver's is, by a step from a state satisfying all
survivors.  Checking thousands of candidates on a handful of states through z3 (substitute
and simplify, or ``model.eval``) costs far more than a solver question; this module compiles
the formulas' shared DAG once into numpy operations over a column per state.  An operator it
does not know makes just the formulas above it *unknown* (never reported false).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator
from typing import Any

import numpy as np
import z3

_MAX_WIDTH = 62  # bit-vectors up to this width fit an int64 with room for a carry


def postorder(root: z3.ExprRef, done: Container[int]) -> Iterator[tuple[z3.ExprRef, list[z3.ExprRef]]]:
    """The subterms of ``root`` whose ids are not in ``done``, each after its children, with its
    children: a walk of the shared DAG, not of the tree.  The caller records each one it is
    given in ``done`` (a set, or the memo it fills), which may be shared across calls."""
    todo = [root]
    while todo:
        e = todo[-1]
        if e.get_id() in done:
            todo.pop()
            continue
        kids = e.children()
        waiting = [c for c in kids if c.get_id() not in done]
        if waiting:
            todo.extend(waiting)
            continue
        todo.pop()
        yield e, kids


class Evaluator:
    """``holds(values)``: which of ``formulas`` are true in each of a batch of states, each
    state given as the values of ``xs`` (as ``Layout.values`` lists them)."""

    def __init__(self, formulas: list[z3.BoolRef], xs: list[z3.BitVecRef]) -> None:
        self.var = {x.get_id(): i for i, x in enumerate(xs)}
        self.ops: list[tuple] = []  # (node id, op kind, child ids, parameters), children first
        self.width: dict[int, int] = {}
        self.unknown: set[int] = set()
        done: set[int] = set()
        for f in formulas:
            self._compile(f, done)
        self.roots = [f.get_id() for f in formulas]
        self.known = np.array([r not in self.unknown for r in self.roots], dtype=bool)  # per formula

    def _compile(self, root: z3.ExprRef, done: set[int]) -> None:
        for e, kids in postorder(root, done):
            k = e.get_id()
            done.add(k)
            if z3.is_bv(e):
                self.width[k] = e.size()
            ids = tuple(c.get_id() for c in kids)
            kind = e.decl().kind()
            params = tuple(e.params()) if kind in (z3.Z3_OP_EXTRACT, z3.Z3_OP_SIGN_EXT, z3.Z3_OP_ZERO_EXT) else ()
            if z3.is_bv_value(e):
                self.ops.append((k, "num", (), (e.as_long(),)))
            elif kind == z3.Z3_OP_UNINTERPRETED and not kids and k in self.var:
                self.ops.append((k, "var", (), (self.var[k],)))
            elif kind in _KNOWN and (not z3.is_bv(e) or e.size() <= (31 if kind == z3.Z3_OP_BMUL else _MAX_WIDTH)) \
                    and all(c not in self.unknown for c in ids):
                self.ops.append((k, kind, ids, params))
            else:
                self.unknown.add(k)

    def holds(self, values: np.ndarray, chunk: int = 512) -> np.ndarray:
        """(states x formulas) booleans: True where the formula holds, or is unknown here.  Every
        node's value is kept for a batch, so the states go ``chunk`` at a time (the renamings of
        one pre-state of race-n with five requests give about 2,000 successors)."""
        values = np.asarray(values, dtype=np.int64).reshape(len(values), -1)
        if values.shape[0] > chunk:
            return np.concatenate([self.holds(values[i:i + chunk], chunk) for i in range(0, values.shape[0], chunk)])
        val = self._run(values)
        out = np.ones((values.shape[0], len(self.roots)), dtype=bool)
        for i, r in enumerate(self.roots):
            if r not in self.unknown:
                out[:, i] = val[r]
        return out

    def terms(self, values: np.ndarray) -> np.ndarray:
        """(states x formulas) values of bit-vector ``formulas`` (signed, as ``Layout.values``
        gives them): the post-state of a step on each of a batch of pre-states.  A formula with
        an operator this module does not know is an error here, not a guess."""
        values = np.asarray(values, dtype=np.int64).reshape(len(values), -1)
        bad = [i for i, r in enumerate(self.roots) if r in self.unknown]
        if bad:
            raise ValueError(f"{len(bad)} terms use operators concrete.py does not evaluate")
        val = self._run(values)
        out = np.empty((values.shape[0], len(self.roots)), dtype=np.int64)
        for i, r in enumerate(self.roots):
            out[:, i] = _signed(val[r], self.width[r])
        return out

    def _run(self, values: np.ndarray) -> dict[int, np.ndarray]:
        n = values.shape[0]
        val: dict[int, np.ndarray] = {}
        for k, kind, ids, params in self.ops:
            if kind == "num":
                val[k] = np.full(n, params[0], dtype=np.int64)
            elif kind == "var":
                val[k] = values[:, params[0]] & ((1 << self.width[k]) - 1)
            else:
                val[k] = _KNOWN[kind]([val[c] for c in ids], [self.width.get(c, 0) for c in ids],
                                      self.width.get(k, 0), params, n)
        return val


def _signed(a: np.ndarray, w: int) -> np.ndarray:
    return a - (((a >> (w - 1)) & 1) << w)


def _mask(a: np.ndarray, w: int) -> np.ndarray:
    return a & ((1 << w) - 1)


def _fold(f):
    def op(xs, _ws, _w, _p, _n):
        out = xs[0]
        for x in xs[1:]:
            out = f(out, x)
        return out
    return op


def _distinct(xs, _ws, _w, _p, n):
    out = np.ones(n, dtype=bool)
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            out &= xs[i] != xs[j]
    return out


def _cmp(f, signed: bool):
    def op(xs, ws, _w, _p, _n):
        a, b = xs
        if signed:
            a, b = _signed(a, ws[0]), _signed(b, ws[1])
        return f(a, b)
    return op


def _arith(f):
    return lambda xs, _ws, w, _p, _n: _mask(_fold(f)(xs, None, w, None, None), w)


def _extract(xs, _ws, _w, p, _n):
    hi, lo = p
    return (xs[0] >> lo) & ((1 << (hi - lo + 1)) - 1)


def _concat(xs, ws, _w, _p, _n):
    out = xs[0]
    for x, w in zip(xs[1:], ws[1:]):
        out = (out << w) | x
    return out


def _shift(kind: str):
    """Shifts by a bit-vector amount: an amount of the width or more empties the value (or fills
    it with the sign bit, arithmetically), as in SMT-LIB."""
    def op(xs, _ws, w, _p, _n):
        x, k = xs[0], xs[1]
        far = k >= w
        k = np.minimum(k, w - 1)
        if kind == "shl":
            return np.where(far, 0, _mask(x << k, w))
        if kind == "lshr":
            return np.where(far, 0, x >> k)
        sx = _signed(x, w)
        return _mask(np.where(far, np.where(sx < 0, -1, 0), sx >> k), w)
    return op


_KNOWN = {
    z3.Z3_OP_TRUE: lambda _x, _ws, _w, _p, n: np.ones(n, dtype=bool),
    z3.Z3_OP_FALSE: lambda _x, _ws, _w, _p, n: np.zeros(n, dtype=bool),
    z3.Z3_OP_EQ: lambda xs, _ws, _w, _p, _n: xs[0] == xs[1],
    z3.Z3_OP_DISTINCT: _distinct,
    z3.Z3_OP_NOT: lambda xs, _ws, _w, _p, _n: ~xs[0],
    z3.Z3_OP_AND: _fold(np.logical_and),
    z3.Z3_OP_OR: _fold(np.logical_or),
    z3.Z3_OP_XOR: _fold(np.logical_xor),
    z3.Z3_OP_IMPLIES: lambda xs, _ws, _w, _p, _n: ~xs[0] | xs[1],
    z3.Z3_OP_ITE: lambda xs, _ws, _w, _p, _n: np.where(xs[0], xs[1], xs[2]),
    z3.Z3_OP_BADD: _arith(np.add),
    z3.Z3_OP_BSUB: _arith(np.subtract),
    z3.Z3_OP_BMUL: _arith(np.multiply),
    z3.Z3_OP_BAND: _fold(np.bitwise_and),
    z3.Z3_OP_BOR: _fold(np.bitwise_or),
    z3.Z3_OP_BXOR: _fold(np.bitwise_xor),
    z3.Z3_OP_BNOT: lambda xs, _ws, w, _p, _n: _mask(~xs[0], w),
    z3.Z3_OP_BNEG: lambda xs, _ws, w, _p, _n: _mask(-xs[0], w),
    z3.Z3_OP_SLEQ: _cmp(np.less_equal, True),
    z3.Z3_OP_SLT: _cmp(np.less, True),
    z3.Z3_OP_SGEQ: _cmp(np.greater_equal, True),
    z3.Z3_OP_SGT: _cmp(np.greater, True),
    z3.Z3_OP_ULEQ: _cmp(np.less_equal, False),
    z3.Z3_OP_ULT: _cmp(np.less, False),
    z3.Z3_OP_UGEQ: _cmp(np.greater_equal, False),
    z3.Z3_OP_UGT: _cmp(np.greater, False),
    z3.Z3_OP_EXTRACT: _extract,
    z3.Z3_OP_CONCAT: _concat,
    z3.Z3_OP_ZERO_EXT: lambda xs, _ws, _w, _p, _n: xs[0],
    z3.Z3_OP_SIGN_EXT: lambda xs, ws, w, _p, _n: _mask(_signed(xs[0], ws[0]), w),
    z3.Z3_OP_BSHL: _shift("shl"),
    z3.Z3_OP_BLSHR: _shift("lshr"),
    z3.Z3_OP_BASHR: _shift("ashr"),
}


class Amplifier:
    """Every candidate that some real step breaks from the pre-state of a solver's model.

    The pre-state (frame 0 of the model) satisfies every candidate Houdini still assumes, so a
    candidate false after any explicit step from it is not inductive, as surely as the one the
    solver named.  Steps that halt (their path ends: KASSERT, use after free) are not moves of
    the encoding and are skipped, as is any step whose Python raises or whose post-state does
    not fit the layout.  If the decoded pre-state fails a candidate the solver says it
    satisfies, the decoding is not to be trusted and nothing is added."""

    def __init__(self, model: Any, layout: Any, x0: list[z3.BitVecRef], formulas: list[z3.BoolRef],
                 renamings: list[Callable[[Any], Any]] = ()) -> None:
        self.model, self.layout, self.x0 = model, layout, x0
        self.renamings = list(renamings)
        self.eval = Evaluator(formulas, x0)
        w = layout.width
        self.lo, self.hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        self.dropped = 0  # candidates dropped here beyond those the solver's model broke

    def broken(self, m: z3.ModelRef, alive: list[int]) -> set[int]:
        lay = self.layout
        pre_vals = [m.eval(x, model_completion=True).as_signed_long() for x in self.x0]
        pre = lay.state_of(pre_vals)
        if lay.values(pre) != pre_vals:
            return set()
        pres = [pre]
        for r in self.renamings:
            try:
                pres.append(r(pre))
            except Exception:  # noqa: BLE001 - a pre-state no renaming applies to
                pass
        pres = list(dict.fromkeys(pres))  # a state its renamings fix is stepped once
        ok_pre = self.eval.holds(np.array([lay.values(p) for p in pres], dtype=np.int64))[:, alive].all(axis=1)
        if not ok_pre[0]:
            return set()  # the decoding disagrees with the solver: trust neither
        if not self.eval.known[alive].all():
            ok_pre[1:] = False  # a renamed pre-state must be shown to satisfy every survivor
        rows = []
        for p in (p for p, good in zip(pres, ok_pre) if good):  # a renamed pre-state no survivor rules out
            rows += self._successors(p)
        if not rows:
            return set()
        ok = self.eval.holds(np.array(rows, dtype=np.int64))[:, alive]
        out = {alive[i] for i in np.flatnonzero(~ok.all(axis=0))}
        self.dropped += len(out)
        return out

    def _successors(self, pre: Any) -> list[list[int]]:
        lay, model = self.layout, self.model
        try:
            moves = list(model.enabled(pre))
        except Exception:  # noqa: BLE001 - no trustworthy moves from here
            return []
        rows = []
        for a, lb, c in moves:
            try:
                tr = model.step(pre, a, lb, c, canonical=False)
                if tr.halts:
                    continue
                vals = lay.values(tr.target)
            except Exception:  # noqa: BLE001 - a step the encoding calls SPEC-ERROR: not a move
                continue
            if all(self.lo <= v <= self.hi for v in vals) and lay.state_of(vals) == tr.target:
                rows.append(vals)
        return rows


def amplifier_for(model: Any, layout: Any, x0: list[z3.BitVecRef]) -> Callable[[list[z3.BoolRef]], Amplifier]:
    """What ``houdini(explicit=...)`` takes: an ``Amplifier`` over frame ``x0`` that also steps
    the pre-state's images under every renaming of interchangeable threads (``family``), so one
    counterexample about copy 0 drops the same candidate about every copy."""
    from .family import Transport, thread_maps

    ident = tuple(range(len(model.sc.threads)))
    renamings = [Transport(model, model, tm) for tm in thread_maps(model.sc, model.sc) if tm.threads != ident]
    return lambda formulas: Amplifier(model, layout, x0, formulas, renamings)


def step_targets(enc: Any, values: np.ndarray) -> list[set[tuple]]:
    """What the encoding's steps do from each of a batch of concrete pre-states (rows of
    ``Layout.values``): per state, (actor, label, post-state values) for every path whose guard
    holds, or (actor, label, "halt") and (actor, label, "SPEC-ERROR") for the paths that end so.
    The encoding read back explicitly, so that it can be compared with the spec run explicitly
    (``commute.OnProjection`` on projections)."""
    values = np.asarray(values, dtype=np.int64)
    out: list[set[tuple]] = [set() for _ in range(len(values))]
    guards = Evaluator([st.guard for st in enc.steps], enc.xs)
    if not guards.known.all():
        raise ValueError("a step's guard uses an operator concrete.py does not evaluate")
    on = guards.holds(values)
    for k, st in enumerate(enc.steps):
        rows = np.flatnonzero(on[:, k])
        if not len(rows):
            continue
        if st.halts:
            end = "SPEC-ERROR" if st.halts == "SPEC-ERROR" else "halt"
            for i in rows:
                out[i].add((st.actor, st.label, end))
            continue
        for i, post in zip(rows, Evaluator(st.post, enc.xs).terms(values[rows])):
            out[i].add((st.actor, st.label, tuple(post.tolist())))
    return out
