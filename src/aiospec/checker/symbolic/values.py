"""Symbolic values that let the spec's own Python step bodies run on z3 terms.

The spec's steps are ordinary Python over small integers.  To encode them for z3 without
writing the model a second time, we run the same bodies on ``SymInt``/``SymBool`` values:
arithmetic and bit operations build z3 terms, and wherever Python needs a concrete answer
(an ``if``, ``and``/``or``/``not``, a list index, a hash) the value asks the current
``PathExplorer`` to *decide*.  The explorer forks: every feasible answer is a separate path,
found by re-running the body with a different sequence of decisions (depth-first, pruned
by z3 so infeasible branches are never followed).  A path is then a guard (the conjunction
of its decisions) and the final values it computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import z3


class PathLimit(Exception):
    """A body forked into more paths than the caller allowed."""


def _bv(x: Any, width: int) -> z3.BitVecRef:
    if isinstance(x, SymInt):
        return x.e
    if isinstance(x, SymBool):
        return z3.If(x.e, z3.BitVecVal(1, width), z3.BitVecVal(0, width))
    if isinstance(x, bool):
        return z3.BitVecVal(int(x), width)
    return z3.BitVecVal(int(x), width)


def _num(e: z3.ExprRef) -> int | None:
    if z3.is_bv_value(e):
        return e.as_signed_long()
    return None


class SymInt:
    """A machine integer of the model (two's complement of the encoding's width)."""

    __slots__ = ("e", "ex")

    def __init__(self, e: z3.BitVecRef, ex: "PathExplorer"):
        self.e = e
        self.ex = ex

    # -- construction ------------------------------------------------------------------
    def _wrap(self, e: z3.ExprRef) -> "SymInt | int":
        e = z3.simplify(e)
        n = _num(e)
        return n if n is not None else SymInt(e, self.ex)

    def _o(self, other: Any) -> z3.BitVecRef | None:
        if isinstance(other, (int, SymInt, SymBool)):
            return _bv(other, self.ex.width)
        return None

    def _bool(self, e: z3.BoolRef) -> "SymBool | bool":
        e = z3.simplify(e)
        if z3.is_true(e):
            return True
        if z3.is_false(e):
            return False
        return SymBool(e, self.ex)

    # -- arithmetic and bits -------------------------------------------------------------
    def __add__(self, o): return self._wrap(self.e + self._o(o))
    def __radd__(self, o): return self._wrap(self._o(o) + self.e)
    def __sub__(self, o): return self._wrap(self.e - self._o(o))
    def __rsub__(self, o): return self._wrap(self._o(o) - self.e)
    def __mul__(self, o): return self._wrap(self.e * self._o(o))
    def __rmul__(self, o): return self._wrap(self._o(o) * self.e)
    def __and__(self, o): return self._wrap(self.e & self._o(o))
    def __rand__(self, o): return self._wrap(self._o(o) & self.e)
    def __or__(self, o): return self._wrap(self.e | self._o(o))
    def __ror__(self, o): return self._wrap(self._o(o) | self.e)
    def __xor__(self, o): return self._wrap(self.e ^ self._o(o))
    def __rxor__(self, o): return self._wrap(self._o(o) ^ self.e)
    def __invert__(self): return self._wrap(~self.e)
    def __neg__(self): return self._wrap(-self.e)
    def __lshift__(self, o): return self._wrap(self.e << self._o(o))
    def __rlshift__(self, o): return self._wrap(self._o(o) << self.e)
    def __rshift__(self, o): return self._wrap(self.e >> self._o(o))
    def __rrshift__(self, o): return self._wrap(self._o(o) >> self.e)

    # -- comparisons ---------------------------------------------------------------------
    def __eq__(self, o):  # type: ignore[override]
        x = self._o(o)
        return NotImplemented if x is None else self._bool(self.e == x)

    def __ne__(self, o):  # type: ignore[override]
        x = self._o(o)
        return NotImplemented if x is None else self._bool(self.e != x)

    def __lt__(self, o): return self._bool(self.e < self._o(o))
    def __le__(self, o): return self._bool(self.e <= self._o(o))
    def __gt__(self, o): return self._bool(self.e > self._o(o))
    def __ge__(self, o): return self._bool(self.e >= self._o(o))

    def member(self, values) -> "SymBool | bool":
        """``self in values`` as one condition (see ``spec.state.member``)."""
        return self._bool(z3.Or(*[self.e == int(v) for v in values]) if values else z3.BoolVal(False))

    def ite(self, a, b):
        return (self != 0).ite(a, b) if isinstance(self != 0, SymBool) else (a if self != 0 else b)

    # -- where Python needs a concrete value: decide -----------------------------------
    def __bool__(self) -> bool:
        return self.ex.decide(self.e != 0)

    def __index__(self) -> int:
        return self.ex.concretize(self.e)

    __int__ = __index__

    def __hash__(self) -> int:
        return hash(self.ex.concretize(self.e))

    def __repr__(self) -> str:  # messages only: printing a merged term would cost more than the step
        return f"<symbolic #{self.e.get_id()}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


class SymBool:
    """A condition over the state; ``bool()`` of it is a decision (a fork)."""

    __slots__ = ("e", "ex")

    def __init__(self, e: z3.BoolRef, ex: "PathExplorer"):
        self.e = e
        self.ex = ex

    def __bool__(self) -> bool:
        return self.ex.decide(self.e)

    def __index__(self) -> int:
        return int(self.ex.decide(self.e))

    __int__ = __index__

    def __hash__(self) -> int:
        return hash(self.__index__())

    def _as_int(self) -> SymInt:
        w = self.ex.width
        return SymInt(z3.If(self.e, z3.BitVecVal(1, w), z3.BitVecVal(0, w)), self.ex)

    def ite(self, a, b):
        """``a if self else b`` as a term (see ``spec.state.ite``)."""
        w = self.ex.width
        e = z3.simplify(z3.If(self.e, _bv(a, w), _bv(b, w)))
        n = _num(e)
        return n if n is not None else SymInt(e, self.ex)

    def _logic(self, o, op):
        if isinstance(o, bool):
            o = z3.BoolVal(o)
        elif isinstance(o, SymBool):
            o = o.e
        else:
            return NotImplemented
        e = z3.simplify(op(self.e, o))
        return True if z3.is_true(e) else False if z3.is_false(e) else SymBool(e, self.ex)

    def __eq__(self, o):  # type: ignore[override]
        return self._as_int() == o

    def __ne__(self, o):  # type: ignore[override]
        return self._as_int() != o

    def __add__(self, o): return self._as_int() + o
    def __radd__(self, o): return o + self._as_int()

    def __and__(self, o):
        r = self._logic(o, z3.And)
        return self._as_int() & o if r is NotImplemented else r

    def __or__(self, o):
        r = self._logic(o, z3.Or)
        return self._as_int() | o if r is NotImplemented else r

    __rand__ = __and__
    __ror__ = __or__

    def __invert__(self):
        return SymBool(z3.Not(self.e), self.ex)

    def __repr__(self) -> str:  # messages only: printing a merged term would cost more than the step
        return f"<symbolic #{self.e.get_id()}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


@dataclass
class Path:
    """One way through a body: its guard (list of decided conditions) and its outcome."""

    conds: list[z3.BoolRef]
    result: Any
    error: BaseException | None = None

    @property
    def guard(self) -> z3.BoolRef:
        return z3.And(*self.conds) if self.conds else z3.BoolVal(True)


@dataclass
class PathExplorer:
    """Runs a body once per feasible sequence of decisions.

    ``assume`` constrains the symbolic inputs (the domain of each state variable); z3 prunes
    every branch that contradicts it or the decisions taken so far.
    """

    width: int
    assume: list[z3.BoolRef] = field(default_factory=list)
    max_paths: int = 200_000
    solver_checks: int = 0
    run_cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # per run: the decisions to replay, each (condition, value, other side still to explore)
        self._prefix: list[tuple] = []  # (condition, value, other side to explore, concrete value or None)
        self._taken: list[tuple] = []
        self._unasserted: list[z3.BoolRef] = []  # decisions taken but not yet on the solver
        self._pushes = 0  # solver scopes this run opened for its decisions
        self._base: z3.Solver | None = None
        self._solver = z3.Solver()
        self._model: z3.ModelRef | None = None

    def decide(self, c: z3.BoolRef) -> bool:
        c = z3.simplify(c)
        if z3.is_true(c):
            return True
        if z3.is_false(c):
            return False
        i = len(self._taken)
        if i < len(self._prefix):  # replaying a known prefix
            rc, val, other, cv = self._prefix[i]
            self._push(rc, val, other, cv)
            self._model = None
            return val
        model = self._current_model()
        val = z3.is_true(model.eval(c, model_completion=True))  # this side is feasible: the model shows it
        other = self._check(z3.Not(c) if val else c)
        self._push(c, val, other)
        return val

    def _current_model(self) -> z3.ModelRef:
        self._assert_taken()
        if self._model is None:
            self.solver_checks += 1
            if self._solver.check() != z3.sat:
                raise RuntimeError("symbolic path became infeasible")
            self._model = self._solver.model()
        return self._model

    def _push(self, c: z3.BoolRef, val: bool, other: bool, cv: int | None = None) -> None:
        self._taken.append((c, val, other, cv))
        self._unasserted.append(c if val else z3.Not(c))

    def _assert_taken(self) -> None:
        """Put the decisions taken since the last solver call on the solver, in one scope.  A run
        replays its prefix without asking the solver anything, and the scopes are only ever
        popped all at once when the run ends: one push per solver call instead of one per
        decision (on `default`, 92,666 pushes took 9 s of a 60 s encoding)."""
        if self._unasserted:
            self._solver.push()
            self._solver.add(*self._unasserted)
            self._pushes += 1
            self._unasserted = []

    def _check(self, c: z3.BoolRef) -> bool:
        self.solver_checks += 1
        self._assert_taken()
        self._solver.push()
        self._solver.add(c)
        r = self._solver.check()
        self._solver.pop()
        return r != z3.unsat

    def concretize(self, e: z3.ExprRef) -> int:
        """A concrete value of ``e`` on this path: one decision ``e == v`` per candidate."""
        e = z3.simplify(e)
        n = _num(e)
        if n is not None:
            return n
        while True:
            i = len(self._taken)
            if i < len(self._prefix):  # replay: the candidate is the recorded one
                cond, _, _, v = self._prefix[i]
                if self.decide(cond):
                    return v
                continue
            v = self._current_model().eval(e, model_completion=True).as_signed_long()
            cond = z3.simplify(e == v)
            n0 = len(self._taken)
            hit = self.decide(cond)
            if len(self._taken) > n0:
                self._taken[-1] = self._taken[-1][:3] + (v,)
            if hit:
                return v

    def explore(self, body: Callable[["PathExplorer"], Any], given: z3.BoolRef | None = None) -> list[Path]:
        """Every feasible path of ``body`` (deterministic given the decisions), under ``given``."""
        paths: list[Path] = []
        self._prefix = []
        if self._base is None:
            self._base = z3.Solver()
            self._base.add(*self.assume)
        self._solver = self._base
        self._solver.push()
        if given is not None:
            self._solver.add(given)
        try:
            while True:
                self._taken = []
                self._unasserted = []
                self._pushes = 0
                self.run_cache = {}
                self._model = None
                self._solver.push()
                err = None
                try:
                    result = body(self)
                except (RecursionError, MemoryError, PathLimit):
                    raise
                except Exception as e:  # noqa: BLE001 - a Python error on a path is kept with the path
                    result, err = None, e
                finally:
                    self._solver.pop(self._pushes + 1)
                paths.append(Path([c if v else z3.Not(c) for c, v, _, _ in self._taken], result, err))
                if len(paths) > self.max_paths:
                    raise PathLimit(f"more than {self.max_paths} paths")
                k = len(self._taken) - 1  # backtrack to the deepest decision with an unexplored side
                while k >= 0 and not self._taken[k][2]:
                    k -= 1
                if k < 0:
                    return paths
                c, v, _, cv = self._taken[k]
                self._prefix = self._taken[:k] + [(c, not v, False, cv)]
        finally:
            self._solver.pop()
