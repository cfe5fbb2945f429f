"""Encoding on several cores (``checker/symbolic/parallel.py``): forked workers must give the
relation one process gives, the same one on every run, and must never outlive Ctrl-C."""

from __future__ import annotations

import collections
import multiprocessing as mp
import signal
import threading
import time
from types import SimpleNamespace

import pytest
import z3
from click.testing import CliRunner

from aiospec.checker.symbolic import parallel
from aiospec.checker.symbolic.bmc import NOT_BY_DEFAULT
from aiospec.checker.symbolic.encode import encode
from aiospec.checker.symbolic.layout import Layout
from aiospec.checker.symbolic.lemmas import reachable_states, value_facts
from aiospec.checker.symbolic.parallel import ActorSteps, dump, load
from aiospec.cli import main
from aiospec.spec.model import Model
from aiospec.spec.properties import PROPERTIES
from aiospec.spec.scenario import load as load_scenario

PROPS = [p for p in PROPERTIES if p.kind != "reach" and p.name not in NOT_BY_DEFAULT]


@pytest.fixture(scope="module")
def cancel_race():
    m = Model(load_scenario("cancel-race"))
    lay = Layout(m)
    facts = value_facts(m, lay, reachable_states(m), lay.frame("x"))
    return m, facts


def _keys(enc) -> list[tuple]:
    return [(st.actor, st.option, st.label, st.halts) for st in enc.steps]


def _equivalent(a, b) -> list[str]:
    """Where two encodings of one scenario differ as relations, on the states they are exact
    for (TYPE-OK and the facts): per actor, the halting guards and the non-halting updates."""
    s = z3.Solver()
    s.add(a.layout.type_ok(a.xs), *[f for _, f in a.facts])
    ys = a.layout.frame("y")
    differ = []
    for actor in dict.fromkeys(st.actor for st in a.steps):
        def rel(enc, halting):
            return z3.Or(*[z3.And(st.guard, *([] if halting else [y == p for y, p in zip(ys, st.post)]))
                           for st in enc.steps if st.actor == actor and (st.halts is not None) == halting])
        for halting in (False, True):
            s.push()
            s.add(rel(a, halting) != rel(b, halting))
            if s.check() != z3.unsat:
                differ.append(f"{actor} {'halting' if halting else 'updates'}")
            s.pop()
    for name, f in [*a.step_props.items(), *a.invariants.items()]:
        s.push()
        s.add(f != {**b.step_props, **b.invariants}[name])
        if s.check() != z3.unsat:
            differ.append(name)
        s.pop()
    return differ


def test_two_processes_encode_the_relation_one_process_encodes(cancel_race):
    m, facts = cancel_race
    one = encode(m, PROPS, facts=facts, jobs=1)
    two = encode(m, PROPS, facts=facts, jobs=2)
    assert len({st.actor for st in one.steps}) > 1  # else nothing was shared out
    assert collections.Counter(map(str, _keys(one))) == collections.Counter(map(str, _keys(two)))
    assert (one.paths, sorted(one.step_props)) == (two.paths, sorted(two.step_props))
    assert _equivalent(one, two) == []


_DIGEST = """
import hashlib, sys
from aiospec.checker.symbolic.encode import encode
from aiospec.checker.symbolic.layout import Layout
from aiospec.checker.symbolic.lemmas import reachable_states, value_facts
from aiospec.spec.model import Model
from aiospec.spec.scenario import load
m = Model(load("cancel-race"))
lay = Layout(m)
enc = encode(m, facts=value_facts(m, lay, reachable_states(m), lay.frame("x")), jobs=int(sys.argv[1]))
h = hashlib.sha256()
for st in enc.steps:
    key = (str(st.actor), st.option, st.label, st.halts, st.guard.hash(), [p.hash() for p in st.post])
    h.update(repr(key).encode())
print(len(enc.steps), h.hexdigest())
"""


def test_how_the_actors_are_shared_out_does_not_change_the_terms():
    """Each actor in a process forked from the same parent state: runs on two cores, on
    three, and a second run on two give the very same terms in the same order.  (Within one
    process a second encoding starts from another state of z3, and may differ in shape.)"""
    import subprocess
    import sys

    def digest(jobs: int) -> str:
        r = subprocess.run([sys.executable, "-c", _DIGEST, str(jobs)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout

    first = digest(2)
    assert int(first.split()[0]) > 100
    assert digest(3) == first and digest(2) == first


def test_the_text_carries_every_term_back(cancel_race):
    """z3 writes an equation with a numeral first (``(= #x0000 t)``): the term must still be
    read from the right side, and a guard that is ``true`` survives too."""
    m, _ = cancel_race
    xs = Layout(m).frame("x")
    a, b = xs[0], xs[1]
    post = list(xs)
    post[0] = z3.BitVecVal(0, a.size())  # a numeral: the equation is written the other way round
    post[1] = z3.If(a == 1, b + 1, b)
    res = ActorSteps([(0, "L1", None, z3.BoolVal(True), post), (1, "L2", "A1", a == 2, list(xs))],
                     [("P-X", 1, z3.And(a == 2, b == 3))], paths=5, checks=7, said=["x"])
    back = load(*dump(res, xs), xs)
    assert [(o, lb, h) for o, lb, h, _, _ in back.steps] == [(0, "L1", None), (1, "L2", "A1")]
    assert (back.paths, back.checks, back.said, [(n, k) for n, k, _ in back.bad]) == (5, 7, ["x"], [("P-X", 1)])
    want = [t for _, _, _, g, p in res.steps for t in [g, *p]] + [res.bad[0][2]]
    got = [t for _, _, _, g, p in back.steps for t in [g, *p]] + [back.bad[0][2]]
    s = z3.Solver()
    for w, g in zip(want, got, strict=True):
        assert s.check(w != g) == z3.unsat, (w, g)


def test_no_fork_while_another_thread_runs(cancel_race):
    """A fork copies only the calling thread; with a Houdini thread alive it could copy a held
    lock.  Then the actors are encoded here, in turn, and the relation is the same."""
    m, facts = cancel_race
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not parallel.can_fork()
        assert parallel.spread(SimpleNamespace(enc=None), [1, 2], 2, None) is None
        here = encode(m, PROPS, facts=facts, jobs=2)
    finally:
        stop.set()
        t.join()
    assert parallel.can_fork()
    assert _equivalent(here, encode(m, PROPS, facts=facts, jobs=2)) == []


def test_a_terminal_status_line_does_not_stop_the_fork():
    """On a terminal the CLI's progress is rich's status line, refreshed by a daemon thread of
    its own: the encoding must still fork (it did not, so no interactive run was faster)."""
    import io

    from rich.console import Console

    from aiospec.cli_progress import reporter

    term = Console(file=io.StringIO(), force_terminal=True)
    with reporter(term, "encoding") as say:
        assert any(t.daemon for t in threading.enumerate())
        assert parallel.can_fork()
        got = parallel.spread(_Work("ok"), [1, 2, 3], 2, say)
    assert [r.paths for r in got] == [1, 2, 3]


class _Work:
    """A stand-in for an encoding's work: each actor sleeps, or fails."""

    def __init__(self, how: str) -> None:
        self.enc = SimpleNamespace(xs=[])
        self.how = how

    def run(self, actor):
        if self.how == "fail" and actor == 2:
            raise ValueError("a worker failed")
        time.sleep(60 if self.how == "sleep" else 0)
        return ActorSteps([], [], paths=actor)


def test_a_worker_error_reaches_the_caller():
    with pytest.raises(ValueError, match="a worker failed"):
        parallel.spread(_Work("fail"), [1, 2, 3], 2, None)
    assert parallel.spread(_Work("ok"), [1, 2, 3], 2, None)[2].paths == 3
    assert mp.active_children() == []


def test_ctrl_c_while_workers_encode_ends_them():
    """Ctrl-C is the parent's (the workers ignore SIGINT): it must end the wait at once and
    take the workers down with it, not leave them encoding."""
    def interrupt(*_a):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGALRM, interrupt)
    t0 = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            parallel.spread(_Work("sleep"), [1, 2, 3], 2, None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.perf_counter() - t0 < 20
    assert mp.active_children() == []
    assert parallel._WORK is None


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bmc_cli_takes_jobs(jobs):
    r = CliRunner().invoke(main, ["bmc", "suspend-early", "--depth", "4", "--no-progress", "--jobs", jobs])
    assert r.exit_code == 1, r.output
    assert "P-SUSPEND (2 steps)" in r.output and "P-ERROR (4 steps)" in r.output


def test_a_mutant_reaches_the_workers():
    """A mutant patches the spec in this process; forked workers must encode the patched
    steps (BMC finds the mutant's double completion at its depth, 6)."""
    r = CliRunner().invoke(main, ["bmc", "cancel-race", "--mutant", "daemon-completes-twice", "--prop", "A1",
                                  "--depth", "6", "--no-progress", "--jobs", "2"])
    assert r.exit_code == 1, r.output
    assert "A1 (6 steps)" in r.output


@pytest.mark.parametrize("args, env", [(["--jobs", "0"], {}), ([], {"AIOSPEC_JOBS": "two"})])
def test_bmc_cli_refuses_bad_jobs(args, env):
    r = CliRunner().invoke(main, ["bmc", "suspend-early", "--depth", "2", "--no-progress", *args], env=env)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
