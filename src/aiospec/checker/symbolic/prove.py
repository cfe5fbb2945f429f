"""Unbounded proofs for one scenario by induction, with a Houdini-style strengthening.

Candidate lemmas are the type invariant (``TypeOK``, the declared domains) and every
invariant property of the spec.  Houdini drops, one at a time, each candidate that is not
preserved by a step from a state satisfying all the remaining ones, until what is left is
inductive: it holds initially and every step preserves it, so it holds in every reachable
state, at any depth.  A property is *proved* when it is among the survivors (an invariant)
or when no step from a state satisfying them violates it (step and event properties).
Otherwise the solver's counterexample to induction (a pre-state, the step, the post-state)
is reported together with whether the explicit checker ever reaches that pre-state: if it
does not, the lemmas are too weak (not a bug); if it does, the property really fails.  In
the first case k-induction over the same survivors (``kinduct``) may still prove it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import z3

from ...spec.model import Model
from ...spec.properties import PROPERTIES
from .bmc import NOT_BY_DEFAULT, TYPE, Unroller
from .concrete import amplifier_for
from .encode import SPEC_ERROR, Encoding, encode
from .family import closure
from .formulas import BadFormulas, parse
from .houdini import MAX_MOVES, houdini
from .kinduct import k_induction
from .lemmas import TooMany, mine, reachable_states, show
from .minimize import CannotMinimize, needed, roots_of
from .rename import Renamer
from .strengthen import NotExact, sample_states, strengthen

# The per-job protocol invariants the proofs are about (SEMANTICS.md section 14).
TARGETS = ("A1", "D2", "D2-STICKY", "D3", "D4", "D5", "D6", "D9", "D13", "D14", "SPEC-ERROR")


@dataclass
class ProofResult:
    prop: str
    method: str
    result: str  # proved | not inductive | violated | not encoded
    seconds: float
    detail: str = ""
    cti: str = ""  # a counterexample to induction: the pre-state, the step, what it changes
    k: int = 1  # the induction depth the method used (the last one tried when not proved)


@dataclass
class ProveReport:
    scenario: str
    lemmas: list[str] = field(default_factory=list)  # the inductive strengthening that survived
    dropped: list[str] = field(default_factory=list)
    results: list[ProofResult] = field(default_factory=list)
    encode_seconds: float = 0.0
    candidates: int = 0
    mined_from: str = ""  # "the N reachable states", or "a sample of N states"
    needed: list[str] | None = None  # with ``minimize``: the lemmas the proof uses (``minimize.py``)
    needed_note: str = ""  # how they were found, or why every lemma is kept
    formulas: dict = field(default_factory=dict)  # each surviving mined lemma's formula (name without "lemma: ")


def _good(enc: Encoding, name: str, xs) -> z3.BoolRef:
    if name == TYPE:
        return enc.layout.type_ok(xs)
    return z3.Not(z3.substitute(enc.invariants[name], *zip(enc.xs, xs)))


def prove(model: Model, targets: tuple[str, ...] = TARGETS, enc: Encoding | None = None,
          reachable: set[int] | None = None, timeout_ms: int = 120_000, mined: bool = True,
          states_limit: int = 300_000, progress: Callable[[str], None] | None = None,
          k_max: int = 3, only: frozenset[str] | None = None,
          minimize: bool | Callable[[ProveReport], bool] = False, jobs: int = 1,
          formulas: Mapping[str, str] | None = None) -> ProveReport:
    """Prove ``targets`` on the scenario of ``model`` (see the module docstring).

    With ``enc`` given (or ``mined`` off) Houdini runs on that encoding.  Otherwise the
    encoding assumes the value sets of the reachable states and is made exact by
    ``strengthen`` (an assumed fact that is not inductive is dropped and the step encoded
    again): the same survivors, found on a relation with far fewer paths.  A target they do
    not prove is tried by k-induction for k = 2 .. ``k_max`` (``kinduct``), unless its
    counterexample to induction starts from a reachable state.  ``only``: start from these
    candidates (names, as ``lemmafile.write`` writes them) instead of all the mined ones: a lemma
    file is a certificate, checked again here, so a stale one can only prove less.  ``minimize``:
    also find the lemmas the proof uses (``ProveReport.needed``), a smaller certificate; a
    predicate decides on the report first (the CLI skips a shipped file's proof it will redo).  ``jobs``:
    Houdini's questions asked at once (threads, one z3 context each) and actors encoded at once
    (forked processes): the same lemmas, sooner.
    ``formulas``: the mined lemmas of ``only`` as SMT-LIB text (``lemmafile.formulas``); when they
    give every one and parse, nothing is explored or mined, unless a target is left open: then
    the states are explored to say whether its counterexample to induction is reachable."""
    # the spec's invariants are Houdini candidates; a step, event or end property is encoded only
    # when it is a target (P-CANCEL alone was a third of the encoding of race-n with four requests)
    props = [p for p in PROPERTIES if p.kind != "reach"
             and (p.name in targets or (p.kind == "invariant" and p.name not in NOT_BY_DEFAULT))]
    states: list = []
    source = ""
    given, unfit = _given(model, only, formulas, progress) if mined and enc is None else (None, "")
    if given is not None:
        source = "the lemma file's formulas (no state explored)"
    elif mined:
        try:
            states = reachable_states(model, states_limit)
            source = f"the {len(states):,} reachable states"
            if reachable is None:
                reachable = {hash(st) for st in states}
        except TooMany as e:  # too many to enumerate: mine from a sample (Houdini trusts none of it)
            sample = sample_states(model, states_limit, start=e.bfs)
            states = closure(model, sample, cap=2 * states_limit)
            source = f"a sample of {len(sample):,} states" + (
                f" and its {len(states) - len(sample):,} images under renaming the copies of a thread"
                if len(states) > len(sample) else "")
            if progress:
                progress(f"more than {states_limit:,} states: lemmas mined from {source}")
    if enc is None and mined:
        try:
            rep, enc, s, un, strengthening = _strengthened(model, props, states, timeout_ms, progress, only, jobs,
                                                           given)
        except NotExact as e:
            rep = ProveReport(model.sc.name, mined_from=source)
            rep.results = [ProofResult(t, "induction (k=1)", "not proved", 0.0, str(e)) for t in targets]
            return rep
    else:
        rep, enc, s, un, strengthening = _on_encoding(model, enc or encode(model, props, jobs=jobs), states, timeout_ms, only, jobs)
    rep.mined_from = source + (f" (the file's formulas were not used: {unfit})" if unfit else "")
    if TYPE not in rep.lemmas:  # the encoder pruned forks under TYPE-OK: without it nothing below is sound
        rep.results = [ProofResult(t, "induction (k=1)", "not proved", 0.0,
                                   "TYPE-OK is not inductive with these lemmas, so the encoding is not trusted")
                       for t in targets]
        return rep
    if given is not None and reachable is None:  # nothing explored: plain induction first, and
        _check_targets(rep, enc, s, un, strengthening, targets, None, 1, timeout_ms)
        left = tuple(r.prop for r in rep.results if r.result != "proved")
        if left:  # states only to judge what it leaves open, as without the formulas
            reachable = _reachable(model, states_limit)
            rep.results = [r for r in rep.results if r.result == "proved"]
            _check_targets(rep, enc, s, un, strengthening, left, reachable, k_max, timeout_ms)
            rep.results.sort(key=lambda r: targets.index(r.prop))
            rep.mined_from += f"; {len(reachable):,} states explored to judge what it leaves open" \
                if reachable is not None else "; too many states to judge what it leaves open"
    else:
        _check_targets(rep, enc, s, un, strengthening, targets, reachable, k_max, timeout_ms)
    if minimize(rep) if callable(minimize) else minimize:
        _minimize(rep, enc, un, strengthening, targets, timeout_ms, progress)
    return rep


def _reachable(model: Model, limit: int) -> set[int] | None:
    """The hashes of the reachable states, or None past ``limit``."""
    try:
        return {hash(st) for st in reachable_states(model, limit)}
    except TooMany:
        return None


def _given(model: Model, only: frozenset[str] | None, formulas: Mapping[str, str] | None,
           progress) -> tuple[list | None, str]:
    """The mined lemmas of ``only`` from their formulas, or None when some lack one or they do
    not parse (then they are mined again by name), with why they do not parse."""
    if only is None or not formulas:
        return None, ""
    spec = {p.name for p in PROPERTIES} | {TYPE}
    mined = [n for n in sorted(only) if n not in spec]
    if any(n not in formulas for n in mined):
        return None, ""
    try:
        return parse(model, {n: formulas[n] for n in mined}), ""
    except BadFormulas as e:
        if progress:
            progress(f"{e}: mining the named lemmas again")
        return None, str(e)


def _minimize(rep: ProveReport, enc: Encoding, un, survivors: list, targets: tuple[str, ...],
              timeout_ms: int, progress) -> None:
    """``rep.needed``: the survivors the proved targets use, by unsat cores (``minimize.py``)."""
    kept = set(rep.lemmas)
    proved = [(r.prop, r.k) for r in rep.results if r.result == "proved"
              and r.prop not in kept and (r.prop in enc.invariants or r.prop in enc.step_props or r.prop in enc.pairs)]
    try:
        nd = needed(enc, un, rep.lemmas, survivors, roots_of(enc, rep.lemmas, targets), proved, timeout_ms, progress)
    except CannotMinimize as e:
        rep.needed_note = f"every lemma kept: {e}"
        return
    rep.needed = nd.names
    rep.needed_note = (f"the proof uses {len(nd.names):,} of the {len(rep.lemmas):,} lemmas ({nd.roots:,} kept "
                       f"from the start; {nd.questions:,} questions in {nd.rounds} rounds, {nd.seconds:.1f}s)")


def _strengthened(model: Model, props: list, states: list, timeout_ms: int, progress,
                  only: frozenset[str] | None = None, jobs: int = 1, given: list | None = None) -> tuple:
    """The default route: an encoding assuming the reachable values, made exact by ``strengthen``."""
    st = strengthen(model, props, states=states, timeout_ms=timeout_ms, progress=progress, only=only, jobs=jobs,
                    given=given)
    enc = st.encoding
    mined_names = {t for t, _ in st.lemmas}
    rep = ProveReport(model.sc.name, encode_seconds=enc.seconds, candidates=st.candidates,
                      lemmas=[f"lemma: {t}" if t in mined_names else t for t in st.kept],
                      dropped=[x if x.split(" (")[0] in enc.invariants or x.startswith(TYPE) else f"lemma: {x}"
                               for x in st.dropped])
    rep.formulas = dict(st.lemmas)  # the surviving mined lemmas
    return rep, enc, st.solver, st.unroller, st.survivors  # the survivors are also asserted on the solver


def _on_encoding(model: Model, enc: Encoding, states: list, timeout_ms: int,
                 only: frozenset[str] | None = None, jobs: int = 1) -> tuple:
    """Houdini on a given encoding (which assumes nothing beyond TYPE-OK)."""
    rep = ProveReport(model.sc.name, encode_seconds=enc.seconds)
    un = Unroller(enc)
    step = un.step()  # frame 0 -> frame 1
    x0, x1 = un.frames[0], un.frames[1]
    # candidates: (name, formula at frame 0, formula at frame 1)
    cands = [(c, _good(enc, c, x0), _good(enc, c, x1)) for c in [TYPE] + sorted(enc.invariants)
             if c == TYPE or only is None or c in only]
    mined = [(t, f) for t, f in mine(model, enc.layout, states, enc.xs) if only is None or t in only] if states else []
    if mined:
        at0, at1 = Renamer(list(zip(enc.xs, x0))), Renamer(list(zip(enc.xs, x1)))
        cands += [(f"lemma: {t}", at0(f), at1(f)) for t, f in mined]  # mined once, renamed per frame
    rep.candidates = len(cands)
    s = z3.SolverFor("QF_BV")
    s.set("timeout", timeout_ms)
    cands, _ = houdini(s, un.init_values(model), un, step, cands, rep.dropped, timeout_ms=timeout_ms,
                       explicit=amplifier_for(model, enc.layout, x0),
                       max_moves=MAX_MOVES, jobs=jobs, whole=only is not None)
    rep.lemmas = [c[0] for c in cands]
    kept = set(rep.lemmas)
    rep.formulas = {t: f for t, f in mined if f"lemma: {t}" in kept}
    return rep, enc, s, un, [c[1] for c in cands]


def _check_targets(rep: ProveReport, enc: Encoding, s: z3.Solver, un: Unroller, survivors: list,
                   targets: tuple[str, ...], reachable: set[int] | None, k_max: int = 1,
                   timeout_ms: int = 120_000) -> None:
    """Each target against the inductive survivors: appended to ``rep.results``."""
    x0, x1 = un.frames[0], un.frames[1]
    names = set(rep.lemmas)
    active = rep.lemmas
    by_name = {p.name: p for p in PROPERTIES}
    def method(k: int) -> str:
        return f"induction (k={k}), {len(active)} of {rep.candidates} lemmas"

    for name in targets:
        t0 = time.perf_counter()
        p = by_name.get(name)
        pair, hit = "", False
        if name in enc.invariants:
            ok = name in names
            detail = ""
            if not ok:
                _, detail, pair, hit = _holds(enc, un, s, z3.Not(_good(enc, name, x1)), reachable)
        elif name in enc.pairs:
            f = z3.substitute(enc.pairs[name], *zip(enc.xs, x0), *zip(enc.ys, x1))
            ok, detail, pair, hit = _holds(enc, un, s, f, reachable)
        elif name in enc.step_props:
            ok, detail, pair, hit = _holds(enc, un, s, z3.substitute(enc.step_props[name], *zip(enc.xs, x0)),
                                           reachable, where=enc.step_where.get(name))
        elif name == SPEC_ERROR:
            ok, detail = True, "no path of any step raises"
        elif p is not None and p.kind in ("event", "step") and name in enc.encoded:  # checked on every path
            ok, detail = True, "no step of this scenario can violate it"
        else:
            rep.results.append(ProofResult(name, "-", "not encoded", 0.0, "not a property of the symbolic encoding"))
            continue
        result, k = ("proved" if ok else "not inductive"), 1
        if not ok and not hit and k_max > 1 and not detail.startswith("solver"):
            result, k, detail, pair = _deeper(enc, un, survivors, name, k_max, timeout_ms, reachable, detail, pair)
        rep.results.append(ProofResult(name, method(k), result, time.perf_counter() - t0, detail, pair, k))


def _deeper(enc: Encoding, un: Unroller, survivors: list, name: str, k_max: int, timeout_ms: int,
            reachable: set[int] | None, detail: str, pair: str) -> tuple[str, int, str, str]:
    """k-induction for k = 2 .. k_max on a target plain induction left open: (result, k,
    detail, counterexample), the last k tried when none proves it."""
    init = un.init(enc.model)
    k = 1
    for k in range(2, k_max + 1):
        kr = k_induction(enc, un, survivors, name, k, init, timeout_ms)
        if kr.result == "proved":
            return "proved", k, kr.detail, ""
        if kr.result == "violated":
            return "violated", k, kr.detail, ""
        if kr.result == "unknown":
            return "not inductive", k, kr.detail, pair
        where = enc.step_where.get(name) if name in enc.step_props else None
        line, _hit, pair = _describe(enc, un, kr.model, reachable, where, kr.frame)
        detail = f"{line} (last step of a {k}-step path)"
    return "not inductive", k, detail, pair


def _holds(enc, un, s, bad, reachable, tries: int = 20,
           where: list | None = None) -> tuple[bool, str, str, bool]:
    """Whether no step from a strengthened state is ``bad``; else a counterexample to induction
    (in a line, and as the pair of states), preferring among the first ``tries`` the solver
    gives one whose pre-state is reachable.  ``where``: for a property of one step from the
    pre-state, which path breaks it under what condition (else the step is the model's).
    The survivors are asserted on ``s`` already."""
    s.push()
    s.add(bad)
    r = s.check()
    detail = "" if r == z3.unsat else f"solver: {r}"
    pair, hit = "", False
    for _ in range(tries if r == z3.sat else 0):
        m = s.model()
        detail, hit, pair = _describe(enc, un, m, reachable, where)
        if hit or reachable is None:
            break
        s.add(z3.Or(*[x != m.eval(x, model_completion=True) for x in un.frames[0]]))  # another pre-state
        if s.check() != z3.sat:
            break
    s.pop()
    return r == z3.unsat, detail, pair, hit


def is_reachable(model: Model, st, reachable: set[int] | None) -> bool:
    """Whether ``st`` is among ``reachable`` (hashes), which may hold the explicit checker's
    canonical states (daemons sorted) or the plain ones."""
    return reachable is not None and (hash(st) in reachable or hash(model.canonical(st)) in reachable)


def _describe(enc: Encoding, un: Unroller, m: z3.ModelRef, reachable: set[int] | None,
              where: list | None = None, i: int = 0) -> tuple[str, bool, str]:
    """A counterexample to induction: in a line (the step, and whether its pre-state is
    reachable), whether it is, and the pair of states: the pre-state where it differs from
    the initial state, and what the step changes.  ``i``: the step from frame i."""
    lay = enc.layout
    x0 = un.frames[i]
    vals = [m.eval(x, model_completion=True).as_signed_long() for x in x0]
    at0 = Renamer(list(zip(enc.xs, x0)))
    k = next((k for k, f in where or () if z3.is_true(m.eval(at0(f), model_completion=True))), None)
    if k is not None:  # the path that breaks the property (maybe one that halts): its own post-state
        st = enc.steps[k]
        post = [m.eval(at0(t), model_completion=True).as_signed_long() for t in st.post]
    else:
        post = [m.eval(x, model_completion=True).as_signed_long() for x in un.frames[i + 1]]
        sel = m.eval(un.sels[i], model_completion=True).as_long()
        st = enc.steps[un.moves[sel]] if 0 <= sel < len(un.moves) else None
    pre = lay.state_of(vals)
    where = f"{enc.model.actor_name(st.actor)} takes {st.label}" if st else "a step"
    hit = is_reachable(enc.model, pre, reachable)
    if reachable is None:
        reach = "reachability not checked"
    else:
        reach = "the pre-state IS reachable" if hit else \
            "the pre-state is not reachable (the lemmas are too weak, not a bug)"
    init = un.init_values(enc.model)
    lines = [f"  step: {where}", "  pre-state (where it differs from the initial state):"]
    lines += [f"    {sl.name} = {show(sl, v)}" for sl, v, v0 in zip(lay.slots, vals, init) if v != v0]
    lines.append("  the step changes:")
    lines += [f"    {sl.name}: {show(sl, a)} -> {show(sl, b)}" for sl, a, b in zip(lay.slots, vals, post) if a != b]
    return f"counterexample to induction: {where}; {reach}", hit, "\n".join(lines)
