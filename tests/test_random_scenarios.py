"""Random small scenarios: the faithful model never crashes, and the protocol invariants that
the seed maintains on every path (lists, counters, flags, locks) hold whatever the calls.

Properties that are known findings (docs/findings.md) may be violated by some programs and are
not asserted here; the structural ones must hold for every program hypothesis can write.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiospec.checker.explore import Explorer
from aiospec.spec import Model, load_text
from aiospec.spec.properties import PROPERTIES

STRUCTURAL = {"A1", "A2", "A3", "A4", "A5", "A6", "A9", "TAILQ", "D1", "D2", "D2-STICKY", "D3", "D4", "D4-CLEARED",
              "D5", "D6", "D7", "D8", "D8-RUNDOWN", "D9", "D10", "D11", "D12", "D13", "D14", "D17", "D18", "LOCKS",
              "P-RESULT-ONCE", "P-NOTIFY-ONCE", "P-LIO-WAIT", "END", "D16", "P-NOTIFY-EXACT", "A7"}

AIOCBS = ["a", "b", "c"]


def _call(draw, used: set) -> str:
    kind = draw(st.sampled_from(["read", "write", "fsync", "lio", "cancel", "cancel1", "return", "error", "suspend",
                                 "waitc"]))
    acb = draw(st.sampled_from(AIOCBS))
    if kind in ("read", "write", "fsync"):
        if acb in used:
            return f"aio_error({acb})"
        used.add(acb)
        return {"read": f"aio_read({acb}, F)", "write": f"aio_write({acb}, F)", "fsync": f"aio_fsync(O_SYNC, {acb}, F)"}[kind]
    if kind == "lio":
        free = [x for x in AIOCBS if x not in used][:2]
        if not free:
            return "aio_waitcomplete(poll)"
        used.update(free)
        mode = draw(st.sampled_from(["LIO_WAIT", "LIO_NOWAIT"]))
        ops = [draw(st.sampled_from(["write", "read"])) + " " + x for x in free]
        sig = draw(st.sampled_from(["", ", KEVENT", ", SIGNAL"]))
        return f"lio_listio({mode}, [{', '.join(ops)}]{sig})"
    if kind == "cancel":
        return "aio_cancel(F, NULL)"
    if kind == "cancel1":
        return f"aio_cancel(F, {acb})"
    if kind == "return":
        return f"aio_return({acb})"
    if kind == "error":
        return f"aio_error({acb})"
    if kind == "suspend":
        return f"aio_suspend([{acb}], timed)"
    return "aio_waitcomplete(poll)"


@st.composite
def scenarios(draw):
    used: set = set()
    threads = []
    for t in range(draw(st.integers(1, 2))):
        calls = [_call(draw, used) for _ in range(draw(st.integers(1, 3)))]
        threads.append(f'[[threads]]\nname = "T{t + 1}"\ncalls = [{", ".join(repr(c).replace(chr(39), chr(34)) for c in calls)}]\n')
    daemons = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["regular", "regular", "disk"]))
    fail = draw(st.sampled_from(["[]", '["a"]']))
    sig = draw(st.sampled_from(["NONE", "KEVENT", "SIGNAL"]))
    return (f'daemons = {daemons}\nmay_fail = {fail}\n[files]\nF = "{kind}"\n[aiocbs.a]\nsigev = "{sig}"\n'
            + "".join(threads))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_structural_properties_hold_on_random_programs(text):
    sc = load_text(text, "<random>")
    res = Explorer(Model(sc), max_states=20_000).run()
    broken = {k: w.message for k, w in res.violations.items() if k in STRUCTURAL}
    assert not broken, text


def test_structural_set_names_real_properties():
    assert STRUCTURAL <= {p.name for p in PROPERTIES}
