"""Conformance adapters end to end on real files: the reference engine passes every scenario
under the freebsd profile, glibc and concurrent.futures run and are judged, seeded broken
implementations are caught (a lying cancel, a hang, a stuck process, a crash), quickly."""

from __future__ import annotations

import os
import platform
import threading
import time

import pytest

from aiospec.conformance.adapters import get_adapter
from aiospec.conformance.adapters.base import run_isolated
from aiospec.conformance.adapters.fake import HangingAdapter, LyingCancelAdapter, StuckExitAdapter
from aiospec.conformance.library import load_scenario, scenario_names
from aiospec.conformance.runner import conform, conform_one

ALL = [load_scenario(n) for n in scenario_names()]


def _glibc_usable() -> bool:
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return False
    try:
        get_adapter("glibc")
    except (OSError, AssertionError):
        return False
    return True


needs_glibc = pytest.mark.skipif(not _glibc_usable(), reason="glibc AIO via ctypes needs x86_64 Linux")


def test_reference_engine_passes_every_conformance_scenario_under_freebsd():
    verdicts = conform(get_adapter("reference"), ALL, "freebsd", runs=2)
    bad = {v.scenario: v.explanation for v in verdicts if v.kind != "pass"}
    assert not bad, bad
    assert len(verdicts) >= 40


# what futures does that even the posix profile does not accept (docs/conformance.md, "Deviations explained"):
# aio_suspend on nothing returns at once (accepted by the glibc profile only)
FUTURES_POSIX_DEVIATIONS = {"suspend-null-timeout", "pipe-cancel-read"}  # pread on a FIFO: ESPIPE
# what the posix profile accepts but freebsd does not, beyond deferred submission errors: no per-process queue
# limit, lio_listio(LIO_NOWAIT) queueing an entry on a bad fd
FUTURES_FREEBSD_ONLY = {"queue-limit-eagain", "lio-nowait-failing"}


def test_futures_runs_every_scenario_and_passes_under_posix_but_for_known_deviations():
    verdicts = conform(get_adapter("futures"), ALL, "posix")
    bad = {v.scenario: v.explanation for v in verdicts if v.kind not in ("pass", "skipped")}
    assert set(bad) == FUTURES_POSIX_DEVIATIONS, bad
    assert {v.scenario for v in verdicts if v.kind == "skipped"} == {"lio-nowait-kevent"}  # no kqueue


def test_futures_deviates_from_freebsd_only_where_it_defers_submission_errors():
    verdicts = {v.scenario: v for v in conform(get_adapter("futures"), ALL, "freebsd")}
    assert {n for n, v in verdicts.items() if v.kind not in ("pass", "skipped")} == {"badfd-write", "fsync-badfd",
                                                                                    "negative-offset"} | \
        FUTURES_POSIX_DEVIATIONS | FUTURES_FREEBSD_ONLY
    assert verdicts["badfd-write"].detail == ("T1 call 1 `aio_write(a, BADFD)` returned OK, where the spec allows "
                                             "only EBADF (it is T1's first call).")


@needs_glibc
def test_glibc_end_to_end():
    ad = get_adapter("glibc")
    names = ["lifecycle-write", "lio-wait-null-nop", "return-once", "waitcomplete", "cancel-queued"]
    v = {x.scenario: x for x in conform(ad, [load_scenario(n) for n in names], "freebsd")}
    assert v["lifecycle-write"].kind == "pass", v["lifecycle-write"].explanation
    assert v["lio-wait-null-nop"].kind == "pass", v["lio-wait-null-nop"].explanation
    assert v["cancel-queued"].kind == "pass", v["cancel-queued"].explanation
    # glibc's aio_return hands the value out again: a FreeBSD deviation, POSIX leaves it open
    assert v["return-once"].kind == "deviation"
    assert "`aio_return(a)` returned OK, status 512, where the spec allows only EINVAL" in v["return-once"].detail
    assert conform_one(ad, load_scenario("return-once"), "posix").kind == "pass"
    assert v["waitcomplete"].kind == "skipped" and "aio_waitcomplete" in v["waitcomplete"].detail


def test_a_lying_cancel_is_a_deviation_and_cancel_honesty_sees_the_write_land():
    sc = load_scenario("cancel-queued")
    v = conform_one(LyingCancelAdapter(), sc, "freebsd")
    # the lie shows in the observation: after AIO_CANCELED, b's error must be ECANCELED
    assert v.kind == "deviation"
    assert v.detail == ("T1 call 5 `aio_error(b)` returned 0, where the spec allows only ECANCELED "
                        "(given T1's earlier results).")
    assert "aio_cancel(F, b) -> OK, AIO_CANCELED" in v.explanation
    # and, independently of the results, the bytes: the "cancelled" write is in the file
    from aiospec.conformance.verdict import cancel_honesty

    out = LyingCancelAdapter().run(sc, 5.0)
    problems = cancel_honesty(sc, out)
    assert problems and "write b was reported cancelled" in problems[0] and "the write landed" in problems[0]


def test_a_hanging_call_is_a_timeout_verdict_naming_the_call_quickly():
    before = threading.active_count()
    t0 = time.monotonic()
    v = conform_one(HangingAdapter(), load_scenario("lifecycle-write"), "freebsd", timeout=0.5)
    assert time.monotonic() - t0 < 3
    assert v.kind == "timeout"
    assert v.detail == "T1 did not return from aio_suspend([a]) within 0.5s"
    assert "aio_write(a, F) -> OK" in v.explanation  # what returned before the hang
    assert threading.active_count() == before  # exit released the stuck thread; the pool is shut down


def test_a_process_that_never_exits_is_killed_and_is_a_timeout_verdict():
    ad = StuckExitAdapter()
    ad.startup = 3.0
    t0 = time.monotonic()
    v = conform_one(ad, load_scenario("cancel-nothing"), "freebsd", timeout=0.5)
    assert time.monotonic() - t0 < 8
    assert v.kind == "timeout" and "process was killed" in v.detail


def test_a_crashing_child_is_a_crash_verdict():
    out = run_isolated(os.abort, (), 10.0)
    assert out.status == "crash" and "SIGABRT" in out.detail


@pytest.mark.parametrize("probe, why", [
    ("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n", "crashed with SIGILL"),
    ("raise SystemExit('io_uring_queue_init failed: [Errno 1] nope (io_uring disabled or forbidden here)')\n",
     "io_uring_queue_init failed: [Errno 1] nope"),
    ("raise SystemExit(3)\n", "the io_uring probe exited 3"),
    ("pass\n", None),
])
def test_the_io_uring_probe_survives_a_binding_that_kills_its_process(monkeypatch, probe, why):
    """The liburing wheel dies of SIGILL in ``Ring()`` on a CPU it was not built for (it took
    every pytest worker down at collection once); the probe runs in a child, so the caller
    gets a reason and the adapter is skipped."""
    import importlib.util

    from aiospec.conformance.adapters import io_uring

    if importlib.util.find_spec("liburing") is None:
        pytest.skip("liburing is not installed")
    monkeypatch.setattr(io_uring, "_PROBE", probe)
    io_uring.available.cache_clear()
    try:
        got = io_uring.available()
        assert got == why if why is None else why in got, got
        if why is not None:
            with pytest.raises(ImportError, match=why.split(":")[0]):
                io_uring.IoUringAdapter()
    finally:
        io_uring.available.cache_clear()


def test_the_io_uring_probe_says_when_the_module_is_missing(monkeypatch):
    import importlib.util

    from aiospec.conformance.adapters import io_uring

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    io_uring.available.cache_clear()
    try:
        assert "the liburing module is not installed" in io_uring.available()
    finally:
        io_uring.available.cache_clear()


@pytest.mark.parametrize("why, hints", [
    ("the liburing binding crashed with SIGILL when it made a ring (built for another CPU?)", 0),
    ("the liburing module is not installed (pip install 'aiospec[conform]')", 1),
])
def test_conform_says_why_io_uring_cannot_run_and_hints_an_install_only_when_a_module_is_missing(monkeypatch, why,
                                                                                                   hints):
    from click.testing import CliRunner

    from aiospec.cli import main
    from aiospec.conformance.adapters import io_uring

    monkeypatch.setattr(io_uring, "available", lambda: why)
    r = CliRunner().invoke(main, ["conform", "--impl", "io_uring"])
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and f"cannot run here: {why}" in said and "Traceback" not in said, r.output
    assert said.count("pip install") == hints
