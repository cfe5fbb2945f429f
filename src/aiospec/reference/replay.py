"""Replay a checker counterexample on the reference engine, on real temporary files.

The engine runs the scenario under the controlled scheduler with the trace as its explicit
schedule; its recorded steps are compared with the spec's replay of the same path, step by
step (actor, label, choice), and its call results with the spec's.  The violation is
reproduced when the engine took every step of the trace and either reported the same fault
(a use after free or a panic the seed would hit) or returned the same results, from which the
POSIX properties are judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..checker.trace import Trace, replay
from ..spec.constants import errname
from ..spec.model import Actor, Model
from ..spec.properties import PROPERTIES
from .harness import run_scenario



@dataclass
class ReplayReport:
    scenario: str
    prop: str
    steps: int  # steps in the trace
    followed: int  # how many the engine took exactly as the trace says
    divergence: str | None  # the first step where the engine differed, in words
    faults: list[str] = field(default_factory=list)
    results_match: bool = True
    result_diffs: list[str] = field(default_factory=list)
    reproduced: bool = False
    error: str | None = None
    why: str = ""  # why the violation was not reproduced although every step was followed

    def lines(self) -> list[str]:
        out = [f"replay of {self.prop} in scenario {self.scenario} on the reference engine (real files):",
               f"  engine followed {self.followed}/{self.steps} steps of the trace"]
        if self.divergence:
            out.append(f"  first divergence: {self.divergence}")
        out += [f"  engine fault: {f}" for f in self.faults]
        if self.result_diffs:
            out += [f"  result differs: {d}" for d in self.result_diffs]
        if self.error:
            out.append(f"  run: {self.error}")
        out.append("  violation reproduced" if self.reproduced else
                   "  violation NOT reproduced" + (f": {self.why}" if self.why else ""))
        return out


def _spec_returns(trace: Trace) -> dict[str, list[tuple[str, int]]]:
    """Per thread name: the (call kind, errno) the spec returned, in order, along the trace."""
    out: dict[str, list[tuple[str, int]]] = {}
    for st in trace.steps:
        for e in st.events:
            if e.kind == "return":
                out.setdefault(st.actor, []).append((e.b[1], int(e.b[2])))
    return out


def replay_on_engine(model: Model, path: list[tuple], prop: str, message: str = "", timeout: float = 5.0) -> ReplayReport:
    spec = replay(model, path, prop, message)
    run = run_scenario(model.sc, mode="schedule", schedule=list(path), timeout=timeout)
    rep = ReplayReport(model.sc.name, prop, len(spec.steps), 0, None, error=run.error)
    eng = []
    for a, label, choice in run.recorder.steps:
        a = Actor(*a)
        if a.kind == 0 and a.index < 0:  # the exiting thread, named before the thread count was known
            a = model.exit_actor
        eng.append((model.actor_name(a), label, choice))
    for i, st in enumerate(spec.steps):
        want = (st.actor, st.label.name, st.choice)
        if i >= len(eng):
            rep.divergence = f"step {i + 1}: the spec takes {want[0]} {want[1]}, the engine recorded nothing more"
            break
        got = eng[i]
        if got[:2] != want[:2] or (want[2] is not None and tuple(got[2] or ()) != tuple(want[2])):
            rep.divergence = f"step {i + 1}: the spec takes {want[0]} {want[1]} {want[2] or ''}, " \
                             f"the engine took {got[0]} {got[1]} {got[2] or ''}"
            break
        rep.followed = i + 1
    rep.faults = list(run.engine.stats.faults)
    # results: the engine's calls that returned within the trace against the spec's
    spec_ret = _spec_returns(spec)
    names = {t: th.name for t, th in enumerate(model.sc.threads)}
    by_thread: dict[str, list[tuple[str, int]]] = {}
    for c in run.recorder.calls:
        if c.thread in names:
            by_thread.setdefault(names[c.thread], []).append((c.text.split("(")[0], int(c.error)))
    for thread, want in spec_ret.items():
        got = by_thread.get(thread, [])
        for k, w in enumerate(want):
            if k >= len(got) or got[k] != w:
                rep.results_match = False
                g = f"{got[k][0]} -> {errname(got[k][1])}" if k < len(got) else "no return"
                rep.result_diffs.append(f"{thread} call {k + 1}: spec {w[0]} -> {errname(w[1])}, engine {g}")
                break
    complete = rep.followed == rep.steps
    kind = {p.name: p.kind for p in PROPERTIES}.get(prop)
    if kind == "event":  # a panic or a use after free: the engine must have hit it too
        rep.reproduced = complete and any(f.startswith(prop) or f"({prop})" in f for f in rep.faults)
        if complete and not rep.reproduced:
            rep.why = f"the engine took every step but never hit {prop} (the engine does not have this bug)"
    else:  # the engine refines the spec: the same steps reach the same abstract states and results
        rep.reproduced = complete and rep.results_match
    return rep
