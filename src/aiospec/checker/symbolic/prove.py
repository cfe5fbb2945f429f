"""Unbounded proofs for one scenario by induction, with a Houdini-style strengthening.

Candidate lemmas are the type invariant (``TypeOK``, the declared domains) and every
invariant property of the spec.  Houdini drops, one at a time, each candidate that is not
preserved by a step from a state satisfying all the remaining ones, until what is left is
inductive: it holds initially and every step preserves it, so it holds in every reachable
state, at any depth.  A property is *proved* when it is among the survivors (an invariant)
or when no step from a state satisfying them violates it (step and event properties).
Otherwise the solver's counterexample to induction (a pre-state, the step, the post-state)
is reported together with whether the explicit checker ever reaches that pre-state: if it
does not, the lemmas are too weak (not a bug); if it does, the property really fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from ...spec.model import Model
from ...spec.properties import PROPERTIES
from .bmc import NOT_BY_DEFAULT, TYPE, Unroller
from .encode import Encoding, encode
from .lemmas import mine, reachable_states

# The per-job protocol invariants the proofs are about (SEMANTICS.md section 14).
TARGETS = ("A1", "D2", "D2-STICKY", "D3", "D4", "D5", "D6", "D9", "D13", "D14")


@dataclass
class ProofResult:
    prop: str
    method: str
    result: str  # proved | not inductive | violated | not encoded
    seconds: float
    detail: str = ""


@dataclass
class ProveReport:
    scenario: str
    lemmas: list[str] = field(default_factory=list)  # the inductive strengthening that survived
    dropped: list[str] = field(default_factory=list)
    results: list[ProofResult] = field(default_factory=list)
    encode_seconds: float = 0.0
    candidates: int = 0


def _good(enc: Encoding, name: str, xs) -> z3.BoolRef:
    if name == TYPE:
        return enc.layout.type_ok(xs)
    return z3.Not(z3.substitute(enc.invariants[name], *zip(enc.xs, xs)))


def prove(model: Model, targets: tuple[str, ...] = TARGETS, enc: Encoding | None = None,
          reachable: set[int] | None = None, timeout_ms: int = 120_000, mined: bool = True,
          states_limit: int = 300_000) -> ProveReport:
    """Prove ``targets`` on the scenario of ``model`` (see the module docstring)."""
    props = [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT and p.kind != "reach"]
    enc = enc or encode(model, props)
    rep = ProveReport(model.sc.name, encode_seconds=enc.seconds)
    un = Unroller(enc)
    step = un.step()  # frame 0 -> frame 1
    x0, x1 = un.frames[0], un.frames[1]
    init = un.init(model)
    # candidates: (name, formula at frame 0, formula at frame 1)
    cands = [(c, _good(enc, c, x0), _good(enc, c, x1)) for c in [TYPE] + sorted(enc.invariants)]
    if mined:
        states = reachable_states(model, states_limit)
        if reachable is None:
            reachable = {hash(st) for st in states}
        m0 = mine(model, enc.layout, states, x0)
        m1 = mine(model, enc.layout, states, x1)
        cands += [(f"lemma: {t}", f0, f1) for (t, f0), (_, f1) in zip(m0, m1)]
    rep.candidates = len(cands)
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    # initially true: the initial state is concrete, so this is an evaluation
    keep = []
    for c in cands:
        s.push()
        s.add(init, z3.Not(c[1]))
        if s.check() != z3.unsat:
            rep.dropped.append(f"{c[0]} (false initially)")
        else:
            keep.append(c)
        s.pop()
    cands = keep
    s.add(step)
    flags = [z3.Bool(f"h{i}") for i in range(len(cands))]
    for f, c in zip(flags, cands):
        s.add(f == c[2])
    active = list(range(len(cands)))
    while True:  # Houdini: drop every candidate the solver's step breaks, until none breaks
        s.push()
        s.add(*[cands[i][1] for i in active])
        s.add(z3.Or(*[z3.Not(flags[i]) for i in active]))
        r = s.check()
        if r != z3.sat:
            s.pop()
            if r != z3.unsat:
                rep.dropped.append(f"(solver gave {r}: nothing further is proved)")
                active = []
            break
        m = s.model()
        broken = [i for i in active if z3.is_false(m.eval(flags[i], model_completion=True))]
        s.pop()
        for i in broken:
            rep.dropped.append(cands[i][0])
        active = [i for i in active if i not in set(broken)]
    rep.lemmas = [cands[i][0] for i in active]
    names = set(rep.lemmas)
    strengthening = [cands[i][1] for i in active]
    by_name = {p.name: p for p in PROPERTIES}
    method = f"induction (k=1), {len(active)} of {rep.candidates} lemmas"
    for name in targets:
        t0 = time.perf_counter()
        p = by_name.get(name)
        if name in enc.invariants:
            ok = name in names
            detail = "" if ok else _cti(enc, un, s, strengthening, z3.Not(_good(enc, name, x1)), reachable)
        elif name in enc.pairs:
            f = z3.substitute(enc.pairs[name], *zip(enc.xs, x0), *zip(enc.ys, x1))
            ok, detail = _holds(enc, un, s, strengthening, f, reachable)
        elif name in enc.step_props:
            ok, detail = _holds(enc, un, s, strengthening, z3.substitute(enc.step_props[name], *zip(enc.xs, x0)),
                                reachable)
        elif p is not None and p.kind == "event":
            ok, detail = True, "no step of this scenario raises it"
        else:
            rep.results.append(ProofResult(name, "-", "not encoded", 0.0, "not a property of the symbolic encoding"))
            continue
        rep.results.append(ProofResult(name, method, "proved" if ok else "not inductive",
                                       time.perf_counter() - t0, detail))
    return rep


def _holds(enc, un, s, strengthening, bad, reachable) -> tuple[bool, str]:
    s.push()
    s.add(*strengthening)
    s.add(bad)
    r = s.check()
    detail = _describe(enc, un, s.model(), reachable) if r == z3.sat else ("" if r == z3.unsat else f"solver: {r}")
    s.pop()
    return r == z3.unsat, detail


def _cti(enc, un, s, strengthening, bad, reachable) -> str:
    return _holds(enc, un, s, strengthening, bad, reachable)[1]


def _describe(enc: Encoding, un: Unroller, m: z3.ModelRef, reachable: set[int] | None) -> str:
    """A counterexample to induction in words: the step taken and whether its pre-state is reachable."""
    lay = enc.layout
    vals = [m.eval(x, model_completion=True).as_signed_long() for x in un.frames[0]]
    sel = m.eval(un.sels[0], model_completion=True).as_long()
    st = enc.steps[un.moves[sel]] if 0 <= sel < len(un.moves) else None
    pre = lay.state_of(vals)
    where = f"{enc.model.actor_name(st.actor)} takes {st.label}" if st else "a step"
    if reachable is None:
        reach = "reachability not checked"
    else:
        reach = "the pre-state IS reachable" if hash(pre) in reachable else \
            "the pre-state is not reachable (the lemmas are too weak, not a bug)"
    return f"counterexample to induction: {where}; {reach}"
