"""Encoding on several cores: each actor's steps in a forked process, sent back as SMT-LIB.

Encoding runs the spec's Python on symbolic values and holds the GIL, so threads would not
help.  ``spread`` forks workers (multiprocessing's fork context: they inherit the model and the
encoding so far, nothing is pickled but the answers).  Each worker encodes one actor and
sends its terms back as one SMT-LIB formula, which the parent parses in milliseconds (sharing
kept: z3 prints shared subterms once, with ``let``).

The same relation comes out of every run, however the actors were shared out: z3's answers
depend on the terms that exist in its context, so each actor is encoded in a process of its
own, forked from the parent before the parent makes any new term (it parses the answers only
once all have come), and every actor goes through the text.  One core (``jobs=1``) encodes in
turn, in this process: the same relation up to the shape of its terms (tested).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import signal
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any, Callable

import z3

from .. import interrupt


@dataclass
class ActorSteps:
    """What encoding one actor gave: its guarded updates, where they break step properties,
    and the work it took."""

    steps: list[tuple]  # (option, label, halts, guard, post)
    bad: list[tuple]  # (property, index in ``steps``, violated on that path)
    paths: int = 0
    checks: int = 0
    said: list[str] = field(default_factory=list)  # progress lines


_TERM = "aiospec!t"  # the names that carry each term through the text
_WORK: tuple | None = None  # (work, actors, gc on) of the encoding being spread, inherited by the workers


def can_fork() -> bool:
    """Forking copies only the calling thread, with every lock as it was.  A worker thread (a
    Houdini pool's, not a daemon) may be inside z3 and hold a lock the child would wait on
    for ever.  A daemon thread, such as the refresher of rich's status line on a terminal,
    never calls z3 here, and the child never touches the standard streams whose locks it
    may hold (it leaves by ``os._exit``), so it does not stop the fork."""
    me = threading.current_thread()
    return all(t is me or t.daemon for t in threading.enumerate()) and "fork" in mp.get_all_start_methods()


def spread(work: Any, actors: list, jobs: int, progress: Callable[[str], None] | None) -> list[ActorSteps] | None:
    """``work.run(actor)`` for every actor on ``jobs`` processes, in the actors' order; None
    when forking is not safe here (the caller then runs them itself).

    Every fork is made by this thread, between two waits, so no other thread of this process
    can hold a lock of z3's at that moment (a pool's helper thread forking its replacement
    workers while this one parsed answers hung).  Cyclic garbage collection is off meanwhile,
    so that what z3 frees, and so the state each worker starts from, is the same on every run."""
    global _WORK
    if not can_fork():
        return None
    gc_was = gc.isenabled()
    _WORK = (work, actors, gc_was)
    ctx = mp.get_context("fork")
    got: dict[int, tuple] = {}
    running: dict[Any, tuple[int, Any]] = {}  # connection -> (actor index, process)
    # the last first: the exit thread and the daemons walk lists, and often take longer than
    # the user threads listed first (race-n T=4: 40-43 s on two cores instead of 58)
    todo = list(range(len(actors)))[::-1]
    gc.disable()
    try:
        while todo or running:
            while todo and len(running) < jobs:
                i = todo.pop(0)
                mine, theirs = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_one, args=(i, theirs), daemon=True)
                proc.start()
                theirs.close()
                running[mine] = (i, proc)
            interrupt.check()
            for conn in wait(list(running)):
                i, proc = running.pop(conn)
                try:
                    answer = conn.recv()
                except EOFError:
                    answer = ("error", RuntimeError(f"the worker encoding {actors[i]} died (exit {proc.exitcode})"))
                conn.close()
                proc.join()
                if answer[0] == "error":
                    raise answer[1]
                got[i] = answer[1:]
                if progress:
                    for line in answer[2][-1]:
                        progress(line)
    finally:
        for conn, (_, proc) in running.items():  # an error or Ctrl-C: the rest is not wanted
            proc.kill()
            proc.join()
            conn.close()
        _WORK = None
        if gc_was:
            gc.enable()
    return [load(*got[i], work.enc.xs) for i in range(len(actors))]


def _one(i: int, conn: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it ends the workers
    work, actors, gc_was = _WORK  # type: ignore[misc]
    if gc_was:
        gc.enable()  # off in the parent only while it waits
    code = 0
    try:
        conn.send(("ok", *dump(work.run(actors[i]), work.enc.xs)))
    except BaseException as e:  # noqa: BLE001 - the parent raises it
        code = 1
        try:
            conn.send(("error", e))
        except Exception:  # noqa: BLE001 - not picklable: its text will do
            conn.send(("error", RuntimeError(f"{type(e).__name__}: {e}")))
    finally:
        conn.close()
        os._exit(code)  # no flush of streams whose locks a parent's thread may have held


def dump(res: ActorSteps, xs: list[z3.BitVecRef]) -> tuple[str, tuple]:
    """The terms of ``res`` as one SMT-LIB text, and the rest as plain data (for a pipe)."""
    terms: list[z3.ExprRef] = []
    steps = []
    for option, label, halts, guard, post in res.steps:
        changed = [i for i, t in enumerate(post) if not t.eq(xs[i])]
        terms.append(guard)
        terms += [post[i] for i in changed]
        steps.append((option, label, halts, changed))
    terms += [f for _, _, f in res.bad]
    eqs = [z3.Const(f"{_TERM}{n}", t.sort()) == t for n, t in enumerate(terms)]
    eqs.append(z3.Bool("aiospec!end"))  # never a lone conjunct, which the printer might unwrap
    s = z3.Solver()
    s.add(z3.And(*eqs))
    return s.sexpr(), (steps, [(name, k) for name, k, _ in res.bad], res.paths, res.checks, res.said)


def load(text: str, meta: tuple, xs: list[z3.BitVecRef]) -> ActorSteps:
    """``dump``'s inverse, in this process's z3 context."""
    steps_meta, bad_meta, paths, checks, said = meta
    conj = z3.parse_smt2_string(text)[0]
    by_name = {}
    for n in range(conj.num_args()):  # z3 may write an equation either way round
        e = conj.arg(n)
        if z3.is_eq(e):
            for side, other in ((e.arg(0), e.arg(1)), (e.arg(1), e.arg(0))):
                if z3.is_const(side) and side.decl().name().startswith(_TERM):
                    by_name[int(side.decl().name()[len(_TERM):])] = other
                    break
    terms = iter(by_name[n] for n in range(len(by_name)))
    steps = []
    for option, label, halts, changed in steps_meta:
        guard = next(terms)
        post = list(xs)
        for i in changed:
            post[i] = next(terms)
        steps.append((option, label, halts, guard, post))
    bad = [(name, k, next(terms)) for name, k in bad_meta]
    return ActorSteps(steps, bad, paths, checks, said)
