"""One substitution applied to many formulas, without z3.substitute's per-call checks.

``z3.substitute`` re-checks the sort of every pair on every call, in Python.  Renaming tens
of thousands of candidate lemmas into a frame with hundreds of variables spent minutes
there; a ``Renamer`` checks once and then calls the C API directly.
"""

from __future__ import annotations

import z3
from z3.z3 import _to_expr_ref


class Renamer:
    """Replace each ``old`` by its ``new`` (same sorts, checked once)."""

    def __init__(self, pairs: list[tuple[z3.ExprRef, z3.ExprRef]]) -> None:
        for a, b in pairs:
            if not a.sort().eq(b.sort()):
                raise z3.Z3Exception(f"cannot substitute {a} ({a.sort()}) by {b} ({b.sort()})")
        self._pairs = list(pairs)  # keeps the terms (and so the ASTs in the arrays) alive
        n = len(self._pairs)
        self._n = n
        self._from = (z3.Ast * n)()
        self._to = (z3.Ast * n)()
        for k, (a, b) in enumerate(self._pairs):
            self._from[k] = a.as_ast()
            self._to[k] = b.as_ast()
        self._ctx = self._pairs[0][0].ctx if self._pairs else z3.main_ctx()

    def __call__(self, f: z3.ExprRef) -> z3.ExprRef:
        if not self._n:
            return f
        return _to_expr_ref(z3.Z3_substitute(self._ctx.ref(), f.as_ast(), self._n, self._from, self._to),
                               self._ctx)
