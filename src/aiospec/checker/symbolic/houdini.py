"""Houdini: the largest inductive subset of a set of candidate lemmas.

Shared by ``prove`` (candidates mined from the reachable states) and ``strengthen`` (the
same, on an encoding that assumes some of them).  Dropping a candidate is always sound; what
survives is true initially and kept by every step from a state satisfying all survivors, so
it holds in every reachable state.
"""

from __future__ import annotations

import z3

Candidate = tuple  # (name, formula over frame 0, the same over frame 1)


def houdini(s: z3.Solver, init: list[int], x0: list, step: z3.BoolRef, cands: list[Candidate],
            dropped: list[str], protect: frozenset[str] = frozenset()) -> tuple[list[Candidate], bool]:
    """The largest inductive subset of ``cands``: those true initially and kept by every step
    (``step`` relates frame 0 to frame 1) from a state satisfying all of them.

    ``step`` stays asserted on ``s`` afterwards; each dropped candidate's name goes to ``dropped``.
    A candidate named in ``protect`` is one the caller's encoding assumed: when it breaks it is
    dropped, but it stays assumed in the pre-state (*pinned*), where the encoding is exact, and
    the search goes on.  Each further drop is still justified (its pre-state satisfies every
    survivor), so one call finds every protected candidate that breaks, not just the first.
    The second result then says False: the survivors are not yet shown inductive on the real
    relation, and the caller must encode again without the broken ones and call again."""
    keep = []
    sub = list(zip(x0, [z3.BitVecVal(v, x.size()) for x, v in zip(x0, init)]))
    for c in cands:  # the initial state is concrete: an evaluation
        if z3.is_true(z3.simplify(z3.substitute(c[1], *sub))):
            keep.append(c)
        else:
            dropped.append(f"{c[0]} (false initially)")
            if c[0] in protect:
                return [k for k in cands if k is not c], False
    cands = keep
    s.add(step)
    pre = [z3.Bool(f"pre{i}") for i in range(len(cands))]
    post = [z3.Bool(f"post{i}") for i in range(len(cands))]
    for i, c in enumerate(cands):  # literals, so that each round is one check under assumptions
        s.add(z3.Implies(pre[i], c[1]), post[i] == c[2])
    active = list(range(len(cands)))
    pinned: list[int] = []
    rnd = 0
    while active:  # drop every candidate a step breaks, until none breaks
        rnd += 1
        goal = z3.Bool(f"goal{rnd}")
        s.add(z3.Implies(goal, z3.Or(*[z3.Not(post[i]) for i in active])))
        r = s.check(goal, *[pre[i] for i in active + pinned])
        if r != z3.sat:
            if r != z3.unsat:
                dropped.append(f"(solver gave {r}: nothing further is proved)")
                active = []
            break
        m = s.model()
        broken = {i for i in active if z3.is_false(m.eval(post[i], model_completion=True))}
        dropped.extend(cands[i][0] for i in sorted(broken))
        active = [i for i in active if i not in broken]
        pinned += [i for i in sorted(broken) if cands[i][0] in protect]
    if pinned:
        return [cands[i] for i in active], False
    for i in active:  # what survived holds in every state from here on
        s.add(cands[i][1])
    return [cands[i] for i in active], True
