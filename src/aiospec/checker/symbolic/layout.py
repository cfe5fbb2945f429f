"""The state of one scenario as a vector of z3 bit-vectors, derived from ``spec/variables.py``.

Every scalar of the explicit state (a job field, a counter, a program counter) becomes one
bit-vector per time frame; each list (a TAILQ) becomes a length and ``cap`` element slots,
the slots past the length holding -1.  The range each variable may take comes from its
declared domain (``Var.domain``): ``DOMAINS`` maps each domain to bounds for a scenario, and
a variable whose domain has no entry is an error, so a new variable must say its range here.
Those ranges are the type invariant ``TypeOK``: assumed when steps are encoded, and checked
(by BMC on every frame, and proved by ``aiospec prove``), never taken on trust.  A
``SplitModel``'s state has three more variables per thread: where its suspended step
resumes (``spec/split.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import z3

from ...spec.actions import LABELS
from ...spec.constants import Alloc, CancelFn, Errno, HandleFn, Sigev
from ...spec.scenario import Scenario
from ...spec.state import S_ACTORS, S_AIOCBS, S_DAEMONS, S_GLOB, S_JOBS, S_KI, S_LIOS, S_LISTS
from ...spec.program import calls_of
from ...spec.split import RESUMABLE, RESUME_WIDTH, S_RESUME
from ...spec.variables import DM, G, T, ACTOR_VARS, AIOCB_VARS, DAEMON_VARS, GLOBAL_VARS, JOB_VARS, KI_VARS, LIO_VARS, LIST_VARS, Q, Var
from .values import PathExplorer, SymInt

Bounds = tuple[int, int]

HIDDEN = -2  # in a projection (``project.py``): a job of a copy not shown; -1 stays "none"
# the variables that may hold a job and so, in a projection, HIDDEN
_POINTERS = ("job or NIL",)
_POINTER_LOCALS = ("actor.A", "actor.B")
# counts of jobs (and sequence numbers): a projection keeps their values, which the hidden
# jobs make as large as the family is, so there they have no upper bound
_COUNTS = ("0..jobs", "-1 or 0..jobs", "0..n", "0..n+1")


def is_pointer(var: Var) -> bool:
    """Does ``var`` hold a job (and so, in a projection, possibly ``HIDDEN``)?"""
    return var.domain in _POINTERS or f"{var.record}.{var.attr}" in _POINTER_LOCALS


def _nj(sc: Scenario) -> int:
    return len(sc.slots)


def _entries(sc: Scenario) -> int:
    most = max((len(c.entries) for t in sc.threads for c in t.calls), default=0)
    return max(_nj(sc), most)


def _bytes(sc: Scenario) -> int:
    return max((a.nbytes for a in sc.aiocbs.values()), default=0)


def _enum(e) -> Callable[[Scenario], Bounds]:
    return lambda sc: (min(int(x) for x in e), max(int(x) for x in e))


# domain (as written in variables.py) -> bounds in a scenario
DOMAINS: dict[str, Callable[[Scenario], Bounds]] = {
    "Alloc": _enum(Alloc),
    "bitset of the six KAIOCB_ flags": lambda sc: (0, 0x3F),
    "CancelFn": _enum(CancelFn),
    "HandleFn": _enum(HandleFn),
    "-1 or bytes": lambda sc: (-1, _bytes(sc)),
    "Errno": _enum(Errno),
    "0..jobs": lambda sc: (0, _nj(sc)),
    "-1 or 0..jobs": lambda sc: (-1, _nj(sc)),
    "0 none, 1 in flight, 2 buffer released": lambda sc: (0, 2),
    "0..2": lambda sc: (0, 2),
    "0/1": lambda sc: (0, 1),
    "bitmask of job slots": lambda sc: (0, (1 << _nj(sc)) - 1),
    "0..n+1": lambda sc: (0, _nj(sc) + 1),
    "0..n": lambda sc: (0, _nj(sc)),
    "LIOJ_ bits": lambda sc: (0, 7),
    "Sigev": _enum(Sigev),
    "KAIO_RUNDOWN|KAIO_WAKEUP": lambda sc: (0, 3),
    "0..daemons": lambda sc: (0, sc.daemons),
    "label": lambda sc: (-1, len(LABELS) - 1),
    "job or NIL": lambda sc: (-1, _nj(sc) - 1),
    "0..ncalls": lambda sc: (0, max((len(t.calls) for t in sc.threads), default=0) + 1),
}

# "int" locals: what each holds (variables.py's doc) bounds it
INT_LOCALS: dict[str, Callable[[Scenario], Bounds | None]] = {
    "aiocb.USTATUS": lambda sc: (-1, _bytes(sc)),
    "actor.A": lambda sc: (-1, _entries(sc) + 1),  # current job or lio entry
    "actor.B": lambda sc: (-1, _entries(sc) + 1),  # saved successor, or nagain
    # cancelled / nerror and notcancelled / error: C ints that count.  No bound: that the cancel
    # walk counts each job at most once is a fact of the walk (the jobs it has passed), which no
    # lemma over one state can say, so a bound here is one induction cannot keep (race-n with
    # three requests: a pre-state with cancelled = 4 steps to 5).  They get the frame's range.
    "actor.C": lambda sc: None,
    "actor.D": lambda sc: None,
    "actor.E": lambda sc: (0, (1 << _nj(sc)) - 1),  # in-progress mask
}


def bounds_of(var: Var, sc: Scenario) -> Bounds | None:
    """The range of ``var`` in ``sc``; None for a C int with no bound (the frame's whole range)."""
    key = f"{var.record}.{var.attr}"
    if var.domain == "int":
        if key not in INT_LOCALS:
            raise KeyError(f"{key}: an 'int' variable needs bounds in INT_LOCALS")
        return INT_LOCALS[key](sc)
    if var.domain not in DOMAINS:
        raise KeyError(f"{key}: domain {var.domain!r} has no bounds in DOMAINS")
    return DOMAINS[var.domain](sc)


@dataclass(frozen=True)
class Slot:
    """One bit-vector of the flat state: a record field, a list length or a list element."""

    name: str
    comp: int  # S_JOBS, S_LISTS, ...
    rec: int  # record index (job, lio, actor...), list index for S_LISTS, -1 for ki/glob
    field: int  # field index, or -1 for a list length, or the element position
    lo: int
    hi: int


class Layout:
    """Where each scalar of a scenario's state lives in the flat vector, and its range.

    ``hidden``: the layout of projections (``project.py``), where a job pointer or a list entry
    may be ``HIDDEN``, a list holds a marker between any two of its shown entries, so its
    capacity is 2k + 1 for k jobs (plus the one slot of slack every list has), and a count of
    jobs has no upper bound."""

    def __init__(self, model, hidden: bool = False) -> None:
        sc = model.sc
        self.model = model
        self.sc = sc
        self.hidden = hidden
        nj = len(sc.slots)
        many = (lambda k: 2 * k + 2) if hidden else (lambda k: k + 1)
        self.caps = [many(sc.lio_count) if LIST_VARS[q].domain == "seq of lios" else many(nj) for q in range(Q.width)]
        big = max(_bytes(sc), 1 << nj, 64)
        self.width = 16 if big < (1 << 14) else 32
        whole = (-(1 << (self.width - 1)), (1 << (self.width - 1)) - 1)
        slots: list[Slot] = []
        pointers: set[str] = set()  # in a projection, the slots that hold a job (``hidden.Pointer``)

        def bounds(var: Var) -> Bounds:
            lo, hi = bounds_of(var, sc) or whole
            if not hidden:
                return lo, hi
            if var.domain in _COUNTS:
                return lo, whole[1]
            return (min(lo, HIDDEN), hi) if is_pointer(var) else (lo, hi)

        def rec(comp: int, prefix: str, count: int, vars_: tuple[Var, ...]) -> None:
            for r in range(count):
                for f, var in enumerate(vars_):
                    lo, hi = bounds(var)
                    slots.append(Slot(f"{prefix}[{r}].{var.attr}", comp, r, f, lo, hi))
                    if hidden and is_pointer(var):
                        pointers.add(slots[-1].name)

        def flat(comp: int, prefix: str, vars_: tuple[Var, ...]) -> None:
            for f, var in enumerate(vars_):
                lo, hi = bounds(var)
                slots.append(Slot(f"{prefix}.{var.attr}", comp, -1, f, lo, hi))
                if hidden and is_pointer(var):
                    pointers.add(slots[-1].name)

        rec(S_JOBS, "job", nj, JOB_VARS)
        rec(S_AIOCBS, "aiocb", len(sc.aiocbs), AIOCB_VARS)
        rec(S_LIOS, "lio", sc.lio_count, LIO_VARS)
        flat(S_KI, "ki", KI_VARS)
        for q, var in enumerate(LIST_VARS):
            top = (sc.lio_count if var.domain == "seq of lios" else nj) - 1
            slots.append(Slot(f"{var.c_name}.len", S_LISTS, q, -1, 0, self.caps[q]))
            for i in range(self.caps[q]):
                slots.append(Slot(f"{var.c_name}[{i}]", S_LISTS, q, i, HIDDEN if hidden else -1, top))
        flat(S_GLOB, "glob", GLOBAL_VARS)
        rec(S_ACTORS, "actor", model.n_actors, ACTOR_VARS)
        rec(S_DAEMONS, "daemon", sc.daemons, DAEMON_VARS)
        self.resumes = bool(getattr(model, "resumes", False))  # a SplitModel: where suspended steps resume
        if self.resumes:
            for a in range(model.n_actors):
                slots.append(Slot(f"resume[{a}].fn", S_RESUME, a, 0, 0, len(RESUMABLE)))
                slots.append(Slot(f"resume[{a}].job", S_RESUME, a, 1, HIDDEN if hidden else -1, nj - 1))
                if hidden:
                    pointers.add(slots[-1].name)
                slots.append(Slot(f"resume[{a}].passed", S_RESUME, a, 2, 0, 2 * nj + 2))
        self.slots = slots
        self.pointers = frozenset(i for i, s in enumerate(slots) if s.name in pointers)
        self.index = {(s.comp, s.rec, s.field): i for i, s in enumerate(slots)}
        self._order = self._flat_order(model)  # where each slot sits in ``_flat``'s run of a state
        self._order_list = self._order.tolist()

    # -- variables ------------------------------------------------------------------------
    def frame(self, tag: str) -> list[z3.BitVecRef]:
        return [z3.BitVec(f"{s.name}@{tag}", self.width) for s in self.slots]

    def pcs_of(self, comp: int, rec: int) -> list[int]:
        """The program counters an actor can hold: the labels declared for its kind (``Label.actors``)."""
        if comp == S_ACTORS:
            kind = "rundown" if rec == self.model.n_actors - 1 else "thread"
            return [-1] + [lb.index for lb in LABELS if kind in lb.actors]
        kind = "daemon" if comp == S_DAEMONS else "task"
        return [lb.index for lb in LABELS if kind in lb.actors]

    def type_ok(self, xs: list[z3.BitVecRef]) -> z3.BoolRef:
        """Every variable in its declared range, and list slots past the length empty (-1).

        Program counters are further bound by the actor kinds each label declares, and a
        thread's call index by the length of its program.
        """
        cs = []
        for s, x in zip(self.slots, xs):
            cs.append(x >= s.lo)
            cs.append(x <= s.hi)
        pcs = {(S_ACTORS, T.PC), (S_DAEMONS, DM.PC), (S_GLOB, G.TASK_PC)}
        for s, x in zip(self.slots, xs):
            if (s.comp, s.field) in pcs:
                cs.append(z3.Or(*[x == p for p in self.pcs_of(s.comp, s.rec)]))
            if (s.comp, s.field) == (S_ACTORS, T.CALL):
                n = len(calls_of(self.sc, s.rec))
                cs.append(x <= n)
                pc = xs[self.index[(S_ACTORS, s.rec, T.PC)]]
                cs.append((x == n) == (pc == -1))
            if s.comp == S_RESUME and s.field == 0:  # only a walk keeps its place and count
                cs.append(z3.Implies(x != 1, z3.And(xs[self.index[(S_RESUME, s.rec, 1)]] == -1,
                                                    xs[self.index[(S_RESUME, s.rec, 2)]] == 0)))
        for q in range(Q.width):
            ln = xs[self.index[(S_LISTS, q, -1)]]
            for i in range(self.caps[q]):
                e = xs[self.index[(S_LISTS, q, i)]]
                cs.append(z3.Implies(ln > i, z3.Or(e >= 0, e == HIDDEN) if self.hidden else e >= 0))
                cs.append(z3.Implies(ln <= i, e == -1))
                for i2 in range(i):  # a TAILQ holds an element at most once (markers: never two in a row)
                    e2 = xs[self.index[(S_LISTS, q, i2)]]
                    apart = z3.Or(e != e2, e == HIDDEN) if self.hidden and i2 < i - 1 else e != e2
                    cs.append(z3.Implies(ln > i, apart))
        return z3.And(*cs)

    _RECS = (S_JOBS, S_AIOCBS, S_LIOS, S_ACTORS, S_DAEMONS)

    def _flat_order(self, model) -> np.ndarray:
        sc = model.sc
        widths = {S_JOBS: (len(sc.slots), len(JOB_VARS)), S_AIOCBS: (len(sc.aiocbs), len(AIOCB_VARS)),
                  S_LIOS: (sc.lio_count, len(LIO_VARS)), S_ACTORS: (model.n_actors, len(ACTOR_VARS)),
                  S_DAEMONS: (sc.daemons, len(DAEMON_VARS))}
        pos: dict[tuple[int, int, int], int] = {}
        for c in self._RECS:
            count, width = widths[c]
            for r in range(count):
                for f in range(width):
                    pos[(c, r, f)] = len(pos)
        for c, width in ((S_KI, len(KI_VARS)), (S_GLOB, len(GLOBAL_VARS))):
            for f in range(width):
                pos[(c, -1, f)] = len(pos)
        for q, cap in enumerate(self.caps):
            pos[(S_LISTS, q, -1)] = len(pos)
            for i in range(cap):
                pos[(S_LISTS, q, i)] = len(pos)
        if self.resumes:
            for a in range(model.n_actors):
                for f in range(RESUME_WIDTH):
                    pos[(S_RESUME, a, f)] = len(pos)
        return np.array([pos[(s.comp, s.rec, s.field)] for s in self.slots], dtype=np.intp)

    def _flat(self, st) -> list[int]:
        """A state as one run of ints: records in order, then each list as its length and its
        elements padded with -1 to its capacity (cut there if longer)."""
        out: list[int] = []
        for c in self._RECS:
            for r in st[c]:
                out += r
        out += st[S_KI]
        out += st[S_GLOB]
        for lst, cap in zip(st[S_LISTS], self.caps):
            out.append(len(lst))
            if len(lst) < cap:
                out += lst
                out += [-1] * (cap - len(lst))
            else:
                out += lst[:cap]
        if self.resumes:
            for r in st[S_RESUME]:
                out += r
        return out

    def values(self, state) -> list[int]:
        """The flat vector of a concrete state, in layout order."""
        run = self._flat(state)
        return [run[i] for i in self._order_list]

    def values_of(self, states) -> np.ndarray:
        """``values`` of many states, as a (states x variables) array: each state read as one
        run (``_flat``), the columns put in layout order once (``race-n`` T=3's 363,136
        states: 5.5 s, against 7.8 s state by state)."""
        if not states:
            return np.zeros((0, len(self.slots)), dtype=np.int64)
        flat = self._flat
        return np.array([flat(st) for st in states], dtype=np.int64)[:, self._order]

    def state_of(self, vals: list[int]):
        """The concrete state a flat vector denotes (a model's values back to a State)."""
        get = dict(zip(((s.comp, s.rec, s.field) for s in self.slots), vals))
        m, sc = self.model, self.sc

        def recs(comp, n, w):
            return tuple(tuple(get[(comp, r, f)] for f in range(w)) for r in range(n))

        lists = tuple(tuple(get[(S_LISTS, q, i)] for i in range(max(0, min(get[(S_LISTS, q, -1)], self.caps[q]))))
                      for q in range(Q.width))
        st = (recs(S_JOBS, len(sc.slots), len(JOB_VARS)), recs(S_AIOCBS, len(sc.aiocbs), len(AIOCB_VARS)),
              recs(S_LIOS, sc.lio_count, len(LIO_VARS)), tuple(get[(S_KI, -1, f)] for f in range(len(KI_VARS))),
              lists, tuple(get[(S_GLOB, -1, f)] for f in range(len(GLOBAL_VARS))),
              recs(S_ACTORS, m.n_actors, len(ACTOR_VARS)), recs(S_DAEMONS, sc.daemons, len(DAEMON_VARS)))
        return st + (recs(S_RESUME, m.n_actors, RESUME_WIDTH),) if self.resumes else st

    # -- a symbolic State over a frame's variables -----------------------------------------
    def sym_state(self, xs: list[z3.BitVecRef], ex: PathExplorer):
        """A State-shaped tuple whose leaves are SymInt and whose lists fork on their length."""
        sc, m = self.sc, self.model
        table, listing, ptr = tuple, SymList, SymInt
        if self.hidden:  # a projection: guards refuse HIDDEN records, pointers know what they are
            from .hidden import HiddenSymList, Pointer, StrictTuple
            table, listing, ptr = StrictTuple, HiddenSymList, Pointer

        def leaf(key):
            i = self.index[key]
            return (ptr if i in self.pointers else SymInt)(xs[i], ex)

        def recs(comp, n, w):
            return tuple(tuple(leaf((comp, r, f)) for f in range(w)) for r in range(n))

        lists = tuple(listing(xs[self.index[(S_LISTS, q, -1)]], [xs[self.index[(S_LISTS, q, i)]] for i in range(self.caps[q])],
                              ex) for q in range(Q.width))
        st = (table(recs(S_JOBS, len(sc.slots), len(JOB_VARS))), recs(S_AIOCBS, len(sc.aiocbs), len(AIOCB_VARS)),
              table(recs(S_LIOS, sc.lio_count, len(LIO_VARS))), tuple(leaf((S_KI, -1, f)) for f in range(len(KI_VARS))),
              lists, tuple(leaf((S_GLOB, -1, f)) for f in range(len(GLOBAL_VARS))),
              recs(S_ACTORS, m.n_actors, len(ACTOR_VARS)), recs(S_DAEMONS, sc.daemons, len(DAEMON_VARS)))
        return st + (recs(S_RESUME, m.n_actors, RESUME_WIDTH),) if self.resumes else st

    def terms_of(self, state, xs: list[z3.BitVecRef]) -> list[z3.BitVecRef]:
        """The flat vector of terms a (partly) symbolic post-state denotes."""
        w = self.width
        out: list[z3.BitVecRef] = []
        for s, x in zip(self.slots, xs):
            comp = state[s.comp]
            if s.comp == S_LISTS:
                lst = comp[s.rec]
                if isinstance(lst, SymList) and not lst.materialized():
                    out.append(lst.len if s.field == -1 else lst.elems[s.field])
                    continue
                lst = tuple(lst)
                if len(lst) > self.caps[s.rec]:
                    raise OverflowError(f"{LIST_VARS[s.rec].c_name} grew past {self.caps[s.rec]} entries")
                v = len(lst) if s.field == -1 else (lst[s.field] if s.field < len(lst) else -1)
            elif s.rec < 0:
                v = comp[s.field]
            else:
                v = comp[s.rec][s.field]
            out.append(_term(v, w))
        return out


def _term(v, w: int) -> z3.BitVecRef:
    if isinstance(v, SymInt):
        return v.e
    if hasattr(v, "_as_int"):
        return v._as_int().e
    return z3.BitVecVal(int(v), w)


class SymList:
    """A TAILQ of the symbolic state: forks on its length the first time a path looks at it."""

    __slots__ = ("len", "elems", "ex")
    entry = SymInt  # what its entries are read as (``hidden.HiddenSymList``: pointers)

    def __init__(self, ln: z3.BitVecRef, elems: list[z3.BitVecRef], ex: PathExplorer):
        self.len, self.elems, self.ex = ln, elems, ex

    def materialized(self) -> bool:
        return id(self) in self.ex.run_cache

    def _items(self) -> tuple:
        c = self.ex.run_cache.get(id(self))
        if c is None:
            n = self.ex.concretize(self.len)
            c = self.ex.run_cache[id(self)] = tuple(self.entry(e, self.ex) for e in self.elems[:n])
        return c

    def __len__(self) -> int:
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, i):
        return self._items()[i]

    def __contains__(self, x) -> bool:
        if self.materialized() or not self.elems:
            return x in self._items()
        xv = x.e if isinstance(x, SymInt) else z3.BitVecVal(int(x), self.elems[0].size())
        # one decision for membership, not one fork per length and per element
        return self.ex.decide(z3.Or(*[z3.And(self.len > i, e == xv) for i, e in enumerate(self.elems)]))

    def __bool__(self) -> bool:
        return bool(self._items())

    def index(self, x) -> int:
        return self._items().index(x)

    def count(self, x) -> int:
        return self._items().count(x)

    def __eq__(self, o):  # type: ignore[override]
        if isinstance(o, SymList) and not self.materialized() and not o.materialized():
            # one decision, not one fork per pair of lengths (LOCKS compares every list of a step)
            n = max(len(self.elems), len(o.elems))
            same = [z3.Or(self.len <= i, self.elems[i] == o.elems[i]) if i < len(self.elems) and i < len(o.elems)
                    else self.len <= i for i in range(n)]
            return self.ex.decide(z3.And(self.len == o.len, *same))
        return self._items() == tuple(o)

    def __hash__(self) -> int:
        return hash(self._items())
