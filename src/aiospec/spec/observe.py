"""What a caller can see: the results of every call, as the spec allows them.

A run of a scenario is observed as, per thread, the sequence of (call, result, retval) its
calls returned.  The spec allows an observation when some interleaving produces exactly it;
``allowed_observations`` collects them all by exploring the model with each thread's results
kept in the state (so the search distinguishes histories, which the checker otherwise merges).
This is the judge for conformance tests of real implementations.
"""

from __future__ import annotations

from collections import deque

from .model import Model
from .scenario import Scenario
from .state import S_HISTORY, S_JOBS, S_LIOS, clear_intern
from .variables import J, L

Observation = tuple  # per thread: tuple of (call text, result errno, retval)
#: an observation with the notifications the model posted by the end: (observation, per job slot, per lio slot),
#: each count the ghost G_POSTS (signals and kevents posted for that job / list)
NotifiedObservation = tuple[Observation, tuple[int, ...], tuple[int, ...]]


class ObservationLimit(Exception):
    """The scenario's histories are too many to enumerate."""


def allowed_observations(sc: Scenario, max_states: int = 500_000, notifications: bool = False) -> set:
    """Every observation of the user threads that some interleaving of the spec produces.

    Paths that end in a seed panic or a use after free are left out: nothing is promised there.
    With ``notifications`` each element is a ``NotifiedObservation``: the observation together
    with the notifications posted by the end of that interleaving, per job slot and per lio slot
    (``G_POSTS``: a job or list that asked for SIGEV_SIGNAL / SIGEV_KEVENT posts once when it
    completes, cancelled or not, and none when it completes during process exit).  The search is
    the same; only what is collected from its final states differs.
    """
    model = Model(sc, record_results=True)
    clear_intern()
    init = model.initial()
    seen = {init}
    q = deque([init])
    out: set[Observation] = set()
    n_threads = len(sc.threads)
    while q:
        s = q.popleft()
        succ = model.successors(s)
        if not succ:
            hist = s[S_HISTORY][:n_threads]
            if notifications:
                out.add((hist, tuple(job[J.G_POSTS] for job in s[S_JOBS]), tuple(lio[L.G_POSTS] for lio in s[S_LIOS])))
            else:
                out.add(hist)
            continue
        for tr in succ:
            if tr.halts or tr.target in seen:
                continue
            if len(seen) >= max_states:
                raise ObservationLimit(f"more than {max_states:,} states with histories")
            seen.add(tr.target)
            q.append(tr.target)
    return out


def format_observation(sc: Scenario, obs: Observation) -> str:
    from .constants import errname

    lines = []
    for th, hist in zip(sc.threads, obs):
        parts = [f"{text} -> {errname(res)}" + (f" [{ret}]" if ret is not None else "") for text, res, ret in hist]
        lines.append(f"{th.name}: " + "; ".join(parts))
    return "\n".join(lines)
