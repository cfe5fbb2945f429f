"""Partial-order reduction for the unrolling: independent steps are taken in one order only.

Two guarded updates are *independent* when neither writes a variable the other reads or
writes (the variables of its guard and of the terms it writes).  Then, from any state where
both can be taken, taking them in either order is possible and ends in the same state, and
taking one does not enable or disable the other.  Two runs that differ only by swapping such
adjacent steps are the same concurrent behaviour (a Mazurkiewicz trace); BMC need look at
one of them.

The moves are grouped into *classes* (moves with the same read and write sets; two moves of
one class are never independent, since both write their actor's program counter), numbered
in a fixed order.  The unrolling then forbids, for steps i and i+1, a class followed by an
independent class of a lower number.  Every run has a representative that obeys this: swap
adjacent independent steps that are out of order until none is (each swap removes one
inversion, so this ends).  The representative has the same length and ends in the same
state, and each of its states is reachable, so BMC with the reduction finds every reachable
state at the same depth, hence every invariant, end or step-from-a-state violation at its
shortest depth.  A property of the *last* step (two-state: D1, D2-STICKY) needs that step
untouched: the constraint on steps i and i+1 is added only once frames past i + 2 are asked
about (``Unroller.step``).  This is BMC "with process semantics" (Heljanko, Jussila).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import z3

from .houdini import constants


@dataclass
class Independence:
    """The classes of the moves and which pairs of classes are independent."""

    of_move: list[int]  # move number -> class number
    classes: list[list[int]]  # class number -> its moves
    independent: np.ndarray  # classes x classes, symmetric, False on the diagonal

    def forbidden(self) -> list[tuple[int, int]]:
        """(a, b) with a > b and a, b independent: "a then b" is the order left out."""
        a, b = np.nonzero(np.tril(self.independent, -1))
        return list(zip(a.tolist(), b.tolist()))


def independence(xs: list[z3.BitVecRef], guards: list[z3.BoolRef],
                 writers: list[list[tuple[int, z3.ExprRef]]]) -> Independence:
    """Read and write sets of each move, grouped into classes.

    ``guards[k]`` is move k's guard; ``writers[v]`` lists (move, new value) for the moves
    that write variable v (``Unroller.writers``: a term that may leave it unchanged still
    counts, which only makes fewer pairs independent)."""
    slot = {x.get_id(): v for v, x in enumerate(xs)}
    memo: dict[int, frozenset[int]] = {}
    n, nv = len(guards), len(xs)
    reads = np.zeros((n, nv), bool)
    writes = np.zeros((n, nv), bool)
    used = [set(constants(g, memo)) for g in guards]
    for v, ws in enumerate(writers):
        for k, t in ws:
            writes[k, v] = True
            used[k] |= constants(t, memo)
    for k in range(n):
        reads[k, [slot[i] for i in used[k] if i in slot]] = True
    key: dict[bytes, int] = {}
    of_move = []
    for k in range(n):
        of_move.append(key.setdefault(reads[k].tobytes() + writes[k].tobytes(), len(key)))
    classes: list[list[int]] = [[] for _ in key]
    for k, c in enumerate(of_move):
        classes[c].append(k)
    first = [ms[0] for ms in classes]
    touch = (reads[first] | writes[first]).astype(np.float32)
    w = writes[first].astype(np.float32)
    dependent = (w @ touch.T > 0) | (touch @ w.T > 0)
    np.fill_diagonal(dependent, True)
    return Independence(of_move, classes, ~dependent)


class Reduction:
    """Per frame, one boolean per class ("step i is a move of class c"), and the order
    constraint between consecutive steps."""

    def __init__(self, ind: Independence) -> None:
        self.ind = ind
        self.pairs = ind.forbidden()

    def class_literals(self, sel: z3.BitVecRef, tag: str) -> tuple[list[z3.BoolRef], z3.BoolRef]:
        """Booleans naming the class of the move ``sel`` selects, and their definition."""
        lits = [z3.Bool(f"cls{c}@{tag}") for c in range(len(self.ind.classes))]
        defs = [lit == z3.Or(*[sel == m for m in ms]) for lit, ms in zip(lits, self.ind.classes)]
        return lits, z3.And(*defs)

    def order(self, before: list[z3.BoolRef], after: list[z3.BoolRef]) -> z3.BoolRef:
        """Step i (classes ``before``) is not an independent class above step i+1's."""
        return z3.And(*[z3.Or(z3.Not(before[a]), z3.Not(after[b])) for a, b in self.pairs])
