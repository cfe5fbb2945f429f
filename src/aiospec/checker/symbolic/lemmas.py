"""Candidate lemmas for induction, mined from the reachable states (Daikon/Houdini style).

The spec's own invariants are rarely inductive on their own: a state that satisfies them
may still pair, say, a daemon at D_COMPLETE with a job it never selected.  Induction needs
the facts that tie program counters, flags and list membership together.  We guess them
from the explicit state space of the scenario and let z3 decide which ones are inductive:

- *atoms*: ``v == c`` for every variable and value it takes, and ``job j on list q``;
- *candidates*: the set of values each variable takes; ``a -> b`` for a control atom ``a`` (a program counter, a job's flags or
  allocation, a list membership, the kaioinfo) and any atom ``b``, kept when every reachable
  state satisfies it and some reachable state satisfies ``a``;
- *symmetric* ones: what an actor at a position knows of the job it holds, said of the jobs
  it is never seen holding there (``symmetric``).

Mining only proposes; Houdini (``prove.py``) keeps the largest subset that z3 shows to be
inductive, so a lemma that survives is a proved fact of every reachable state, not a guess.
"""

from __future__ import annotations

import gc
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import z3

from ...spec.model import Model
from ...spec.state import S_ACTORS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS, State
from ...spec.constants import JOBFLAG_NAMES, KAIOFLAG_NAMES
from ...spec.variables import DM, G, J, K, L, Q, T
from .layout import Layout

Sample = list[State] | np.ndarray  # states, or their values (``Layout.values_of``) read once by the caller

CONTROL = {(S_ACTORS, T.PC), (S_ACTORS, T.A), (S_ACTORS, T.B), (S_DAEMONS, DM.PC), (S_DAEMONS, DM.JOB),
           (S_GLOB, G.TASK_PC), (S_GLOB, G.TASK_JOB), (S_JOBS, J.FLAGS), (S_JOBS, J.ALLOC), (S_JOBS, J.G_COMMITTED),
           (S_JOBS, J.CANCEL_FN), (S_KI, -1)}


# Counters and numbers: compared with one another and with counts of jobs (derived terms).
NUMERIC = {(S_JOBS, J.SEQNO), (S_JOBS, J.PENDING), (S_KI, K.COUNT), (S_KI, K.ACTIVE), (S_KI, K.BUFFERS),
           (S_GLOB, G.NQUEUE), (S_GLOB, G.JOBSEQNO), (S_LIOS, L.COUNT), (S_LIOS, L.FINISHED)}
COUNTERS = {(S_KI, K.COUNT), (S_KI, K.ACTIVE), (S_KI, K.BUFFERS), (S_GLOB, G.NQUEUE), (S_GLOB, G.JOBSEQNO),
            (S_LIOS, L.COUNT), (S_LIOS, L.FINISHED)}
FEW = 3  # a derived term is worth a lemma when it takes at most this many values

BITSETS = {(S_JOBS, J.FLAGS): JOBFLAG_NAMES, (S_KI, K.KFLAGS): KAIOFLAG_NAMES}


class TooMany(OverflowError):
    """More reachable states than the limit.  ``bfs`` is the breadth-first pass that found out,
    which ``strengthen.sample_states`` goes on from instead of doing it again."""

    def __init__(self, limit: int, bfs: Bfs) -> None:
        super().__init__(f"more than {limit} reachable states: too many to mine lemmas from")
        self.bfs = bfs


@dataclass
class Bfs:
    """A breadth-first pass over the (non-canonical) model, stopped at a limit: the states in the
    order found, the set of them, and the ones not yet expanded."""

    order: list[State]
    seen: set[State]
    todo: deque


def bfs(model: Model, limit: int) -> Bfs:
    """States breadth-first until ``limit`` are found (the state being expanded then is finished)."""
    s0 = model.initial()
    b = Bfs([s0], {s0}, deque([s0]))
    while b.todo and len(b.order) < limit:
        s = b.todo.popleft()
        for a, lb, c in model.enabled(s):
            tr = model.step(s, a, lb, c, canonical=False)
            if not tr.halts and tr.target not in b.seen:
                b.seen.add(tr.target)
                b.order.append(tr.target)
                b.todo.append(tr.target)
    return b


def reachable_states(model: Model, limit: int = 300_000) -> list[State]:
    """Every state the (non-canonical) model reaches from the initial one, if fewer than ``limit``
    (else ``TooMany``)."""
    b = bfs(model, limit)
    if len(b.order) >= limit:
        raise TooMany(limit, b)
    return b.order


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
    slot: int = -1  # for ``v == c``: the variable's index in the layout, and c
    value: int = 0


def _atoms(model: Model, lay: Layout, vals: np.ndarray, xs: list) -> tuple[list, list[Atom], list[np.ndarray], list]:
    """The unconditional lemmas (value sets), and the atoms with their column and formula."""
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
            atoms.append(Atom(f"{slot.name} == {show(slot, int(v))}", ctl, i, int(v)))
            cols.append(col == v)
            forms.append(xs[i] == int(v))
        if (slot.comp, slot.field) in BITSETS:  # one atom per flag: "has FINISHED", "lacks CANCELLING"
            for _, text, c, f in _flag_atoms(slot, col, xs[i], skip_constant=True):
                atoms.append(Atom(text, ctl))
                cols.append(c)
                forms.append(f)
    nj = len(model.sc.slots)
    for q in range(Q.width):
        if lay.caps[q] == 0:
            continue
        for j in range(nj if q != Q.LIOS else model.sc.lio_count):
            member = _membership(lay, vals, xs, q, j)
            if member[0][2].all() or not member[0][2].any():
                continue
            for _, text, c, f in member:
                atoms.append(Atom(text, True))
                cols.append(c)
                forms.append(f)
    for text, col, form in _position_atoms(lay, vals, xs):
        atoms.append(Atom(text, True))
        cols.append(col)
        forms.append(form)
    t_lemmas, t_atoms = _term_lemmas(derived_terms(model, lay, vals, xs))
    out += t_lemmas
    for text, col, form in t_atoms:
        atoms.append(Atom(text, False))
        cols.append(col)
        forms.append(form)
    return out, atoms, cols, forms


def _cooccur(a: np.ndarray, b: np.ndarray, budget: int = 1 << 28) -> np.ndarray:
    """``a.T @ b`` for boolean (state x atom) matrices, as exact counts: in float32 blocks of rows
    (BLAS; numpy's integer product was 25x slower on ``default``), each block short enough
    that its counts are exact in float32, and small enough to stay within ``budget`` bytes."""
    rows = max(1, min(1 << 24, budget // (4 * (a.shape[1] + b.shape[1]))))
    out = np.zeros((a.shape[1], b.shape[1]), dtype=np.int64)
    for lo in range(0, len(a), rows):
        out += (a[lo:lo + rows].T.astype(np.float32) @ b[lo:lo + rows].astype(np.float32)).astype(np.int64)
    return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in here.  Mining makes millions of objects, and each full
    collection walks every state held (a sample of 363,136 on ``race-n`` T=3): mining took
    48 s there with it and 20 s without.  What mining makes has no cycles (ints, tuples,
    numpy arrays, z3 terms), so nothing is left for the collector afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def mine(model: Model, lay: Layout, states: Sample, xs: list[z3.BitVecRef]) -> list[tuple[str, z3.BoolRef]]:
    """Candidate lemmas (text, formula over ``xs``) true in every state of ``states`` (or of
    their ``Layout.values_of``, when the caller reads them once for several uses)."""
    with gc_paused():
        return _mine(model, lay, states, xs)


def _mine(model: Model, lay: Layout, states: Sample, xs: list[z3.BitVecRef]) -> list[tuple[str, z3.BoolRef]]:
    vals = _values(lay, states)
    out, atoms, cols, forms = _atoms(model, lay, vals, xs)
    if not atoms:
        return out
    m = np.stack(cols, axis=1)  # states x atoms
    ctl = [k for k, a in enumerate(atoms) if a.control]
    a_mat = m[:, ctl]
    broken = _cooccur(a_mat, ~m)  # (control atom, atom): states where a holds and b does not
    for r, k in enumerate(ctl):
        for b in np.nonzero(broken[r] == 0)[0]:
            if b == k or atoms[b].text.split(" ")[0] == atoms[k].text.split(" ")[0]:
                continue
            out.append((f"{atoms[k].text} -> {atoms[b].text}", z3.Implies(forms[k], forms[b])))
    # a -> (v in S): the values a variable takes where a control atom holds, when fewer than
    # overall.  Every value of a variable that is not constant has its atom ``v == c``, so the
    # values seen under ``a`` are those whose atom is not always false there: read off ``broken``
    # rather than another pass over the states per (atom, variable).
    held = a_mat.sum(axis=0, dtype=np.int64)  # states where each control atom holds
    by_slot: dict[int, list[int]] = {}
    for b, at in enumerate(atoms):
        if at.slot >= 0:
            by_slot.setdefault(at.slot, []).append(b)
    subs: list[tuple[int, np.ndarray, np.ndarray]] = []  # (variable, its values, which a sees)
    for i, bs in sorted(by_slot.items()):
        if lay.slots[i].comp == S_LISTS and lay.slots[i].field >= 0:
            continue
        seen = broken[:, bs] < held[:, None]  # (control atom, value): some state has both
        n = seen.sum(axis=1)
        subs.append((i, np.array([atoms[b].value for b in bs]), seen & ((n > 1) & (n < len(bs)) & (n <= 8))[:, None]))
    for r, k in enumerate(ctl):
        for i, vs, seen in subs:
            if not seen[r].any():
                continue
            slot, sub = lay.slots[i], vs[seen[r]]
            out.append((f"{atoms[k].text} -> {slot.name} in {{{', '.join(show(slot, int(v)) for v in sub)}}}",
                        z3.Implies(forms[k], z3.Or(*[xs[i] == int(v) for v in sub]))))
    seen = {t for t, _ in out}  # a symmetric fact may be one a run showed already: one candidate
    return out + [c for c in symmetric(model, lay, vals, xs) if c[0] not in seen and not seen.add(c[0])]


# Positions whose local names a job: their lemmas about that job are proposed for every other
# job too (``symmetric``).  An actor's A is a lio entry, not a job, at the lio labels; what is
# proposed there is only a candidate like any other, and Houdini drops what is not inductive.
JOB_POSITIONS = ((S_ACTORS, T.PC, T.A), (S_DAEMONS, DM.PC, DM.JOB), (S_GLOB, G.TASK_PC, G.TASK_JOB))


def _job_facts(lay: Layout, vals: np.ndarray, xs: list, j: int) -> dict[tuple, tuple]:
    """Facts about job ``j``, keyed so that the key does not name it: {key: (text, column, formula)}."""
    out: dict[tuple, tuple] = {}
    for sl in lay.slots:
        if sl.comp != S_JOBS or sl.rec != j:
            continue
        i = lay.index[(S_JOBS, j, sl.field)]
        c = vals[:, i]
        if (S_JOBS, sl.field) in BITSETS:
            for key, text, col, f in _flag_atoms(sl, c, xs[i]):
                out[(key[0], sl.field, key[1])] = (text, col, f)
        else:
            for v in range(sl.lo, min(sl.hi, sl.lo + 16) + 1):
                out[("eq", sl.field, v)] = (f"{sl.name} == {show(sl, v)}", c == v, xs[i] == v)
    for q in range(Q.width):
        if lay.caps[q] == 0 or q == Q.LIOS:
            continue
        for key, text, col, f in _membership(lay, vals, xs, q, j):
            out[(key, q)] = (text, col, f)
    return out


def _flag_atoms(slot, col: np.ndarray, x, skip_constant: bool = False) -> list[tuple]:
    """``has F`` and ``lacks F`` for each flag F of a bitset variable: (key, text, column, formula)."""
    out = []
    for b, bname in BITSETS[(slot.comp, slot.field)].items():
        has = (col & b) != 0
        if skip_constant and (has.all() or not has.any()):
            continue
        out.append((("has", b), f"{slot.name} has {bname}", has, (x & b) != 0))
        out.append((("lacks", b), f"{slot.name} lacks {bname}", ~has, (x & b) == 0))
    return out


def _membership(lay: Layout, vals: np.ndarray, xs: list, q: int, j: int) -> list[tuple]:
    """``j on q`` and ``j not on q``: (key, text, column, formula)."""
    hit, on = _on_list(lay, vals, xs, q, j)
    name = Q.vars[q].c_name
    return [("on", f"{j} on {name}", hit, on), ("off", f"{j} not on {name}", ~hit, z3.Not(on))]


def symmetric(model: Model, lay: Layout, vals: np.ndarray, xs: list) -> list[tuple[str, z3.BoolRef]]:
    """What an actor at a position knows about the job it holds, proposed for the jobs it is never
    seen holding there.  ``exit at CB_COMPLETE for job 2 -> 2 not on aio_jobs`` is mined from the
    states; no state has the exit thread there with job 1, so nothing is said about it, and a
    pre-state that has it (with job 1 still on aio_jobs) breaks A1 on ``default``.  The fact that
    holds for every job seen there is proposed for the others (Houdini decides, as for all).  When
    only one job is ever seen there, ``mine`` says ``pc -> fact`` with no position atom; the
    weaker ``pc & job -> fact`` is proposed too, since the other jobs' pre-states break the first."""
    nj = len(model.sc.slots)
    facts = [_job_facts(lay, vals, xs, j) for j in range(nj)]
    out: list[tuple[str, z3.BoolRef]] = []
    for comp, pc_f, loc_f in JOB_POSITIONS:
        for r in sorted({sl.rec for sl in lay.slots if sl.comp == comp}):
            i, k = lay.index.get((comp, r, pc_f)), lay.index.get((comp, r, loc_f))
            if i is None or k is None:
                continue
            for pc in np.unique(vals[:, i]):
                at = vals[:, i] == pc
                seen = [int(j) for j in np.unique(vals[at, k]) if 0 <= j < nj]
                if not seen or len(seen) == nj:
                    continue
                common = None
                for j0 in seen:
                    rows = at & (vals[:, k] == j0)
                    keys = {key for key, (_, c, _) in facts[j0].items() if c[rows].all()}
                    common = keys if common is None else common & keys
                where = f"{lay.slots[i].name} == {show(lay.slots[i], int(pc))} & {lay.slots[k].name} == "
                for j in range(nj):
                    if j in seen and len(seen) > 1:  # mined already, under the position atom
                        continue
                    a = z3.And(xs[i] == int(pc), xs[k] == j)
                    for key in sorted(common, key=str):
                        text, _, f = facts[j][key]
                        out.append((f"{where}{j} -> {text}", z3.Implies(a, f)))
    return out + _job_ranges(lay, vals, xs, nj)


# Locals that hold a job (or NIL): the current job, the walk's saved successor, the daemon's and
# the sync task's job.
JOB_LOCALS = JOB_POSITIONS + ((S_ACTORS, T.PC, T.B),)


def _job_ranges(lay: Layout, vals: np.ndarray, xs: list, nj: int) -> list[tuple[str, z3.BoolRef]]:
    """``pc -> local is a job`` (or ``a job or NIL``), for every actor, where every actor seen at
    that label holds one there but not every job is seen: the value set says only "job 2", which
    a pre-state holding job 1 breaks, and says nothing of an actor never seen at the label."""
    out: list[tuple[str, z3.BoolRef]] = []
    for comp, pc_f, loc_f in JOB_LOCALS:
        pairs = [(lay.index.get((comp, r, pc_f)), lay.index.get((comp, r, loc_f)))
                 for r in sorted({sl.rec for sl in lay.slots if sl.comp == comp})]
        pairs = [(i, k) for i, k in pairs if i is not None and k is not None]
        held: dict[int, set[int]] = {}
        for i, k in pairs:
            for pc in np.unique(vals[:, i]):
                held.setdefault(int(pc), set()).update(int(v) for v in np.unique(vals[vals[:, i] == pc, k]))
        for pc, vs in sorted(held.items()):
            if len(vs - {-1}) == nj or not vs <= set(range(-1, nj)):
                continue
            what, lo = ("is a job or NIL", -1) if -1 in vs else ("is a job", 0)
            for i, k in pairs:
                here, x = f"{lay.slots[i].name} == {show(lay.slots[i], pc)}", xs[k]
                out.append((f"{here} -> {lay.slots[k].name} {what}",
                            z3.Implies(xs[i] == pc, z3.And(x >= lo, x < nj))))
    return out


def weakenings(model: Model, lay: Layout, states: Sample, xs: list[z3.BitVecRef],
               facts: list[tuple[str, z3.BoolRef]]) -> list[tuple[str, z3.BoolRef]]:
    """Each fact under every control atom, ``a -> fact``: for unconditional lemmas that proved
    not inductive.  A fact true in every reachable state can fail to be inductive while its
    conditional forms are ("job 1 on kaio_done -> its result was never handed out", where
    "never handed out" alone is broken by a pre-state that returns it twice); a constant
    variable has no atoms, so ``mine`` proposes none of them."""
    if not facts:
        return []
    with gc_paused():
        _, atoms, _, forms = _atoms(model, lay, _values(lay, states), xs)
    return [(f"{a.text} -> {text}", z3.Implies(f_a, f)) for text, f in facts
            for a, f_a in zip(atoms, forms) if a.control]


@dataclass(frozen=True)
class Term:
    """A derived integer term: a difference of two numbers, or a counter minus a count of jobs."""

    text: str
    col: np.ndarray  # its value in each state
    form: z3.BitVecRef


def _on_list(lay: Layout, vals: np.ndarray, xs: list, q: int, j: int) -> tuple[np.ndarray, z3.BoolRef]:
    """``j`` is on list ``q``: in each state, and as a formula."""
    ln = lay.index[(S_LISTS, q, -1)]
    hit = np.zeros(len(vals), dtype=bool)
    f = []
    for i in range(lay.caps[q]):
        e = lay.index[(S_LISTS, q, i)]
        hit |= (vals[:, ln] > i) & (vals[:, e] == j)
        f.append(z3.And(xs[ln] > i, xs[e] == j))
    return hit, z3.Or(*f)


def _job_families(model: Model, lay: Layout, vals: np.ndarray, xs: list) -> list[tuple[str, list[np.ndarray], list]]:
    """Per-job predicates a counter may count: (name with {j}, column per job, formula per job)."""
    nj = len(model.sc.slots)
    fams: list[tuple[str, list[np.ndarray], list]] = []

    def field(f: int, pred_np, pred_z3, text: str) -> None:
        cols, forms = [], []
        for j in range(nj):
            i = lay.index[(S_JOBS, j, f)]
            cols.append(pred_np(vals[:, i]))
            forms.append(pred_z3(xs[i]))
        fams.append((text, cols, forms))

    field(J.ALLOC, lambda c: c == 1, lambda x: x == 1, "job[{j}].ALLOC == 1")
    field(J.SEQNO, lambda c: c >= 0, lambda x: x >= 0, "job[{j}].SEQNO >= 0")
    field(J.G_COMMITTED, lambda c: c == 1, lambda x: x == 1, "job[{j}].G_COMMITTED == 1")
    for b, bname in JOBFLAG_NAMES.items():
        field(J.FLAGS, lambda c, b=b: (c & b) != 0, lambda x, b=b: (x & b) != 0, f"job[{{j}}].FLAGS has {bname}")
    for q in range(Q.width):
        if lay.caps[q] == 0 or q == Q.LIOS:
            continue
        on = [_on_list(lay, vals, xs, q, j) for j in range(nj)]
        fams.append((f"{{j}} on {Q.vars[q].c_name}", [h for h, _ in on], [f for _, f in on]))
    return fams


def derived_terms(model: Model, lay: Layout, vals: np.ndarray, xs: list) -> list[Term]:
    """Terms that relate variables: ``x - y`` for two numbers, and ``c - #{j : p(j)}`` for a counter
    ``c`` and a per-job predicate ``p`` (over all jobs, or the members of ``c``'s lio), kept when
    they take few values in the states.  Multi-job scenarios need them: "jobseqno counts the
    numbered jobs", "lioj_count is the members not yet freed, plus one" are not value facts."""
    one = z3.BitVecVal(1, lay.width)
    zero = z3.BitVecVal(0, lay.width)
    out: list[Term] = []
    nums = [i for i, sl in enumerate(lay.slots)
            if (sl.comp, sl.field) in NUMERIC and vals[:, i].min() != vals[:, i].max()]
    for a in range(len(nums)):
        for b in range(a + 1, len(nums)):
            i, k = nums[a], nums[b]
            col = vals[:, i] - vals[:, k]
            if col.min() != col.max():
                out.append(Term(f"{lay.slots[i].name} - {lay.slots[k].name}", col, xs[i] - xs[k]))
    fams = _job_families(model, lay, vals, xs)
    members = {lj: [sl.index for sl in model.sc.slots if sl.lio == lj] for lj in range(model.sc.lio_count)}
    for i, sl in enumerate(lay.slots):
        if (sl.comp, sl.field) not in COUNTERS or vals[:, i].min() == vals[:, i].max():
            continue
        scope = members[sl.rec] if sl.comp == S_LIOS else list(range(len(model.sc.slots)))
        if not scope:
            continue
        for text, cols, forms in fams:
            n = sum(cols[j].astype(np.int64) for j in scope)
            col = vals[:, i] - n
            if len(np.unique(col)) <= FEW:
                who = text.replace("{j}", "j")
                where = "" if sl.comp != S_LIOS else f", j in lio {sl.rec}"
                out.append(Term(f"{sl.name} - #{{j : {who}{where}}}", col,
                                xs[i] - sum((z3.If(forms[j], one, zero) for j in scope), zero)))
    return out


def _term_lemmas(terms: list[Term]) -> tuple[list[tuple[str, z3.BoolRef]], list[tuple[str, np.ndarray, z3.BoolRef]]]:
    """Unconditional lemmas over derived terms, and the atoms ``t == v`` for implications."""
    lemmas: list[tuple[str, z3.BoolRef]] = []
    atoms: list[tuple[str, np.ndarray, z3.BoolRef]] = []
    for t in terms:
        seen = [int(v) for v in np.unique(t.col)]
        if len(seen) <= FEW:
            lemmas.append((f"{t.text} in {{{', '.join(map(str, seen))}}}", z3.Or(*[t.form == v for v in seen])))
            for v in seen:
                atoms.append((f"{t.text} == {v}", t.col == v, t.form == v))
        elif seen[0] >= 0:
            lemmas.append((f"{t.text} >= {seen[0]}", t.form >= seen[0]))
        elif seen[-1] <= 0:
            lemmas.append((f"{t.text} <= {seen[-1]}", t.form <= seen[-1]))
    return lemmas, atoms


# An actor's position is its program counter together with the local that says which job or
# entry it works on: "T1 at SUB_SCHED for entry 0" and "for entry 1" need different lemmas.
POSITIONS = ((S_ACTORS, T.PC, T.A), (S_ACTORS, T.PC, T.CALL), (S_DAEMONS, DM.PC, DM.JOB),
             (S_GLOB, G.TASK_PC, G.TASK_JOB))


def _position_atoms(lay: Layout, vals: np.ndarray, xs: list) -> list[tuple[str, np.ndarray, z3.BoolRef]]:
    """Control atoms ``pc == X and local == v`` of one actor, where neither alone decides."""
    out = []
    for comp, pc_f, loc_f in POSITIONS:
        recs = sorted({sl.rec for sl in lay.slots if sl.comp == comp})
        for r in recs:
            i, k = lay.index.get((comp, r, pc_f)), lay.index.get((comp, r, loc_f))
            if i is None or k is None or len(np.unique(vals[:, k])) < 2:
                continue
            for pc in np.unique(vals[:, i]):
                at = vals[:, i] == pc
                locs = np.unique(vals[at, k])
                if len(locs) < 2:
                    continue
                for lv in locs:
                    col = at & (vals[:, k] == lv)
                    out.append((f"{lay.slots[i].name} == {show(lay.slots[i], int(pc))} & {lay.slots[k].name} == {int(lv)}",
                                col, z3.And(xs[i] == int(pc), xs[k] == int(lv))))
    return out


def value_facts(model: Model, lay: Layout, states: list[State], xs: list[z3.BitVecRef]) -> list[tuple[str, z3.BoolRef]]:
    """The values each variable takes in ``states`` (a constant, a set, or a range): assumed
    while encoding they rule out most impossible forks (``encode(facts=...)``)."""
    return _value_sets(lay, _values(lay, states), xs)


def _values(lay: Layout, states: Sample) -> np.ndarray:
    return states if isinstance(states, np.ndarray) else lay.values_of(states)


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
