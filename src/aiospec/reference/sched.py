"""Controlled scheduling: every engine thread pauses at each step boundary and one is picked.

At most one registered thread runs between two gates, so a run is a sequence of the spec's
steps chosen by a policy:

- ``"lowest"``: the lowest enabled actor first (user threads, then daemons, then the task);
  a timeout is only taken when nothing else can move.
- ``"random"``: a seeded random pick (timeouts rarely).
- ``"schedule"``: an explicit list of ``(actor, label, choice)`` as ``Explorer.witness_path``
  produces (label as index or name); daemon indices there are positions in the model's
  canonical daemon order, so the scheduler steps a ``Model`` alongside to map them, as
  ``checker.trace.replay`` does.  A ``D_RUN`` choice ``(-1, errno)`` forces an I/O failure.
  When the schedule is exhausted the ``then`` policy finishes the run.

The scheduler never waits forever: a picked thread that does not reach its next gate within
``timeout`` seconds, an explicit step whose actor is not where the schedule says, or a state
where a user thread is parked and nothing is enabled (a deadlock) makes every gate raise
``ScheduleError`` with a description, instead of hanging.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Callable, Iterable

from ..spec.actions import LABELS
from ..spec.model import Actor, Model

STOP = object()  # returned by a gate once the engine shuts down
EXIT_INDEX = -1


class ScheduleError(RuntimeError):
    """The schedule cannot go on (stuck, deadlocked, or the engine diverged from it)."""


class Scheduler:
    def __init__(self, policy: str = "lowest", seed: int = 0, schedule: Iterable[tuple] | None = None,
                 model: Model | None = None, then: str = "lowest", timeout: float = 5.0, start: bool = True):
        if policy not in ("lowest", "random", "schedule"):
            raise ValueError(f"unknown policy {policy!r}")
        if policy == "schedule" and (schedule is None or model is None):
            raise ValueError("an explicit schedule needs the schedule and the scenario's Model")
        self.policy = policy
        self.then = then
        self.timeout = timeout
        self._rng = random.Random(seed)
        self._cv = threading.Condition()
        self._live: set[Actor] = set()
        self._parked: dict[Actor, tuple[str, Callable | None]] = {}
        self._grant: dict[Actor, object] = {}
        self._running: Actor | None = None
        self._since = time.monotonic()
        self._stopped = False
        self._started = start  # False: pick nobody until begin() (every actor registered)
        self.error: str | None = None
        self.log: list[tuple[Actor, str, object]] = []  # what was granted, in order
        self._schedule = list(schedule or ())
        self._pos = 0
        self._model = model
        self._mstate = model.initial() if model is not None else None

    # -- registration -----------------------------------------------------------------------
    def register(self, actor: Actor) -> None:
        with self._cv:
            self._live.add(actor)

    def unregister(self, actor: Actor) -> None:
        with self._cv:
            self._live.discard(actor)
            self._parked.pop(actor, None)
            if self._running == actor:
                self._running = None
            self._dispatch()
            self._cv.notify_all()

    def begin(self) -> None:
        """Start picking (for a scheduler created with ``start=False``)."""
        with self._cv:
            self._started = True
            self._dispatch()

    def shutdown(self) -> None:
        """The engine is closing: every parked daemon/task gate returns STOP."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()

    def users_done(self) -> bool:
        """RUN_MARK's guard: every user thread has returned (the exit actor excluded)."""
        return not any(a.kind == 0 and a.index != EXIT_INDEX for a in self._live)

    @property
    def remaining(self) -> int:
        return len(self._schedule) - self._pos

    # -- the gate ---------------------------------------------------------------------------
    def gate(self, actor: Actor, label: str, choices: Callable | None = None) -> object:
        """Park ``actor`` before ``label`` until picked; returns the granted choice."""
        with self._cv:
            if self._stopped:
                return STOP
            if self.error:
                raise ScheduleError(self.error)
            self._live.add(actor)
            self._parked[actor] = (label, choices)
            if self._running == actor:
                self._running = None
            self._dispatch()
            while actor not in self._grant:
                if self._stopped:
                    self._parked.pop(actor, None)
                    return STOP
                if self.error:
                    raise ScheduleError(self.error)
                self._cv.wait(0.05)
                if self._running is not None and time.monotonic() - self._since > self.timeout:
                    self._fail(f"{self._running} did not reach its next step boundary within {self.timeout}s")
                    raise ScheduleError(self.error)
                self._dispatch()
            return self._grant.pop(actor)

    # -- picking (the condition is held) ------------------------------------------------------
    def _fail(self, msg: str) -> None:
        if self.error is None:
            self.error = msg + "; parked: " + self._describe()
        self._cv.notify_all()

    def _describe(self) -> str:
        return ", ".join(f"{a} at {lb}" for a, (lb, _f) in sorted(self._parked.items())) or "nobody"

    def _enabled(self) -> list[tuple[Actor, str, object]]:
        out = []
        for a in sorted(self._parked):
            lb, fn = self._parked[a]
            if lb == "RUN_MARK" and not self.users_done():
                continue
            for c in (fn() if fn is not None else (None,)):
                out.append((a, lb, c))
        return out

    def _dispatch(self) -> None:
        if self._running is not None or self._grant or self.error or self._stopped or not self._started:
            return
        if any(a not in self._parked for a in self._live):
            return  # someone is still on its way to a gate (or outside the engine)
        en = self._enabled()
        if self.policy == "schedule" and self._pos < len(self._schedule):
            pick = self._pick_scheduled(en)
            if pick is None:
                return
        else:
            policy = self.then if self.policy == "schedule" else self.policy
            if not en:
                if any(a.kind == 0 for a in self._parked):
                    self._fail("deadlock: nothing is enabled")
                return
            normal = [e for e in en if e[2] != "timeout"]
            if policy == "lowest":
                pick = (normal or en)[0]
            elif normal and (len(normal) == len(en) or self._rng.random() < 0.9):
                pick = self._rng.choice(normal)
            else:
                pick = self._rng.choice([e for e in en if e[2] == "timeout"])
        actor, label, choice = pick
        del self._parked[actor]
        self._grant[actor] = choice
        self._running = actor
        self._since = time.monotonic()
        self.log.append((actor, label, choice))
        self._cv.notify_all()

    def _pick_scheduled(self, en: list) -> tuple | None:
        m = self._model
        actor, li, choice = self._schedule[self._pos]
        lb = LABELS[li] if isinstance(li, int) else next(x for x in LABELS if x.name == li)
        real = actor
        if actor.kind == 1 and m.symmetric:
            real = Actor(1, m.daemon_order(self._mstate)[actor.index])
        eng = Actor(0, EXIT_INDEX) if real.kind == 0 and real.index == m.n_threads else real
        where = f"schedule step {self._pos + 1} ({m.actor_name(real)} {lb.name})"
        if eng not in self._parked:
            self._fail(f"{where}: {eng} is not at a step boundary (finished or never started)")
            return None
        at, fn = self._parked[eng]
        if at != lb.name:
            self._fail(f"{where}: the engine's {eng} is at {at}")
            return None
        allowed = list(fn()) if fn is not None else [None]
        if lb.name in ("D_RUN",):
            granted = choice  # the I/O result to inject (a success runs the real I/O)
        elif lb.name.endswith("_SLEEP") or lb.name == "RUN_MARK" or choice in allowed:
            granted = choice
            if lb.name == "RUN_MARK" and not self.users_done():
                return None
        else:
            self._fail(f"{where}: choice {choice!r} not enabled in the engine (allowed {allowed})")
            return None
        self._mstate = m.step(self._mstate, real, lb, choice, canonical=False).target
        self._pos += 1
        return eng, lb.name, granted
