"""Houdini: the largest inductive subset of a set of candidate lemmas.

Shared by ``prove`` (candidates mined from the reachable states) and ``strengthen`` (the
same, on an encoding that assumes some of them).  Dropping a candidate is always sound; what
survives is true initially and kept by every step from a state satisfying all survivors, so
it holds in every reachable state.

The step is asked about one actor step at a time (the selector fixed to the paths of one
(actor, option)), and only for the candidates over a variable those paths write: every
other candidate keeps its pre-state value on that step.  One question about every step at
once made the solver weigh every step's updates through the selector's if-then-else
chains; on ``lio-wait`` the split questions took Houdini from 71 s to 51 s.  Each (actor,
option) has a solver of its own, holding only its paths.  When the solver cannot answer a
question in time, the question is asked again about each half of its paths, down to single
paths, before Houdini gives up (an unanswered question proves nothing and drops nothing).
Each counterexample's pre-state is also stepped explicitly (``concrete.Amplifier``): one
question then drops what several would have found (race-n T=3: 400 questions down to 152).
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable

import z3
from z3 import z3core

from .. import interrupt
from .concrete import Amplifier, postorder
from .rename import Renamer

Candidate = tuple  # (name, formula over frame 0, the same over frame 1)


def default_jobs() -> int:
    """Questions to ask (and actors to encode) at once by default: the CPUs this process may run on, unless
    ``AIOSPEC_JOBS`` says otherwise (a ValueError if it is not a whole number of at least 1).
    Each extra one holds its own copy of the step relation: 0.1 GB more on ``default``'s check,
    0.3 GB on the search of ``lio-wait``."""
    env = os.environ.get("AIOSPEC_JOBS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"AIOSPEC_JOBS must be a whole number of at least 1, not {env!r}")
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def constants(f: z3.ExprRef, memo: dict[int, frozenset[int]]) -> frozenset[int]:
    """The ids of the uninterpreted constants in ``f`` (``memo`` is shared across calls,
    so the subterms formulas share are walked once)."""
    for e, kids in postorder(f, memo):
        if not kids and z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            memo[e.get_id()] = frozenset((e.get_id(),))
        else:
            memo[e.get_id()] = frozenset().union(*(memo[c.get_id()] for c in kids))
    return memo[f.get_id()]


def houdini(s: z3.Solver, init: list[int], un, step: z3.BoolRef, cands: list[Candidate],
            dropped: list[str], protect: frozenset[str] = frozenset(),
            progress: Callable[[str], None] | None = None,
            timeout_ms: int | None = None,
            explicit: Callable[[list[z3.BoolRef]], Amplifier] | None = None,
            max_moves: int | None = None, jobs: int = 1, whole: bool = False) -> tuple[list[Candidate], bool]:
    """The largest inductive subset of ``cands``: those true initially and kept by every step
    from a state satisfying all of them.

    ``un`` is the unroller whose first step, ``step``, relates frame 0 to frame 1.  ``step``
    stays asserted on ``s`` afterwards; each dropped candidate's name goes to ``dropped``.
    A candidate named in ``protect`` is one the caller's encoding assumed: when it breaks it is
    dropped, but it stays assumed in the pre-state (*pinned*), where the encoding is exact, and
    the search goes on.  Each further drop is still justified (its pre-state satisfies every
    survivor), so one call finds every protected candidate that breaks, not just the first.
    The second result then says False: the survivors are not yet shown inductive on the real
    relation, and the caller must encode again without the broken ones and call again.
    A question that said "unsat" is not asked again until the survivors change (the last pass
    asks only the steps before the last drop).  ``progress`` hears about the search every few
    seconds.  ``explicit`` (given the candidates' frame-0 formulas) makes an ``Amplifier``: each
    pre-state the solver finds is then also stepped explicitly, and every candidate a real step
    breaks from it is dropped at once.  ``max_moves``: an actor step with more paths than this is
    asked about in near-equal parts from the start, instead of whole and halved only after the
    time limit (see ``MAX_MOVES``).  ``jobs``: how many questions are asked at once, each on a z3
    context and a thread of its own (``_Pool``); the survivors are the same, found sooner.
    ``whole``: each question is bit-blasted whole and handed to the SAT solver (z3's ``qfbv``
    tactic) instead of the incremental core.  For checking a certificate, where each question is
    asked once and says "unsat", that is 2-4x faster and uses a third of the memory (``default``'s
    file: Houdini 70-77 s to 37-39 s, 1.4 GB to 0.4 GB; docs/proofs.md); a search asks each step again after every drop,
    where the incremental core's learnt clauses pay (``lio-wait``: 110 s against 184 s)."""
    x0 = un.frames[0]
    keep = []
    at_init = Renamer([(x, z3.BitVecVal(v, x.size())) for x, v in zip(x0, init)])
    for c in cands:  # the initial state is concrete: an evaluation
        if z3.is_true(z3.simplify(at_init(c[1]))):
            keep.append(c)
        else:
            dropped.append(f"{c[0]} (false initially)")
            if c[0] in protect:
                s.add(step)
                return [k for k in cands if k is not c], False
    cands = keep
    s.add(step)
    pre = [z3.Bool(f"pre{i}") for i in range(len(cands))]
    post = [z3.Bool(f"post{i}") for i in range(len(cands))]
    assume_pre = [z3.Implies(pre[i], c[1]) for i, c in enumerate(cands)]
    alive = set(range(len(cands)))
    pinned: set[int] = set()
    questions = _Questions(un, cands, max_moves)
    fast = _Fast(s, post, pre)
    ask = _Asker(s, un, cands, assume_pre, post, fast, timeout_ms, whole) if jobs <= 1 else \
        _Pool(jobs, s, un, cands, assume_pre, post, fast, timeout_ms, whole)
    amp = explicit([c[1] for c in cands]) if explicit is not None else None
    n = 0
    npass = 0
    version = 0  # how many times the survivors changed
    settled: dict[tuple[int, int], int] = {}  # moves lo..hi: the version its last "unsat" was for
    said = time.perf_counter()

    def tell(said: float, npass: int, done: int, n: int) -> float:
        """Where the search is, every 5 s at most: the time it last said so."""
        if not progress or time.perf_counter() - said <= 5:
            return said
        progress(f"Houdini pass {npass}, step {min(done + 1, len(questions.todo))}/{len(questions.todo)}: "
                 f"{len(cands) - len(alive):,} of {len(cands):,} candidates dropped ({n:,} questions"
                 + (f", {amp.dropped:,} by explicit steps" if amp is not None else "") + ")")
        return time.perf_counter()

    changed = True
    try:
        while changed and alive:  # passes over the steps until one breaks nothing
            changed = False
            npass += 1
            work = deque(questions.todo)
            done = 0
            while work or ask.flying:
                interrupt.check()
                while work and ask.free():  # hand out questions while a solver is free
                    qq = work.popleft()
                    lo, hi, asked = qq
                    hit = [i for i in asked if i in alive]
                    if not hit or settled.get((lo, hi)) == version:  # nothing changed since it said unsat
                        done += 1
                        continue
                    said = tell(said, npass, done, n)  # before the check too: one question can take long
                    n += 1
                    ask.submit(qq, hit, alive | pinned, version, n)
                if not ask.flying:
                    continue
                said = tell(said, npass, done, n)
                qq, hit, asked_at, r, m = ask.result()  # the next answer: a model of the main context if sat
                lo, hi, _ = qq
                if r == z3.unsat:
                    settled[lo, hi] = asked_at
                    done += 1
                    continue
                if r != z3.sat:
                    if hi > lo:  # too hard at once: ask about each half of the moves instead
                        halves = questions.split(qq)
                        ask.forget(lo, hi)
                        work.extendleft(reversed(halves))
                        if progress:
                            progress(f"solver gave {r} on moves {lo}..{hi}: asking each half")
                        continue
                    dropped.append(f"(solver gave {r}: nothing further is proved)")
                    alive = set()
                    break
                broken = fast.false_in(m, hit) & alive  # another answer may have dropped some meanwhile
                if amp is not None:
                    broken |= amp.broken(m, sorted(alive - broken))
                dropped.extend(cands[i][0] for i in sorted(broken))
                alive -= broken
                pinned |= {i for i in broken if cands[i][0] in protect}
                if broken:
                    changed = True
                    version += 1
                work.appendleft(qq)  # asked again, about what is left
    finally:
        ask.close()
    if progress:
        progress(f"Houdini asked {n:,} questions in {npass} passes"
                 + (f"; {amp.dropped:,} candidates dropped by explicit steps" if amp is not None else ""))
    out = [cands[i] for i in sorted(alive)]
    if pinned:
        return out, False
    for c in out:  # what survived holds in every state from here on
        s.add(c[1])
    return out, True


class _Asker:
    """Asks each question on the caller's thread, in the caller's context, one at a time."""

    def __init__(self, s: z3.Solver, un, cands: list[Candidate], assume_pre: list, post: list,
                 fast: "_Fast", timeout_ms: int | None, whole: bool = False) -> None:
        self.ctx, self.un, self.cands, self.assume_pre, self.post = s.ctx, un, cands, assume_pre, post
        self.fast, self.timeout_ms, self.whole = fast, timeout_ms, whole
        self.solvers: dict[tuple[int, int], z3.Solver] = {}
        self.flying: list[tuple] = []

    def formulas(self, lo: int, hi: int, asked: list[int]) -> list[z3.BoolRef]:
        """What the question's own solver holds: only the moves lo..hi, and only the post-state
        literals it is asked about (literals, so that each question is one check under assumptions)."""
        return [self.un.group_step(lo, hi)[0], *self.assume_pre, *[self.post[i] == self.cands[i][2] for i in asked]]

    def free(self) -> bool:
        return not self.flying

    def submit(self, qq: tuple, hit: list[int], assumed: set[int], version: int, n: int) -> None:
        lo, hi, asked = qq
        if (lo, hi) not in self.solvers:
            self.solvers[lo, hi] = g = _new_solver(self.ctx, self.timeout_ms, lo, hi, self.whole)
            g.add(*self.formulas(lo, hi, asked))
        g = self.solvers[lo, hi]
        goal = z3.Bool(f"goal{n}")
        g.add(z3.Implies(goal, self.fast.any_false(hit)))
        r = self.fast.check(g, goal, assumed)
        self.flying.append((qq, hit, version, r, g.model() if r == z3.sat else None))

    def result(self) -> tuple:
        """(question, the survivors it was asked about, the version then, the answer, its model)."""
        return self.flying.pop()

    def forget(self, lo: int, hi: int) -> None:
        self.solvers.pop((lo, hi), None)

    def close(self) -> None:
        self.solvers.clear()


class _Pool(_Asker):
    """Asks up to ``jobs`` questions at once, each on a thread and a z3 context of its own.

    A z3 context may be used by one thread at a time, so the caller's thread builds every
    question in its own context and translates it into an idle one; the thread is handed only
    C pointers (no Python z3 object, whose release would call into a busy context).  A model is
    translated back before it is read.  Houdini's answer does not depend on the order the
    answers come in: a pre-state that satisfied the survivors when asked satisfies the fewer
    survivors there are when it is read, so each drop stays justified, and a question whose
    "unsat" was for an older set of survivors is asked again."""

    def __init__(self, jobs: int, s: z3.Solver, un, cands: list[Candidate], assume_pre: list, post: list,
                 fast: "_Fast", timeout_ms: int | None, whole: bool = False) -> None:
        super().__init__(s, un, cands, assume_pre, post, fast, timeout_ms, whole)
        self.ctxs = [z3.Context() for _ in range(jobs)]
        self.pre: list[list | None] = [None] * jobs  # per context: the pre-state literals' ASTs
        self.keep: list[list] = [[] for _ in range(jobs)]
        self.idle = list(range(jobs))
        self.wsolvers: dict[tuple[int, int, int], z3.Solver] = {}
        self.exe = ThreadPoolExecutor(jobs, thread_name_prefix="houdini")
        self.flying: dict = {}

    def free(self) -> bool:
        return bool(self.idle)

    def submit(self, qq: tuple, hit: list[int], assumed: set[int], version: int, n: int) -> None:
        lo, hi, asked = qq
        w = next((w for w in self.idle if (w, lo, hi) in self.wsolvers), self.idle[0])  # its solver has learnt
        self.idle.remove(w)
        ctx = self.ctxs[w]
        if (w, lo, hi) not in self.wsolvers:  # (a translated solver would lose QF_BV's preprocessing)
            v = z3.AstVector(ctx=self.ctx)
            for f in self.formulas(lo, hi, asked):
                v.push(f)
            self.wsolvers[w, lo, hi] = g = _new_solver(ctx, self.timeout_ms, lo, hi, self.whole)
            g.add(*v.translate(ctx))
        g = self.wsolvers[w, lo, hi]
        if self.pre[w] is None:
            self.keep[w] = [z3.Bool(f"pre{i}", ctx) for i in range(len(self.cands))]
            self.pre[w] = [x.as_ast() for x in self.keep[w]]
        goal = z3.Bool(f"goal{n}", ctx)
        g.add(z3.Implies(z3.Bool(f"goal{n}"), self.fast.any_false(hit)).translate(ctx))
        pre = self.pre[w]
        arr = (z3.Ast * (len(assumed) + 1))(goal.as_ast(), *[pre[i] for i in assumed])
        fut = self.exe.submit(z3core.Z3_solver_check_assumptions, ctx.ref(), g.solver, len(arr), arr)
        self.flying[fut] = (w, qq, hit, version, goal, arr)  # goal and arr stay alive on this thread

    def result(self) -> tuple:
        done, _ = wait(self.flying, return_when=FIRST_COMPLETED)
        fut = min(done, key=lambda f: self.flying[f][0])
        w, qq, hit, version, _goal, _arr = self.flying.pop(fut)
        r = z3.CheckSatResult(fut.result())
        m = self.wsolvers[w, qq[0], qq[1]].model().translate(self.ctx) if r == z3.sat else None
        self.idle.append(w)
        return qq, hit, version, r, m

    def forget(self, lo: int, hi: int) -> None:
        for w in range(len(self.ctxs)):
            self.wsolvers.pop((w, lo, hi), None)

    def close(self) -> None:
        for w, *_ in self.flying.values():  # an answer no longer wanted (an error, or Ctrl-C)
            self.ctxs[w].interrupt()
        self.exe.shutdown(wait=True)
        self.flying.clear()
        self.wsolvers.clear()
        self.keep = []


# An actor step with many paths is asked about in parts of at most this many.  Where a question
# is "unsat" the solver must refute every path it covers, and that grows faster than the paths:
# checking `default`'s lemma file (18,685 lemmas), three whole-step questions of 90 to 323 paths
# ran into the 120 s limit before being halved, and Houdini took 809 s; in parts of 64 none did,
# 511 s (parts of 32: 530 s).  Searches: `lio-wait` 92-121 s against 137-143 s whole, `race-n
# T=2` 117 s against 126 s, `lio-signal` 175 s and `race-n T=3` 7.2 min either way; same lemmas
# (docs/proofs.md says the load).  The search on `default` was not measured in parts.
MAX_MOVES = 64


def _new_solver(ctx: z3.Context, timeout_ms: int | None, lo: int, hi: int, whole: bool = False) -> z3.Solver:
    """A solver for the questions about moves lo..hi (a seam for tests: they make one fail);
    ``whole``: one that bit-blasts each question afresh (see ``houdini``)."""
    g = z3.Tactic("qfbv", ctx=ctx).solver() if whole else z3.SolverFor("QF_BV", ctx=ctx)
    if timeout_ms is not None:
        g.set("timeout", timeout_ms)
    return g


def _chunks(lo: int, hi: int, most: int | None) -> list[tuple[int, int]]:
    """lo..hi cut into near-equal ranges of at most ``most`` moves."""
    n = hi - lo + 1
    k = 1 if not most else -(-n // most)
    return [(lo + n * i // k, lo + n * (i + 1) // k - 1) for i in range(k)]


class _Questions:
    """What Houdini asks: per (actor, option), the range of selector values of its paths and
    the candidates over a variable one of those paths writes, in parts of at most ``max_moves``
    paths.  A question the solver cannot answer in time is split into its two halves (``split``)."""

    def __init__(self, un, cands: list[Candidate], max_moves: int | None = None) -> None:
        slot = {x.get_id(): v for v, x in enumerate(un.frames[1])}
        memo: dict[int, frozenset[int]] = {}
        self.reads = [frozenset(slot[k] for k in constants(c[2], memo) if k in slot) for c in cands]
        self.writes: dict[int, set[int]] = {}
        for v, ws in enumerate(un.writers()):
            for n, _t in ws:
                self.writes.setdefault(n, set()).add(v)
        groups: list[list] = []  # [first move, last move, (actor, option)]
        for n, i in enumerate(un.moves):
            st = un.enc.steps[i]
            if groups and groups[-1][2] == (st.actor, st.option):
                groups[-1][1] = n
            else:
                groups.append([n, n, (st.actor, st.option)])
        self.todo = [self.question(a, b) for lo, hi, _ in groups for a, b in _chunks(lo, hi, max_moves)]

    def question(self, lo: int, hi: int) -> tuple[int, int, list[int]]:
        w = set().union(*(self.writes.get(n, set()) for n in range(lo, hi + 1)))
        return lo, hi, [i for i, r in enumerate(self.reads) if r & w]

    def split(self, qq: tuple) -> list[tuple]:
        """Question ``qq`` replaced by its two halves, which are returned."""
        q = self.todo.index(qq)
        lo, hi, _ = qq
        mid = (lo + hi) // 2
        self.todo[q:q + 1] = halves = [self.question(lo, mid), self.question(mid + 1, hi)]
        return halves


def check_assuming(g: z3.Solver, goal: z3.BoolRef, assumed: list) -> z3.CheckSatResult:
    """``g.check(goal, *assumed)`` with ``assumed`` given as ASTs, handed to the C API in one
    array (thousands of assumptions a question; through the Python API each is cast)."""
    arr = (z3.Ast * (len(assumed) + 1))(goal.as_ast(), *assumed)
    return z3.CheckSatResult(z3core.Z3_solver_check_assumptions(g.ctx.ref(), g.solver, len(arr), arr))


class _Fast:
    """The two things Houdini does thousands of times, through the C API: the disjunction of
    some post-state literals' negations, and which of them a model makes false.  Through the
    Python API these took more time than the solver on ``default`` (22,184 candidates)."""

    def __init__(self, s: z3.Solver, post: list[z3.BoolRef], pre: list[z3.BoolRef]) -> None:
        self.ctx = s.ctx
        self.neg = [z3.Not(p) for p in post]  # kept alive: their ASTs are used below
        self.neg_ast = [x.as_ast() for x in self.neg]
        self.post = post
        self.decl = [p.decl().ast for p in post]
        self.pre, self.pre_ast = pre, [x.as_ast() for x in pre]

    def check(self, g: z3.Solver, goal: z3.BoolRef, assumed: set[int]) -> z3.CheckSatResult:
        """``g.check(goal, pre[i] for i in assumed)``, without a Python cast per assumption
        (on ``lio-wait`` about 10,000 per question)."""
        if type(g) is not z3.Solver:  # a test's stand-in
            return g.check(goal, *[self.pre[i] for i in assumed])
        return check_assuming(g, goal, [self.pre_ast[i] for i in assumed])

    def any_false(self, idx: list[int]) -> z3.BoolRef:
        arr = (z3.Ast * len(idx))(*[self.neg_ast[i] for i in idx])
        return z3.BoolRef(z3core.Z3_mk_or(self.ctx.ref(), len(idx), arr), self.ctx)

    def false_in(self, m: z3.ModelRef, idx: list[int]) -> set[int]:
        c, mm = self.ctx.ref(), m.model
        out = set()
        for i in idx:
            a = z3core.Z3_model_get_const_interp(c, mm, self.decl[i])
            if a:
                if z3core.Z3_get_bool_value(c, a) == z3.Z3_L_FALSE:
                    out.add(i)
            elif z3.is_false(m.eval(self.post[i], model_completion=True)):  # left out of the model
                out.add(i)
        if not out:  # the goal holds in the model, so one asked literal is false: never here
            raise AssertionError("a Houdini model breaks no candidate it was asked about")
        return out
