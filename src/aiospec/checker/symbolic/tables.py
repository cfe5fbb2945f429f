"""Indexing by a symbolic value without forking: records and scenario tables as z3 arrays.

``v.jobs[j]`` with a symbolic ``j`` would otherwise fork once per job.  A ``SymTable``
answers with a row whose reads are ``If(j == 0, r0, If(j == 1, r1, ...))`` and whose writes
update every record under ``j == k``: the array theory spelled out for small arrays.  The
scenario's static tables (``sc.slots``) are handled the same way for the columns the
steps compare or compute with; anything else concretizes the index (one fork per value).
"""

from __future__ import annotations

from typing import Any

import z3

from .values import SymBool, SymInt, _bv, _num


def _in_range(i: SymInt, n: int) -> None:
    if not (0 <= i) or not (i < n):  # decisions: out of range is an IndexError path, as in Python
        raise IndexError("symbolic index out of range")


class SymTable(list):
    """The View's list of records (each a list), indexable by a SymInt."""

    def __getitem__(self, i):
        if isinstance(i, SymInt):
            _in_range(i, len(self))
            return _Row(self, i)
        return super().__getitem__(i)


class _Row:
    """Record ``table[i]`` for a symbolic i: reads merge, writes guard every record."""

    __slots__ = ("t", "i")

    def __init__(self, t: SymTable, i: SymInt):
        self.t, self.i = t, i

    def __getitem__(self, f: int):
        ex, w = self.i.ex, self.i.ex.width
        rows = list.__iter__(self.t)
        acc = None
        for k, r in enumerate(rows):
            v = _bv(r[f], w)
            acc = v if acc is None else z3.If(self.i.e == k, v, acc)
        e = z3.simplify(acc)
        n = _num(e)
        return n if n is not None else SymInt(e, ex)

    def __setitem__(self, f: int, val) -> None:
        w = self.i.ex.width
        for k, r in enumerate(list.__iter__(self.t)):
            e = z3.simplify(z3.If(self.i.e == k, _bv(val, w), _bv(r[f], w)))
            n = _num(e)
            r[f] = n if n is not None else SymInt(e, self.i.ex)

    def __len__(self) -> int:
        return len(list.__getitem__(self.t, 0))

    def __iter__(self):
        return (self[f] for f in range(len(self)))


class SymStatic(tuple):
    """A static table of the scenario (``sc.slots``) indexable by a SymInt."""

    def __getitem__(self, i):
        if isinstance(i, SymInt):
            _in_range(i, len(self))
            return _StaticRow(self, i)
        return super().__getitem__(i)


class _StaticRow:
    __slots__ = ("_t", "_i")

    def __init__(self, t: SymStatic, i: SymInt):
        self._t, self._i = t, i

    def __getattr__(self, name: str) -> Any:
        vals = [getattr(r, name) for r in tuple.__iter__(self._t)]
        if all(v == vals[0] for v in vals):
            return vals[0]
        if all(isinstance(v, int) for v in vals):
            i = self._i
            acc = None
            for k, v in enumerate(vals):
                acc = z3.BitVecVal(int(v), i.ex.width) if acc is None else z3.If(i.e == k, z3.BitVecVal(int(v), i.ex.width), acc)
            e = z3.simplify(acc)
            n = _num(e)
            return n if n is not None else SymInt(e, i.ex)
        if all(isinstance(v, str) for v in vals):
            return _StaticStr(self._i, vals)
        return vals[self._i.__index__()]  # anything else: concretize the index


class _StaticStr:
    """A string column read at a symbolic row: compares without forking, else concretizes."""

    __slots__ = ("i", "vals")

    def __init__(self, i: SymInt, vals: list[str]):
        self.i, self.vals = i, vals

    def _eq(self, o) -> SymBool | bool:
        if isinstance(o, _StaticStr):
            o = o.value()
        ks = [k for k, v in enumerate(self.vals) if v == o]
        e = z3.simplify(z3.Or(*[self.i.e == k for k in ks]) if ks else z3.BoolVal(False))
        return True if z3.is_true(e) else False if z3.is_false(e) else SymBool(e, self.i.ex)

    def __eq__(self, o):  # type: ignore[override]
        return self._eq(o)

    def __ne__(self, o):  # type: ignore[override]
        r = self._eq(o)
        return (not r) if isinstance(r, bool) else ~r

    def value(self) -> str:
        return self.vals[self.i.__index__()]

    def __hash__(self) -> int:  # a dict lookup needs the value: concretize (fork per row)
        return hash(self.value())

    def __str__(self) -> str:  # messages are not worth a fork: name the candidates
        return "|".join(dict.fromkeys(self.vals))

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self)
