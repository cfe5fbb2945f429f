"""Encodings that assume facts about the reachable states, without trusting them.

Running a step symbolically forks wherever its code branches, and under the type invariant
alone most forks lead into states no run reaches (a sync queue full of writes, a daemon
holding a job that is not queued).  Facts about the reachable states prune them, but a fact
taken on trust would make the encoding, and every verdict built on it, unsound.  Two ways
to use facts soundly, both starting from a *sample* of states (breadth-first up to a limit,
plus random runs to the end; it need not be complete, since nothing below trusts it):

``bmc_exact``: for bounded model checking.  Assume the values each variable takes in the
sample, and let BMC check them on every frame (``bmc.FACTS``).  A path that breaks one is
exact up to that frame, so the state where it breaks is reachable: add the path's states to
the sample, mine again and start over.  When BMC reaches the depth with no fact broken,
every frame of every path it considered satisfied the facts, where the encoding is exact:
the verdict is the spec's.

``strengthen``: for proofs, an encoding exact on every reachable state at any depth.

1. *Sample* states of the scenario: breadth-first up to a limit, plus random runs to the end
   (the sample need not be complete: nothing below trusts it).
2. *Mine* candidate lemmas from the sample (``lemmas.mine``); the unconditional ones among them
   (each variable's values, and the value sets of derived terms) are the ones the encoder
   will assume.
3. *Encode* assuming them, then run Houdini (``houdini.houdini``) over all candidates.  Houdini's
   check is a step from a state satisfying every surviving candidate, and there the encoding
   is exact, because the assumed facts are among those candidates.  What survives is an
   inductive invariant of the real transition relation: it holds in every reachable state.
4. If Houdini breaks an assumed fact, the encoding is not exact on all states the survivors
   allow.  Houdini keeps that fact assumed in the pre-state (pinned), where the encoding is
   exact, and goes on, so one round finds every assumed fact that breaks; then encode again
   without them, and go on from the survivors until none of the assumed breaks.

The result is an encoding that agrees with the spec on every reachable state, so BMC over
it is exact, and the surviving lemmas are the strengthening ``prove`` starts from.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import z3

from ...spec.model import Model
from ...spec.properties import Property
from ...spec.state import State
from .bmc import FACTS, TYPE, BmcResult, Unroller, bmc
from .concrete import amplifier_for
from .encode import Encoding, encode
from .layout import Layout
from .lemmas import Bfs, bfs, mine, value_facts, weakenings
from .houdini import MAX_MOVES, houdini
from .rename import Renamer


class NotExact(RuntimeError):
    """No strengthening to trust: Houdini dropped the type invariant (the encoding's pruning
    is then not justified), the solver gave up, or the rounds ran out."""


@dataclass
class Strengthening:
    encoding: Encoding
    lemmas: list[tuple[str, z3.BoolRef]]  # mined lemmas that survived, over the encoding's frame ``xs``
    assumed: list[str]  # the lemmas the encoding assumes (all among ``lemmas``)
    dropped: list[str] = field(default_factory=list)
    sampled: int = 0
    rounds: int = 0
    seconds: float = 0.0
    houdini_seconds: float = 0.0
    kept: list[str] = field(default_factory=list)  # every surviving candidate: TYPE-OK, spec invariants, lemmas
    candidates: int = 0
    solver: z3.Solver | None = None  # the step frame 0 -> 1 and the survivors at frame 0 asserted
    unroller: Unroller | None = None
    survivors: list[z3.BoolRef] = field(default_factory=list)  # the kept candidates at the unroller's frame 0


def sample_states(model: Model, limit: int = 50_000, walks: int = 2_000, seed: int = 0,
                  start: Bfs | None = None) -> list[State]:
    """Breadth-first states up to ``limit``, then ``walks`` random runs to the end (deterministic).
    ``start``: the breadth-first pass to this limit, already made (``lemmas.TooMany.bfs``)."""
    b = start if start is not None else bfs(model, limit)
    s0, seen, order = b.order[0], set(b.seen), list(b.order)
    rng = random.Random(seed)
    for _ in range(walks if b.todo else 0):
        s = s0
        for _ in range(500):
            succ = [t for t in (model.step(s, a, lb, c, canonical=False) for a, lb, c in model.enabled(s))
                    if not t.halts]
            if not succ:
                break
            s = rng.choice(succ).target
            if s not in seen:
                seen.add(s)
                order.append(s)
    return order


def strengthen(model: Model, props: list[Property] | None = None, limit: int = 50_000, walks: int = 2_000,
               seed: int = 0, max_rounds: int = 20, timeout_ms: int = 600_000,
               progress: Callable[[str], None] | None = None, states: list[State] | None = None,
               invariants: bool = True, only: frozenset[str] | None = None,
               explicit: bool = True, jobs: int = 1, given: list[tuple[str, z3.BoolRef]] | None = None) -> Strengthening:
    """An encoding of ``model`` that assumes only proved facts (see the module docstring).

    ``states``: mine from these instead of sampling (``prove`` passes the complete reachable
    set).  ``invariants``: the spec's invariant properties are candidates too; they make the
    language stronger (a flag invariant often keeps a type bound inductive).  ``only``: the
    candidates to start from, by name (a lemma file an earlier run wrote): Houdini then has
    little or nothing to drop, and what survives is checked as always; its questions are
    bit-blasted whole (``houdini``'s ``whole``), since each is asked once.  ``explicit``: Houdini
    also steps each counterexample's pre-state explicitly (``concrete.Amplifier``), which
    drops the same candidates in fewer questions.  ``jobs``: Houdini's questions asked at once, and
    actors encoded at once (``encode``).
    ``given``: the mined candidates themselves, over ``Layout(model).frame("x")`` (a lemma file's
    formulas), instead of mining ``states``; a broken fact is then not proposed again in weaker
    forms (that needs states), so a stale file can only prove less."""
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    lay = Layout(model)
    xs = lay.frame("x")
    spec_alive: set[str] | None = set(only) if only is not None else None
    if given is not None:
        states, mined = [], list(given)
    else:
        states = states if states is not None else sample_states(model, limit, walks, seed)
        mined = _mined(model, lay, xs, states, only)
    say(f"{len(states):,} states, {len(mined):,} candidate lemmas" if given is None
        else f"{len(mined):,} candidate lemmas read with their formulas")
    alive = {t for t, _ in mined}
    assumed = [t for t, _ in mined if "->" not in t]
    dropped: list[str] = []
    hs = 0.0
    weakened: set[str] = set()
    for rnd in range(1, max_rounds + 1):
        facts = [(t, f) for t, f in mined if t in set(assumed)]
        enc = encode(model, props, facts=facts, jobs=jobs)
        say(f"round {rnd}: encoded assuming {len(facts):,} facts: {enc.paths:,} paths in {enc.seconds:.1f}s")
        un = Unroller(enc)
        step = un.step()
        x0, x1 = un.frames[0], un.frames[1]
        cands = [(TYPE, lay.type_ok(x0), lay.type_ok(x1))]
        at0, at1 = Renamer(list(zip(enc.xs, x0))), Renamer(list(zip(enc.xs, x1)))
        m0, m1 = Renamer(list(zip(xs, x0))), Renamer(list(zip(xs, x1)))
        if invariants:
            for n in sorted(enc.invariants):
                if spec_alive is None or n in spec_alive:
                    bad = enc.invariants[n]
                    cands.append((n, z3.Not(at0(bad)), z3.Not(at1(bad))))
        cands += [(t, m0(f), m1(f)) for t, f in mined if t in alive]
        s = z3.SolverFor("QF_BV")
        s.set("timeout", timeout_ms)
        t1 = time.perf_counter()
        lost: list[str] = []
        protect = frozenset(assumed) | {TYPE}
        kept, complete = houdini(s, un.init_values(model), un, step, cands, lost, protect=protect,
                                 progress=lambda m: say(f"round {rnd}: {m}"), timeout_ms=timeout_ms,
                                 explicit=amplifier_for(model, lay, x0) if explicit else None,
                                 max_moves=MAX_MOVES, jobs=jobs, whole=only is not None)
        hs += time.perf_counter() - t1
        dropped += lost
        names = {c[0] for c in kept}
        broke = [x for x in lost if x.removesuffix(" (false initially)") in protect]
        say(f"round {rnd}: Houdini kept {len(kept):,} of {len(cands):,} in {time.perf_counter() - t1:.1f}s"
            + ("" if complete else f"; {len(broke)} assumed fact(s) broke: {', '.join(broke[:3])}"
               + (", ..." if len(broke) > 3 else "")))
        if any(x.startswith("(solver gave") for x in lost):
            raise NotExact(f"round {rnd}: {lost[-1]}")
        if TYPE not in names:
            raise NotExact("the type invariant is not inductive with the mined lemmas: "
                           "the encoding cannot be trusted beyond the reachable states")
        before = {t for t, _ in mined}
        alive = names & before
        spec_alive = names - alive - {TYPE}
        assumed = [t for t in assumed if t in alive]
        weak = {x.removesuffix(" (false initially)") for x in broke} - {TYPE} - weakened
        if weak and states:  # propose the broken facts again under each control atom (``lemmas.weakenings``)
            weakened |= weak
            more = [c for c in weakenings(model, lay, states, xs, [(t, f) for t, f in mined if t in weak])
                    if c[0] not in before]
            mined += more
            alive |= {t for t, _ in more}
        if complete:
            return Strengthening(enc, [(t, f) for t, f in mined if t in alive], assumed, dropped, len(states), rnd,
                                 time.perf_counter() - t0, hs, kept=[c[0] for c in kept],
                                 candidates=len(mined) + 1 + len(set(enc.invariants) & (only or set(enc.invariants))),
                                 solver=s, unroller=un,
                                 survivors=[c[1] for c in kept])
    raise NotExact(f"no exact encoding after {max_rounds} rounds")


def _mined(model: Model, lay: Layout, xs: list, states: list[State],
           only: frozenset[str] | None) -> list[tuple[str, z3.BoolRef]]:
    """The candidates mined from ``states``; with ``only``, those it names, and the weakened facts
    it names (proposed when their fact broke)."""
    vals = lay.values_of(states)  # read once for both below, then let go (300,000 states: hundreds of MB)
    mined = mine(model, lay, vals, xs)
    if only is None:
        return mined
    broke = [(t, f) for t, f in mined if "->" not in t and t not in only]
    mined = [(t, f) for t, f in mined if t in only]
    named = {t for t, _ in mined}  # a weakening may read as a mined implication: one candidate, not two
    return mined + [c for c in weakenings(model, lay, vals, xs, broke) if c[0] in only and c[0] not in named]


def bmc_exact(model: Model, depth: int, props: list[Property], limit: int = 50_000, walks: int = 2_000,
              seed: int = 0, max_rounds: int = 25, progress: Callable[[str], None] | None = None,
              por: bool = True, solver_params: dict[str, int] | None = None, jobs: int = 1) -> BmcResult:
    """BMC to ``depth`` on an encoding that assumes sampled value facts, refined until no path
    within the bound breaks one (see the module docstring); ``por`` and ``solver_params`` as in
    ``bmc``; ``jobs``: processes that encode (``encode``)."""
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    states = sample_states(model, limit, walks, seed)
    lay = Layout(model)
    xs = lay.frame("x")
    enc_s = solve_s = 0.0
    for rnd in range(1, max_rounds + 1):
        facts = value_facts(model, lay, states, xs)
        enc = encode(model, [p for p in props if p.kind != "reach"], facts=facts, jobs=jobs)
        say(f"round {rnd}: {len(states):,} states sampled, {len(facts)} facts, {enc.paths:,} paths, "
            f"encoded in {enc.seconds:.1f}s")
        res = bmc(model, depth, props, enc=enc, por=por, solver_params=solver_params,
                  progress=lambda k, _m: say(f"round {rnd}: depth {k} ({time.perf_counter() - t0:.0f}s)"))
        enc_s += enc.seconds
        solve_s += res.solve_seconds
        broke = res.violations.get(FACTS)
        if broke is None:
            res.rounds, res.sampled = rnd, len(states)
            res.encode_seconds, res.solve_seconds = enc_s, solve_s
            return res
        say(f"round {rnd}: a reachable state at depth {broke.depth} breaks a fact; mining again")
        states += broke.states
    raise RuntimeError(f"facts still broken after {max_rounds} rounds")
