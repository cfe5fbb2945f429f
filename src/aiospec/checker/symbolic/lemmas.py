"""Candidate lemmas for induction, mined from the reachable states (Daikon/Houdini style).

The spec's own invariants are rarely inductive on their own: a state that satisfies them
may still pair, say, a daemon at D_COMPLETE with a job it never selected.  Induction needs
the facts that tie program counters, flags and list membership together.  We guess them
from the explicit state space of the scenario and let z3 decide which ones are inductive:

- *atoms*: ``v == c`` for every variable and value it takes, and ``job j on list q``;
- *candidates*: the set of values each variable takes; ``a -> b`` for a control atom ``a`` (a program counter, a job's flags or
  allocation, a list membership, the kaioinfo) and any atom ``b``, kept when every reachable
  state satisfies it and some reachable state satisfies ``a``.

Mining only proposes; Houdini (``prove.py``) keeps the largest subset that z3 shows to be
inductive, so a lemma that survives is a proved fact of every reachable state, not a guess.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import z3

from ...spec.model import Model
from ...spec.state import S_ACTORS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LISTS, State
from ...spec.constants import JOBFLAG_NAMES, KAIOFLAG_NAMES
from ...spec.variables import DM, G, J, K, Q, T
from .layout import Layout

CONTROL = {(S_ACTORS, T.PC), (S_ACTORS, T.A), (S_ACTORS, T.B), (S_DAEMONS, DM.PC), (S_DAEMONS, DM.JOB),
           (S_GLOB, G.TASK_PC), (S_GLOB, G.TASK_JOB), (S_JOBS, J.FLAGS), (S_JOBS, J.ALLOC), (S_JOBS, J.G_COMMITTED),
           (S_JOBS, J.CANCEL_FN), (S_KI, -1)}


BITSETS = {(S_JOBS, J.FLAGS): JOBFLAG_NAMES, (S_KI, K.KFLAGS): KAIOFLAG_NAMES}


def reachable_states(model: Model, limit: int = 300_000) -> list[State]:
    """Every state the (non-canonical) model reaches from the initial one, up to ``limit``."""
    s0 = model.initial()
    seen = {s0}
    order = [s0]
    todo = deque([s0])
    while todo:
        s = todo.popleft()
        for a, lb, c in model.enabled(s):
            tr = model.step(s, a, lb, c, canonical=False)
            if tr.halts or tr.target in seen:
                continue
            seen.add(tr.target)
            order.append(tr.target)
            todo.append(tr.target)
            if len(order) >= limit:
                raise OverflowError(f"more than {limit} reachable states: too many to mine lemmas from")
    return order


def show(slot, v: int) -> str:
    """A value as the spec names it: labels for program counters, flag and errno names."""
    from ...spec.actions import LABELS
    from ...spec.constants import JOBFLAG_NAMES, Errno

    if (slot.comp, slot.field) in {(S_ACTORS, T.PC), (S_DAEMONS, DM.PC), (S_GLOB, G.TASK_PC)}:
        return "DONE" if v == -1 else LABELS[v].name if 0 <= v < len(LABELS) else str(v)
    if (slot.comp, slot.field) == (S_JOBS, J.FLAGS):
        return "|".join(n for b, n in JOBFLAG_NAMES.items() if v & b) or "0"
    if (slot.comp, slot.field) == (S_JOBS, J.KERROR):
        try:
            return Errno(v).name
        except ValueError:
            return str(v)
    return str(v)


@dataclass(frozen=True)
class Atom:
    text: str
    control: bool


def mine(model: Model, lay: Layout, states: list[State], xs: list[z3.BitVecRef]) -> list[tuple[str, z3.BoolRef]]:
    """Candidate lemmas (text, formula over ``xs``) true in every state of ``states``."""
    vals = _values(lay, states)
    atoms: list[Atom] = []
    cols: list[np.ndarray] = []
    forms: list[z3.BoolRef] = []
    out = _value_sets(lay, vals, xs)
    for i, slot in enumerate(lay.slots):
        col = vals[:, i]
        if col.min() == col.max():
            continue
        ctl = (slot.comp, slot.field) in CONTROL or (slot.comp == S_KI and (S_KI, -1) in CONTROL) \
            or (slot.comp == S_LISTS and slot.field == -1)
        for v in np.unique(col):
            atoms.append(Atom(f"{slot.name} == {show(slot, int(v))}", ctl))
            cols.append(col == v)
            forms.append(xs[i] == int(v))
        if (slot.comp, slot.field) in BITSETS:  # one atom per flag: "has FINISHED", "lacks CANCELLING"
            for b, bname in BITSETS[(slot.comp, slot.field)].items():
                has = (col & b) != 0
                if has.all() or not has.any():
                    continue
                for val, word in ((True, "has"), (False, "lacks")):
                    atoms.append(Atom(f"{slot.name} {word} {bname}", ctl))
                    cols.append(has if val else ~has)
                    forms.append((xs[i] & b) != 0 if val else (xs[i] & b) == 0)
    nj = len(model.sc.slots)
    for q in range(Q.width):
        if lay.caps[q] == 0:
            continue
        ln = lay.index[(S_LISTS, q, -1)]
        for j in range(nj if q != Q.LIOS else model.sc.lio_count):
            hit = np.zeros(len(states), dtype=bool)
            f = []
            for i in range(lay.caps[q]):
                e = lay.index[(S_LISTS, q, i)]
                hit |= (vals[:, ln] > i) & (vals[:, e] == j)
                f.append(z3.And(xs[ln] > i, xs[e] == j))
            if hit.all() or not hit.any():
                continue
            name = Q.vars[q].c_name
            atoms.append(Atom(f"{j} on {name}", True))
            cols.append(hit)
            forms.append(z3.Or(*f))
            atoms.append(Atom(f"{j} not on {name}", True))
            cols.append(~hit)
            forms.append(z3.Not(z3.Or(*f)))
    if not atoms:
        return out
    m = np.stack(cols, axis=1)  # states x atoms
    ctl = [k for k, a in enumerate(atoms) if a.control]
    a_mat = m[:, ctl].astype(np.int32)
    not_b = (~m).astype(np.int32)
    broken = a_mat.T @ not_b  # (control atom, atom): states where a holds and b does not
    for r, k in enumerate(ctl):
        for b in np.nonzero(broken[r] == 0)[0]:
            if b == k or atoms[b].text.split(" ")[0] == atoms[k].text.split(" ")[0]:
                continue
            out.append((f"{atoms[k].text} -> {atoms[b].text}", z3.Implies(forms[k], forms[b])))
    # a -> (v in S): the values a variable takes where a control atom holds, when fewer than overall
    for r, k in enumerate(ctl):
        rows = m[:, k]
        for i, slot in enumerate(lay.slots):
            if slot.comp == S_LISTS and slot.field >= 0:
                continue
            sub = np.unique(vals[rows, i])
            if 1 < len(sub) < len(np.unique(vals[:, i])) and len(sub) <= 8:
                out.append((f"{atoms[k].text} -> {slot.name} in {{{', '.join(show(slot, int(v)) for v in sub)}}}",
                            z3.Implies(forms[k], z3.Or(*[xs[i] == int(v) for v in sub]))))
    return out


def value_facts(model: Model, lay: Layout, states: list[State], xs: list[z3.BitVecRef]) -> list[tuple[str, z3.BoolRef]]:
    """The values each variable takes in ``states`` (a constant, a set, or a range): assumed
    while encoding they rule out most impossible forks (``encode(facts=...)``)."""
    return _value_sets(lay, _values(lay, states), xs)


def _values(lay: Layout, states: list[State]) -> np.ndarray:
    return np.array([lay.values(s) for s in states], dtype=np.int64)


def _value_sets(lay: Layout, vals: np.ndarray, xs: list[z3.BitVecRef]) -> list[tuple[str, z3.BoolRef]]:
    out: list[tuple[str, z3.BoolRef]] = []
    for i, slot in enumerate(lay.slots):
        col = vals[:, i]
        seen = [int(v) for v in np.unique(col)]
        if len(seen) == 1:
            out.append((f"{slot.name} == {show(slot, seen[0])}", xs[i] == seen[0]))
        elif len(seen) <= 16:  # the values it takes, not just their range (a pc skips most labels)
            out.append((f"{slot.name} in {{{', '.join(show(slot, v) for v in seen)}}}",
                        z3.Or(*[xs[i] == v for v in seen])))
        else:
            out.append((f"{seen[0]} <= {slot.name} <= {seen[-1]}", z3.And(xs[i] >= seen[0], xs[i] <= seen[-1])))
    return out
