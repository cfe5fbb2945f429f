"""Recording what the engine did, in the spec's vocabulary.

The engine calls ``step`` at the end of every critical section, while it still holds the
section's locks, so the recorded order is a linearization of the run: two steps that touch
the same state hold a common lock and are recorded in the order they happened.  ``call``
records each system call in the scenario syntax, so a ``Scenario`` can be rebuilt and the
steps replayed through the model (``tracecheck``).
"""

from __future__ import annotations

import os
import stat
import threading
from typing import NamedTuple

from ..spec.constants import IOSIZE_MAX
from ..spec.model import Actor
from ..spec.scenario import Scenario, load_text

EXIT = -1  # index of the exiting thread until the number of threads is known
BADFD_NAMES = ("BADFD",)


class Step(NamedTuple):
    actor: Actor
    label: str
    choice: object


class CallRecord(NamedTuple):
    thread: int
    text: str
    error: int  # the system call's return value (0 or an errno)
    retval: object  # td_retval[0] where the spec compares it (aio_cancel, aio_error), else None


class Recorder:
    """Steps, calls and the names the calls use (fds, aiocbs, threads)."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.calls: list[CallRecord] = []
        self.thread_names: dict[int, str] = {}
        self.fd_names: dict[int, str] = {}
        self.fd_kinds: dict[str, str] = {}
        self.aiocb_specs: dict[str, dict] = {}
        self._names: dict[int, str] = {}  # id(aiocb) -> name
        self._keep: list = []  # keep named aiocbs alive so ids stay unique
        self._submitted: set[str] = set()
        self.conflicts: list[str] = []
        self._lock = threading.Lock()

    # -- recording (hot path: list.append is atomic under the GIL) ----------------------
    def step(self, actor: Actor, label: str, choice: object = None) -> None:
        self.steps.append(Step(actor, label, choice))

    def call(self, thread: int, text: str, error: int, retval: object = None) -> None:
        self.calls.append(CallRecord(thread, text, int(error), retval))

    # -- names ---------------------------------------------------------------------------
    def name_fd(self, fd: int, name: str | None = None) -> str:
        """The scenario name of a descriptor: F, G, H... by first use, or BADFD."""
        with self._lock:
            if fd in self.fd_names:
                return self.fd_names[fd]
            try:
                st = os.fstat(fd)
            except OSError:
                return "BADFD"
            if name is None:
                name = "FGHIJKLMNOPQRSTUVWXYZ"[len(self.fd_names) % 21] + ("" if len(self.fd_names) < 21 else str(len(self.fd_names)))
            self.fd_names[fd] = name
            self.fd_kinds[name] = "regular" if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) else "pipe"
            return name

    def name_aiocb(self, cb, fd_name: str | None = None, submit: bool = False) -> str:
        """The scenario name of an aiocb (its ``name``, else a0, a1...), with its [aiocbs] entry.

        A scenario gives each aiocb one set of fields; the first submission defines them (a
        later submission with a different fd, offset sign or sigev is listed in ``conflicts``).
        """
        with self._lock:
            name = self._names.get(id(cb))
            if name is None:
                name = cb.name or f"a{len(self._names)}"
                self._names[id(cb)] = name
                self._keep.append(cb)
        from .types import KeventFd

        sig = "NONE" if cb.notify is None else "KEVENT" if isinstance(cb.notify, KeventFd) else \
            "SIGNAL" if callable(cb.notify) else "INVALID"
        spec = {"fd": fd_name or self.name_fd(cb.fd), "offset": int(cb.offset) if isinstance(cb.offset, int) else 0,
                "nbytes": max(0, int(cb.nbytes)) if isinstance(cb.nbytes, int) else 0, "sigev": sig}
        if isinstance(cb.nbytes, int) and cb.nbytes > IOSIZE_MAX:
            spec["nbytes"], spec["nbytes_too_big"] = 512, True
        with self._lock:
            old = self.aiocb_specs.get(name)
            if old is None or (submit and name not in self._submitted):
                self.aiocb_specs[name] = spec
            elif submit and (old["fd"], old["offset"] < 0, old["sigev"]) != (spec["fd"], spec["offset"] < 0, spec["sigev"]):
                self.conflicts.append(f"aiocb {name} resubmitted with {spec}, the scenario keeps {old}")
            if submit:
                self._submitted.add(name)
        return name

    # -- the scenario ----------------------------------------------------------------------
    def n_threads(self) -> int:
        used = {c.thread for c in self.calls} | set(self.thread_names)
        return max(used) + 1 if used else 0

    def scenario_text(self, daemons: int, name: str = "recorded") -> str:
        """TOML for ``aiospec.spec.scenario.load_text``: files, aiocbs and the calls per thread."""
        n = self.n_threads()
        out = [f'name = "{name}"', 'profile = "freebsd"', f"daemons = {daemons}", "", "[files]"]
        files = dict(self.fd_kinds) or {"F": "regular"}
        for fd, kind in files.items():
            out.append(f'{fd} = "{kind}"')
        for acb, spec in self.aiocb_specs.items():
            out.append("")
            out.append(f"[aiocbs.{acb}]")
            for k, v in spec.items():
                out.append(f"{k} = " + (f'"{v}"' if isinstance(v, str) else ("true" if v is True else str(v))))
        for t in range(n):
            calls = [c.text for c in self.calls if c.thread == t]
            out.append("")
            out.append("[[threads]]")
            out.append(f'name = "{self.thread_names.get(t, f"T{t + 1}")}"')
            out.append("calls = [" + ", ".join(f'"{c}"' for c in calls) + "]")
        return "\n".join(out) + "\n"

    def scenario(self, daemons: int, name: str = "recorded") -> Scenario:
        return load_text(self.scenario_text(daemons, name), f"<{name}>")
