"""Check a recorded engine trace against the spec.

The steps are walked through ``Model`` from its initial state: each recorded
``(actor, label, choice)`` must be one of ``model.enabled(state)``; a ``D_RUN`` result is
accepted if it has the shape of an I/O result (``(n >= 0, 0)`` or ``(-1, e > 0)``) even when
the scenario lists other results, and is passed to the step as is.  A step after which the
seed would panic or read freed memory is rejected too, and the trace must end with every
thread returned.  Each call's result is compared with what the model returned for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checker.trace import describe
from ..spec.actions import BY_NAME
from ..spec.constants import errname
from ..spec.model import Actor, Model
from ..spec.properties import PROPERTIES, Ctx
from ..spec.scenario import Scenario
from ..spec.state import HALTING
from .trace import EXIT, CallRecord, Recorder


@dataclass
class Verdict:
    ok: bool
    steps: int  # how many steps were accepted
    message: str = ""
    state: dict[str, str] = field(default_factory=dict)  # the spec state where it stopped

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"accepted ({self.steps} steps)"
        st = "\n".join(f"    {k} = {v}" for k, v in self.state.items())
        return f"rejected after {self.steps} accepted steps: {self.message}\n  spec state:\n{st}"


def _io_shape(c: object) -> bool:
    return isinstance(c, tuple) and len(c) == 2 and ((c[0] >= 0 and c[1] == 0) or (c[0] == -1 and c[1] > 0))


# Properties the seed itself violates in some runs (each names its entries of docs/findings.md): a faithful
# engine violates them too, so they are not checked on engine traces by default.
SEED_FINDINGS = frozenset(p.name for p in PROPERTIES if p.findings)


def check_trace(steps: list, sc: Scenario, calls: list[CallRecord] | None = None,
                mutations: dict | None = None, properties: bool = True) -> Verdict:
    """Replay ``steps`` through the model of ``sc``; the first step it does not allow fails.

    With ``properties``, every state invariant and step property of the spec (but the seed's
    own findings, ``SEED_FINDINGS``) is checked along the way too, e.g. D17 fsync ordering.
    """
    m = Model(sc, mutations)
    s = m.initial()
    ctx = Ctx(m)
    props = [p for p in PROPERTIES if properties and p.kind in ("invariant", "step") and p.name not in SEED_FINDINGS]
    n = m.n_threads
    returns: dict[int, list] = {}
    for i, (actor, label, choice) in enumerate(steps):
        if actor.kind == 0 and actor.index == EXIT:
            actor = Actor(0, n)
        lb = BY_NAME.get(label)
        name = m.actor_name(actor) if actor.kind != 0 or actor.index <= n else f"thread#{actor.index}"
        what = f"step {i + 1}: {name} {label}" + (f" [{choice}]" if choice is not None else "")
        if lb is None:
            return Verdict(False, i, f"{what}: no such label in the spec", describe(m, s))
        enabled = [(a2, c2) for a2, lb2, c2 in m.enabled(s) if lb2.name == label]
        ok = any(a2 == actor and (c2 == choice or (label == "D_RUN" and _io_shape(choice))) for a2, c2 in enabled)
        if not ok:
            can = ", ".join(f"{m.actor_name(a2)} {lb2.name}" + (f" [{c2}]" if c2 is not None else "")
                            for a2, lb2, c2 in m.enabled(s))
            return Verdict(False, i, f"{what} is not enabled in the spec; enabled: {can or 'nothing'}", describe(m, s))
        tr = m.step(s, actor, lb, choice, canonical=False)
        halts = [e for e in tr.events if e.kind in HALTING]
        if halts:
            e = halts[0]
            return Verdict(False, i, f"{what}: the seed halts here ({e.kind}: {e.b})", describe(m, tr.target))
        kinds = {e.kind for e in tr.events}
        for p in props:
            if p.on and not kinds.intersection(p.on):
                continue  # as the explorer does: a step property looks only at its events
            msg = p.check(ctx, tr.target) if p.kind == "invariant" else p.check(ctx, s, tr)
            if msg:
                return Verdict(False, i, f"{what}: property {p.name} fails: {msg}", describe(m, tr.target))
        for e in tr.events:
            if e.kind == "return":
                returns.setdefault(e.a, []).append((e.b[2], e.c))
        s = tr.target
    if not m.finished(s):
        return Verdict(False, len(steps), "the trace ends before every thread (and the exit) returned", describe(m, s))
    if calls is not None:
        msg = compare_results(m, calls, returns)
        if msg:
            return Verdict(False, len(steps), msg, describe(m, s))
    return Verdict(True, len(steps))


def compare_results(m: Model, calls: list[CallRecord], returns: dict[int, list]) -> str:
    """Each call's errno (and aio_cancel/aio_error's retval) must be what the model returned."""
    for t in range(m.n_threads):
        mine = [c for c in calls if c.thread == t]
        theirs = returns.get(t, [])
        if len(mine) != len(theirs):
            return f"thread {m.actor_name(Actor(0, t))}: {len(mine)} calls recorded, the model returned {len(theirs)}"
        for c, (err, retval) in zip(mine, theirs):
            if c.error != int(err):
                return f"{c.text} returned {errname(c.error)} in the engine, {errname(err)} in the spec"
            if c.retval is not None and retval is not None and not isinstance(retval, tuple) and c.retval != int(retval):
                return f"{c.text} gave retval {c.retval} in the engine, {retval} in the spec"
    return ""


def check_recorder(rec: Recorder, daemons: int, sc: Scenario | None = None, results: bool = True) -> Verdict:
    """Rebuild the scenario from the recorded calls (unless given) and check the trace."""
    if sc is None:
        sc = rec.scenario(daemons)
    return check_trace(list(rec.steps), sc, rec.calls if results else None)
