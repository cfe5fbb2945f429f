"""k-induction on top of the inductive strengthening, for what plain induction leaves open.

Houdini's survivors are an inductive invariant I: every reachable state satisfies it.  A
target P that I does not imply gets a counterexample to induction whose pre-state satisfies
I but may be unreachable.  k-induction asks for more history before the failure: a path of
distinct states s0 .. sn, each satisfying I, P holding on all but the last (or on every
step but the last), and P failing at the end.  If no such path exists (the *step*) and no
run of fewer steps from the initial state breaks P (the *base*), P holds at every depth:
a shortest run to a violation is a simple path, and its last n+1 states, all reachable and
so all satisfying I, would be such a path.

Both checks run on the encoding ``prove`` already trusts: it assumed only facts among the
survivors, so it is exact on every state that satisfies I, and each frame here does.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from .bmc import Unroller
from .encode import Encoding
from .rename import Renamer


@dataclass
class KResult:
    k: int
    result: str  # proved | violated | not inductive | unknown
    detail: str = ""
    frame: int = 0  # for "not inductive": the step that breaks it starts at this frame of ``model``
    model: z3.ModelRef | None = None
    core: list[z3.BoolRef] | None = None  # for "proved" with ``assume``: the assumptions the step case used


def bad_at(enc: Encoding, un: Unroller, name: str, i: int) -> z3.BoolRef:
    """``name`` fails at frame i: the state (an invariant), a step from it (a step or event
    property), or the step from frame i-1 into it (a two-state property)."""
    if name in enc.invariants:
        return un.sub(enc.invariants[name], i)
    if name in enc.step_props:
        return un.sub(enc.step_props[name], i)
    if name in enc.pairs:
        return z3.substitute(enc.pairs[name], *zip(enc.xs, un.frames[i - 1]), *zip(enc.ys, un.frames[i]))
    raise KeyError(name)


def _span(enc: Encoding, name: str, k: int) -> tuple[int, int]:
    """(first frame where ``name`` can fail, the frame where the k-step CTI fails).  k = 1 is
    plain induction: one step for a state or two-state property, none for a property of the
    steps out of a state."""
    if name in enc.step_props:
        return 0, k - 1
    return (1 if name in enc.pairs else 0), k


def k_induction(enc: Encoding, un: Unroller, survivors: list[z3.BoolRef], name: str, k: int,
                init: z3.BoolRef, timeout_ms: int = 120_000,
                assume: list[z3.BoolRef] | None = None) -> KResult:
    """Whether ``name`` is k-inductive relative to ``survivors`` (formulas over ``un``'s
    frame 0), with the base case checked by BMC from ``init`` (over frame 0).  ``assume``:
    literals the survivors are guarded by (``minimize``); the step case is checked under them,
    and a proof says which it used (``KResult.core``)."""
    first, last = _span(enc, name, k)
    while len(un.frames) <= last:
        un.step()
    at = [Renamer(list(zip(un.frames[0], un.frames[i]))) for i in range(last + 1)]
    s = z3.SolverFor("QF_BV")
    s.set("timeout", timeout_ms)
    s.add(*un.trans[:last])
    for i in range(last + 1):
        s.add(*[at[i](f) for f in survivors])
    s.add(*[z3.Not(bad_at(enc, un, name, i)) for i in range(first, last)])
    distinct = last if name in enc.pairs else last + 1  # a bad step may lead back to an earlier state
    for i in range(distinct):
        for j in range(i + 1, distinct):
            s.add(z3.Or(*[a != b for a, b in zip(un.frames[i], un.frames[j])]))
    s.add(bad_at(enc, un, name, last))
    r = s.check(*(assume or ()))
    core = list(s.unsat_core()) if r == z3.unsat and assume else None
    if r == z3.sat:
        return KResult(k, "not inductive", f"a path of {k} steps from strengthened states breaks it",
                       frame=last if name in enc.step_props else last - 1, model=s.model())
    if r == z3.unknown:
        return KResult(k, "unknown", f"solver: {r} on the {k}-step induction")
    base = z3.SolverFor("QF_BV")  # no run of fewer steps breaks it
    base.set("timeout", timeout_ms)
    base.add(init)
    for i in range(last):
        if i >= first:
            r = base.check(bad_at(enc, un, name, i))
            if r == z3.sat:  # counted as BMC counts: the violating step included
                steps = i + 1 if name in enc.step_props else i
                return KResult(k, "violated", f"a run of {steps} steps from the initial state breaks it")
            if r != z3.unsat:
                return KResult(k, "unknown", f"solver: {r} on the base case at depth {i}")
        base.add(un.trans[i])
    return KResult(k, "proved", f"{k}-inductive, and no run of fewer steps breaks it", core=core)
