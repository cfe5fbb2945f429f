"""The lemmas a proof needs: smaller certificates, by unsat cores.

Houdini keeps the *largest* inductive subset of its candidates, and a proof needs far fewer.
Checking a lemma file costs about in proportion to its lemmas (each question carries one
assumption per lemma), so a file holding only what the proof uses checks faster.  Nothing
here is trusted: a lemma file is checked again whenever it is read, so a wrong cut could only
make a later proof prove less, never wrongly.

How.  Each survivor gets a literal ``b`` guarding it in the pre-state (``b -> lemma``).  The
set kept starts from the *roots*: TYPE-OK and the facts the encoding assumes (they make it
exact), the invariant targets among the survivors, and, for every other target proved by
k-induction, the survivors its query used (the unsat core of that query under the literals).
Then, round after round until nothing is added: for every Houdini question (one actor step's
paths, in parts, and the kept lemmas over a variable they write), is a kept lemma broken by a
step from a state satisfying the survivors?  The answer is "unsat" (they are inductive), and
its core names the survivors the refutation used; those are kept too.  The question is first
asked under the kept lemmas alone, so that a core reuses them where it can.

At the fixpoint every kept lemma is kept by every step from a state satisfying the kept
ones (a step that writes nothing a lemma reads keeps it trivially), and all of them hold
initially: the kept set is inductive on its own, and proves the targets as the whole did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import z3

from .bmc import TYPE, Unroller
from .encode import Encoding
from .houdini import MAX_MOVES, _new_solver, _Questions, check_assuming
from .kinduct import k_induction
from .rename import Renamer


@dataclass
class Needed:
    names: list[str]  # the kept survivors, in the survivors' order
    roots: int  # how many of them were kept from the start
    rounds: int
    questions: int
    seconds: float


class CannotMinimize(RuntimeError):
    """The solver did not answer a question (time limit): keep every survivor."""


def needed(enc: Encoding, un: Unroller, names: list[str], survivors: list[z3.BoolRef],
           roots: set[str], proved: list[tuple[str, int]], timeout_ms: int = 120_000,
           progress: Callable[[str], None] | None = None, max_moves: int | None = MAX_MOVES) -> Needed:
    """The survivors a proof needs (see the module docstring).

    ``names``/``survivors``: the inductive lemmas (formulas over ``un``'s frame 0), as Houdini
    left them; ``roots``: names kept whatever the cores say; ``proved``: (target, k) for each
    target proved by k-induction that is not itself a survivor."""
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    x0, x1 = un.frames[0], un.frames[1]
    to1 = Renamer(list(zip(x0, x1)))
    cands = [(n, f, to1(f)) for n, f in zip(names, survivors)]
    lits = [z3.Bool(f"need{i}") for i in range(len(cands))]
    index = {b.get_id(): i for i, b in enumerate(lits)}
    asts = [b.as_ast() for b in lits]
    guarded = [z3.Implies(b, c[1]) for b, c in zip(lits, cands)]
    keep = {i for i, n in enumerate(names) if n in roots}
    init = un.init(enc.model)
    for name, k in proved:
        kr = k_induction(enc, un, guarded, name, k, init, timeout_ms, assume=lits)
        if kr.result != "proved" or kr.core is None:
            raise CannotMinimize(f"{name}: {k}-induction under the guarded lemmas gave {kr.result}")
        keep |= {index[c.get_id()] for c in kr.core if c.get_id() in index}
    nroots = len(keep)
    say(f"minimizing: {nroots:,} roots of {len(cands):,} lemmas")
    questions = _Questions(un, cands, max_moves)
    solvers: dict[tuple[int, int], z3.Solver] = {}
    new, rounds, asked = set(keep), 0, 0
    ctx = un.frames[0][0].ctx
    while new:
        rounds += 1
        added: set[int] = set()
        for lo, hi, reads in questions.todo:
            hit = [i for i in reads if i in new]
            if not hit:
                continue
            if (lo, hi) not in solvers:
                g = _new_solver(ctx, timeout_ms, lo, hi)
                g.add(un.group_step(lo, hi)[0], *guarded)
                solvers[lo, hi] = g
            g = solvers[lo, hi]
            asked += 1
            goal = z3.Bool(f"needgoal{asked}")
            g.add(z3.Implies(goal, z3.Or(*[z3.Not(cands[i][2]) for i in hit])))
            core = None
            for pool in (keep, range(len(cands))):  # the kept lemmas first: a core that reuses them
                r = check_assuming(g, goal, [asts[i] for i in pool])
                if r == z3.unsat:
                    core = {index[c.get_id()] for c in g.unsat_core() if c.get_id() in index}
                    break
                if r != z3.sat:
                    raise CannotMinimize(f"solver gave {r} on moves {lo}..{hi}")
            if core is None:
                raise CannotMinimize(f"moves {lo}..{hi} break a survivor: the survivors are not inductive")
            added |= core - keep
            keep |= core
        new = added
        say(f"minimizing, round {rounds}: {len(added):,} more, {len(keep):,} of {len(cands):,} kept "
            f"({asked:,} questions, {time.perf_counter() - t0:.0f}s)")
    return Needed([names[i] for i in sorted(keep)], nroots, rounds, asked, time.perf_counter() - t0)


def roots_of(enc: Encoding, names: list[str], targets: tuple[str, ...]) -> set[str]:
    """What a smaller certificate keeps whatever the cores say: TYPE-OK, the assumed facts,
    and the invariant targets that are survivors."""
    return {TYPE} | {f"lemma: {t}" for t, _ in enc.facts} | (set(targets) & set(names) & set(enc.invariants))
