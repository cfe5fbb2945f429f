"""The checker bites: every property fails somewhere.

For each property, a seeded mutant of the spec or a shipped scenario on the faithful spec
under which the checker reports it violated (or, for a reachability property, not reached
where the faithful spec reaches it).  A property no test can make fail would not count.
"""

from __future__ import annotations

import functools

import pytest

from aiospec.checker.explore import Explorer
from aiospec.checker.mutants import MUTANTS, applied, model_for
from aiospec.spec import Model, load
from aiospec.spec.properties import PROPERTIES

# property -> (mutant name or None for the faithful spec, scenario)
BITES: dict[str, tuple[str | None, str]] = {
    "A1": ("daemon-completes-twice", "cancel-race"),
    "A2": ("commit-forgets-kaio-count", "cancel-race"),
    "A3": ("cancel-twice", "double-cancel"),
    "A4": ("schedule-without-cancel-fn", "cancel-race"),
    "A5": ("notify-before-finished", "cancel-race"),
    "A6": ("commit-to-done", "return-twice"),
    "A7": ("lio-extra-reference-leaked", "lio-wait"),
    "A9": ("fsync-runs-rw-handler", "default"),
    "TAILQ": ("cleared-never-set", "cancel-race"),
    "UAF": (None, "default"),
    "STALE": (None, "default"),
    "RTEMS-NULL-KI": (None, "rtems-write"),
    "D1": ("cancel-end-clears-finished", "cancel-race"),
    "D2": ("cancelling-without-cancelled", "cancel-race"),
    "D2-STICKY": ("cancel-end-clears-cancelled", "cancel-race"),
    "D3": ("commit-keeps-queueing", "cancel-race"),
    "D4": ("select-leaves-cleared-queued", "cancel-race"),
    "D4-CLEARED": ("cleared-without-cancelling", "cancel-race"),
    "D5": ("complete-keeps-jobqueue", "cancel-race"),
    "D6": ("complete-keeps-jobqueue", "cancel-race"),
    "D7": ("commit-forgets-kaio-count", "cancel-race"),
    "D8": ("double-notify", "double-cancel"),
    "D8-RUNDOWN": ("notify-during-rundown", "lio-signal"),
    "D9": ("complete-ignores-cancelling", "cancel-race"),
    "D10": ("schedule-without-cancel-fn", "cancel-race"),
    "D11": ("daemon-keeps-active-count", "cancel-race"),
    "D12": ("bio-keeps-buffer", "disk-bio"),
    "D13": ("commit-forgets-lio-count", "lio-wait"),
    "D14": (None, "rtems-calls"),
    "D16": ("cancel-end-loses-job", "cancel-race"),
    "D17": ("fsync-ignores-predecessors", "default"),
    "D18": ("completes-twice-no-invariants", "cancel-race"),
    "LOCKS": ("free-count-unlocked", "return-twice"),
    "P-CANCEL": (None, "default"),
    "P-LIO-WAIT": ("lio-wait-returns-early", "lio-wait"),
    "P-SUSPEND": (None, "suspend-early"),
    "P-ERROR": (None, "errors"),
    "P-RETURN": (None, "cancel-race"),
    "P-RESULT-ONCE": ("return-without-free", "return-twice"),
    "P-NOTIFY-ONCE": ("double-notify", "double-cancel"),
    "P-NOTIFY-EXACT": ("notify-drops-job-kevent", "double-cancel"),
    "END": ("rundown-skips-done", "cancel-race"),
    "DEADLOCK": ("notify-without-wakeup", "cancel-race"),
}

# reachability property -> (mutant that removes the race, scenario whose faithful run reaches it)
UNREACHED: dict[str, tuple[str, str]] = {
    "R-CLEARED": ("cleared-never-set", "cancel-race"),
    "R-DEFER-CANCELLING": ("complete-ignores-cancelling", "cancel-race"),
    "R-DEFER-QUEUEING": ("daemon-completes-twice", "cancel-race"),
    "R-CANCEL-NO-FN": ("cancel-twice", "cancel-race"),
    "R-LIO-FREE-ENTRY": ("lio-extra-reference-leaked", "lio-wait"),
    "R-LIO-FREE-LISTIO": ("lio-extra-reference-leaked", "default"),
    "R-FSYNC-PARKED": ("fsync-ignores-predecessors", "default"),
    "R-FSYNC-RELEASED": ("fsync-ignores-predecessors", "default"),
    "R-STICKY-CANCEL": ("cancelling-without-cancelled", "default"),
    "R-WALK-DIVERTED": ("notify-before-finished", "lio-wait"),
}


@functools.cache
def verdict(mutant: str | None, scenario: str):
    sc = load(scenario)
    m = MUTANTS[mutant] if mutant else None
    with applied(m):
        res = Explorer(model_for(sc, m) if m else Model(sc), max_states=500_000).run()
    return set(res.violations), set(res.reached)


def test_every_property_has_a_biting_test():
    names = {p.name for p in PROPERTIES}
    assert set(BITES) | set(UNREACHED) == names


@pytest.mark.parametrize("prop", sorted(BITES))
def test_property_fails_under_its_mutant(prop):
    mutant, scenario = BITES[prop]
    violated, _ = verdict(mutant, scenario)
    assert prop in violated
    if mutant is not None:  # the faithful spec does not violate it there: the mutant did
        assert prop not in verdict(None, scenario)[0]


@pytest.mark.parametrize("prop", sorted(UNREACHED))
def test_race_disappears_under_its_mutant(prop):
    mutant, scenario = UNREACHED[prop]
    assert prop in verdict(None, scenario)[1]
    assert prop not in verdict(mutant, scenario)[1]


def test_mutants_restore_the_faithful_spec():
    before = verdict(None, "cancel-race")
    with applied(MUTANTS["complete-ignores-cancelling"]):
        pass
    sc = load("cancel-race")
    res = Explorer(Model(sc)).run()
    assert (set(res.violations), set(res.reached)) == before
