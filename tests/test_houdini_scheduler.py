"""Houdini's scheduler against brute force: on small random transition systems, with the
answers handed back in any order, it must keep exactly the largest inductive subset and drop
each other candidate once.  The solver, the questions and the pool are stand-ins that answer
by enumerating the states, so only the loop in ``houdini.houdini`` is under test: when an
answer's drops count (``& alive``), and which survivors an "unsat" settles (the version it
was asked at)."""

from __future__ import annotations

from typing import Callable

import pytest
import z3
from hypothesis import given, settings
from hypothesis import strategies as hs

from aiospec.checker.symbolic import houdini as H

STATES = 4  # one 2-bit variable: small enough that random systems often need a second pass


class _Frames:
    def __init__(self) -> None:
        self.frames = [[z3.BitVec("x", 2)]]


def _largest_inductive(init: int, preds: list[frozenset[int]], moves: list[list[int]]) -> set[int]:
    alive = {i for i, p in enumerate(preds) if init in p}
    while True:
        pre = [s for s in range(STATES) if all(s in preds[i] for i in alive)]
        broken = {i for i in alive for s in pre for mv in moves if mv[s] not in preds[i]}
        if not broken:
            return alive
        alive -= broken


def _houdini(init: int, preds: list[frozenset[int]], moves: list[list[int]], jobs: int,
             pick: Callable[[int], int]) -> tuple[list[str], list[str]]:
    """Houdini with stand-ins: one question per move, about every candidate, answered when it is
    asked (about the survivors then) by enumerating the states; ``pick(n)`` says which of the
    ``n`` answers in flight is handed back next.  (survivors, dropped)."""
    x = _Frames().frames[0][0]
    cands = [(f"c{k}", z3.Or(*[x == v for v in sorted(p)]), p) for k, p in enumerate(preds)]

    class Questions:
        def __init__(self, un, cs, max_moves=None) -> None:
            self.todo = [(g, g, list(range(len(cs)))) for g in range(len(moves))]

    class Fast:
        def __init__(self, *a) -> None:
            pass

        def false_in(self, m: frozenset[int], hit: list[int]) -> set[int]:
            return {i for i in hit if i in m}

    class Ask:
        def __init__(self, n: int, s, un, cs, *_a) -> None:
            self.n, self.cs, self.flying = n, cs, []

        def free(self) -> bool:
            return len(self.flying) < self.n

        def submit(self, qq, hit, assumed, version, n) -> None:
            g = qq[0]
            answer = (z3.unsat, None)
            for s in range(STATES):
                if all(s in self.cs[i][2] for i in assumed):
                    broken = frozenset(j for j in hit if moves[g][s] not in self.cs[j][2])
                    if broken:
                        answer = (z3.sat, broken)
                        break
            self.flying.append((qq, hit, version, *answer))

        def result(self):
            return self.flying.pop(pick(len(self.flying)))

        def forget(self, lo, hi) -> None:
            pass

        def close(self) -> None:
            pass

    dropped: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(H, "_Questions", Questions)
        mp.setattr(H, "_Fast", Fast)
        mp.setattr(H, "_Asker", lambda *a: Ask(1, *a))
        mp.setattr(H, "_Pool", lambda n, *a: Ask(n, *a))
        kept, complete = H.houdini(z3.Solver(), [init], _Frames(), z3.BoolVal(True), cands, dropped, jobs=jobs)
    assert complete
    return [c[0] for c in kept], dropped


def _agrees_with_brute_force(init, preds, moves, kept, dropped) -> None:
    want = _largest_inductive(init, preds, moves)
    assert kept == [f"c{k}" for k in sorted(want)]
    assert len(dropped) == len(set(dropped)) == len(preds) - len(want)  # each dropped once
    assert {d.removesuffix(" (false initially)") for d in dropped} == {f"c{k}" for k in range(len(preds))} - {
        f"c{k}" for k in want}


@settings(max_examples=300, deadline=None)
@given(init=hs.integers(0, STATES - 1),
       preds=hs.lists(hs.frozensets(hs.integers(0, STATES - 1), min_size=1), min_size=1, max_size=7),
       moves=hs.lists(hs.lists(hs.integers(0, STATES - 1), min_size=STATES, max_size=STATES), min_size=1, max_size=4),
       jobs=hs.integers(1, 4), data=hs.data())
def test_any_order_of_answers_keeps_the_largest_inductive_subset(init, preds, moves, jobs, data):
    preds = [p | {init} if k % 3 else p for k, p in enumerate(preds)]  # most true initially: work to do
    kept, dropped = _houdini(init, preds, moves, jobs, lambda n: data.draw(hs.integers(0, n - 1), label="answer"))
    _agrees_with_brute_force(init, preds, moves, kept, dropped)


def test_an_unsat_about_more_survivors_than_are_left_is_asked_again():
    """c0 = {0,1,2} is kept by move 0 only while c1 = {0,1} holds too (0 -> 0, 1 -> 1, but 2 -> 3),
    and move 1 breaks c1 (0 -> 2).  Both are asked at once; move 1's answer is read first, so
    move 0's "unsat" is about survivors that are gone: it settles nothing, and the next pass
    asks again and drops c0.  Settling it as of now would keep c0, which is not inductive."""
    order = iter([1, 0])
    kept, dropped = _houdini(0, [frozenset({0, 1, 2}), frozenset({0, 1})], [[0, 1, 3, 0], [2, 1, 2, 0]], 2,
                             lambda n: next(order, 0))
    assert kept == [] and dropped == ["c1", "c0"]
    _agrees_with_brute_force(0, [frozenset({0, 1, 2}), frozenset({0, 1})], [[0, 1, 3, 0], [2, 1, 2, 0]], kept, dropped)
