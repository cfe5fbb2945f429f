"""Hypothesis-generated conformance scenarios: random small programs run on real adapters and
judged by the spec; a seeded deviation (the lying-cancel fake) is shrunk to a minimal scenario."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import find
from hypothesis import strategies as st

from aiospec.conformance.adapters import get_adapter
from aiospec.conformance.adapters.exec import build_c_program
from aiospec.conformance.adapters.fake import LyingCancelAdapter
from aiospec.conformance.runner import conform_one
from aiospec.spec.scenario import Scenario, load_text

AIOCBS = ("a", "b")
# one action each; invalid ones for the current state are skipped, so every list is a valid program
ACTIONS = st.one_of(
    st.tuples(st.sampled_from(["write", "read", "wait", "error", "cancel"]), st.sampled_from(AIOCBS)),
    st.just(("cancel_all", None)),
)


def program(actions) -> list[str]:
    """Well-defined POSIX AIO calls only: aio_error / aio_return only for submitted requests,
    aio_return only after aio_suspend, no resubmission of a request in flight."""
    calls: list[str] = []
    state = {x: "new" for x in AIOCBS}  # new | flight | reaped
    for act, x in actions:
        if act in ("write", "read") and state[x] != "flight":
            calls.append(f"aio_{act}({x}, F)")
            state[x] = "flight"
        elif act == "wait" and state[x] == "flight":
            calls += [f"aio_suspend([{x}])", f"aio_return({x})"]
            state[x] = "reaped"
        elif act == "error" and state[x] == "flight":
            calls.append(f"aio_error({x})")
        elif act == "cancel":
            calls.append(f"aio_cancel(F, {x})")
        elif act == "cancel_all":
            calls.append("aio_cancel(F, NULL)")
    return calls


def scenario(threads: list[list[str]]) -> Scenario:
    body = "".join(f'\n[[threads]]\nname = "T{i + 1}"\ncalls = [{", ".join(repr(c) for c in calls)}]\n'
                   for i, calls in enumerate(threads))
    return load_text('name = "generated"\ndaemons = 1\n[files]\nF = "regular"\n[aiocbs.b]\noffset = 8192\n' + body,
                     "generated.toml")


SCENARIOS = st.lists(ACTIONS, min_size=1, max_size=6).map(program).filter(bool).map(lambda c: scenario([c]))



@pytest.fixture(scope="module")
def c_program(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    try:
        return "exec:" + build_c_program(tmp_path_factory.mktemp("cprog"))
    except subprocess.CalledProcessError:
        pytest.skip("aio_protocol.c does not build here")


FAST = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FAST
@given(SCENARIOS)
def test_reference_engine_passes_generated_scenarios_under_freebsd(sc):
    v = conform_one(get_adapter("reference"), sc, "freebsd", timeout=5.0)
    assert v.kind == "pass", v.explanation


@FAST
@pytest.mark.parametrize("impl", ["futures", "anyio"])
@given(sc=SCENARIOS)
def test_python_adapters_pass_generated_scenarios_under_posix(impl, sc):
    if impl == "anyio":
        pytest.importorskip("anyio")
    v = conform_one(get_adapter(impl), sc, "posix", timeout=5.0)
    assert v.kind == "pass", v.explanation


def test_a_seeded_lying_cancel_shrinks_to_a_minimal_scenario():
    lying = LyingCancelAdapter()

    def deviates(sc: Scenario) -> bool:
        return conform_one(lying, sc, "freebsd", timeout=5.0).kind == "deviation"

    # one or two threads of up to 8 actions; find() returns the failing example shrunk to a minimum
    thread = st.lists(ACTIONS, min_size=1, max_size=8).map(program).filter(bool)
    found = []

    def check(sc: Scenario) -> bool:
        bad = deviates(sc)
        if bad:
            found.append(sum(len(th.calls) for th in sc.threads))
        return bad

    minimal = find(st.lists(thread, min_size=1, max_size=2).map(scenario), check,
                   settings=settings(max_examples=200, deadline=None, derandomize=True, database=None,
                                     suppress_health_check=list(HealthCheck)))
    calls = [c.text for th in minimal.threads for c in th.calls]
    assert len(minimal.threads) == 1 and len(calls) <= 3, calls
    assert max(found) > len(calls), found  # it really was shrunk from a bigger failing scenario
    assert any(c.startswith("aio_cancel") for c in calls), calls
    # the honest implementation the fake is built on passes the same scenario: the lie is the deviation
    assert conform_one(get_adapter("futures"), minimal, "freebsd").kind == "pass"


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
@given(sc=SCENARIOS)
def test_the_c_program_passes_generated_scenarios_under_posix(c_program, sc):
    v = conform_one(get_adapter(c_program), sc, "posix", timeout=5.0)
    assert v.kind == "pass", v.explanation
