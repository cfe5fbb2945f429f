"""Notifications: the spec posts one per request that asked for one when it completes (cancelled
or not), none for a request never queued or completing during process exit, one per LIO_NOWAIT
list and none for LIO_WAIT; adapters count what their implementation delivered and the verdict
holds them to it.  Hand-made runs, a seeded double notification, every adapter end to end."""

from __future__ import annotations

import platform

import pytest

from aiospec.conformance.adapters import get_adapter
from aiospec.conformance.adapters.fake import DoubleNotifyAdapter
from aiospec.conformance.library import load_scenario
from aiospec.conformance.notify import notification_problem, requested
from aiospec.conformance.observation import Notifications, RunOutcome
from aiospec.conformance.runner import conform, conform_one
from aiospec.conformance.verdict import judge_run, spec_allowed, spec_allowed_notified
from aiospec.spec import load_text
from aiospec.spec.constants import AIO_CANCELED, Errno

NOTIFY = ["notify-signal", "notify-cancel-queued", "notify-lio-nowait", "notify-lio-wait"]


def _run(obs, aiocbs=None, lists=None, notified=True) -> RunOutcome:
    return RunOutcome("ok", obs, notifications=Notifications(aiocbs or {}, lists or {}) if notified else None)


def test_the_library_asks_for_notifications():
    for n in NOTIFY:
        assert any(requested(load_scenario(n))), n
    assert requested(load_scenario("notify-lio-nowait")) == ([], [0])


def test_one_notification_per_completed_request_and_two_is_a_deviation_in_words():
    sc = load_scenario("notify-signal")
    (obs,) = spec_allowed(sc)
    assert judge_run(sc, _run(obs, {"a": 1})).kind == "pass"
    for n in (0, 2):
        v = judge_run(sc, _run(obs, {"a": n}))
        assert v.kind == "deviation"
        assert v.detail == (f"notifications: aiocb a asked for a SIGEV_SIGNAL notification and got {n} by the end of "
                            "the run, where the spec allows exactly 1 given these results (FreeBSD posts one when a "
                            "request completes, cancelled or not; none for a request never queued or completing "
                            "during process exit)")
        assert f"notifications delivered: a: {n}" in v.explanation


def test_a_cancelled_request_is_notified_too_as_freebsd_posts_on_ecanceled():
    sc = load_scenario("notify-cancel-queued")
    obs = next(o for o in spec_allowed(sc) if o[0][2][2] == AIO_CANCELED)
    assert obs[0][5][1] == Errno.ECANCELED
    assert judge_run(sc, _run(obs, {"a": 1, "b": 1})).kind == "pass"
    v = judge_run(sc, _run(obs, {"a": 1}))  # no notification for the cancelled b
    assert v.kind == "deviation" and "aiocb b asked for a SIGEV_SIGNAL notification and got 0" in v.detail


def test_lists_lio_nowait_posts_once_and_lio_wait_ignores_its_sigevent():
    sc = load_scenario("notify-lio-nowait")
    (obs,) = spec_allowed(sc)
    assert judge_run(sc, _run(obs, lists={0: 1})).kind == "pass"
    v = judge_run(sc, _run(obs, lists={}))
    assert v.kind == "deviation"
    assert v.detail.startswith("notifications: `lio_listio(LIO_NOWAIT, [write a, read b], SIGNAL)` asked for a "
                               "SIGEV_SIGNAL list notification and got 0 by the end of the run, where the spec allows "
                               "exactly 1")
    sc = load_scenario("notify-lio-wait")
    (obs,) = spec_allowed(sc)
    assert judge_run(sc, _run(obs, {"a": 1})).kind == "pass"
    v = judge_run(sc, _run(obs, {"a": 1}, {0: 1}))
    assert v.kind == "deviation" and "where the spec allows none" in v.detail and "LIO_WAIT ignores it" in v.detail


EXIT_IN_FLIGHT = '''
daemons = 1
[files]
F = "regular"
[aiocbs.a]
sigev = "SIGNAL"
[[threads]]
name = "T1"
calls = ["aio_write(a, F)"]
'''


def test_a_request_completing_at_process_exit_may_go_unnotified():
    sc = load_text(EXIT_IN_FLIGHT, "exit-notify.toml")
    assert {j for _o, j, _l in spec_allowed_notified(sc)} == {(0,), (1,)}  # KAIO_RUNDOWN: no post
    (obs,) = spec_allowed(sc)
    assert judge_run(sc, _run(obs, {"a": 0})).kind == "pass"
    assert judge_run(sc, _run(obs, {"a": 1})).kind == "pass"
    assert judge_run(sc, _run(obs, {"a": 2})).kind == "deviation"


BADFD_NOTIFY = '''
daemons = 1
[files]
F = "regular"
[aiocbs.a]
sigev = "SIGNAL"
[[threads]]
name = "T1"
calls = ["aio_write(a, BADFD)", "aio_suspend([a])", "aio_return(a)"]
'''


def test_a_request_posix_lets_fail_at_completion_may_be_notified():
    sc = load_text(BADFD_NOTIFY, "badfd-notify.toml")
    assert {j for _o, j, _l in spec_allowed_notified(sc)} == {(0,)}  # never queued: no notification
    deferred = ((("aio_write(a, BADFD)", 0, None), ("aio_suspend([a])", 0, None),
                 ("aio_return(a)", int(Errno.EBADF), (-1, "a"))),)
    assert judge_run(sc, _run(deferred, {"a": 1}), "posix").kind == "pass"
    assert judge_run(sc, _run(deferred, {"a": 2}), "posix").kind == "deviation"


def test_an_adapter_that_counts_nothing_is_a_harness_error_not_a_pass():
    sc = load_scenario("notify-signal")
    (obs,) = spec_allowed(sc)
    v = judge_run(sc, _run(obs, notified=False))
    assert v.kind == "error" and "reported no notification counts" in v.detail


def test_a_doubled_notification_is_caught_end_to_end():
    v = conform_one(DoubleNotifyAdapter(), load_scenario("notify-signal"), "freebsd", runs=2, timeout=5)
    assert v.kind == "deviation" and "aiocb a asked for a SIGEV_SIGNAL notification and got 2" in v.detail


def test_a_kind_the_implementation_cannot_deliver_is_unsupported_not_failed():
    v = conform_one(get_adapter("futures"), load_scenario("lio-nowait-kevent"), "freebsd")
    assert v.kind == "skipped"
    assert v.detail == ("unsupported notification: `lio_listio(LIO_NOWAIT, [write a, write b], KEVENT)` asks for a "
                        "SIGEV_KEVENT list notification, which this implementation cannot deliver")


def _io_uring_ok() -> bool:
    try:
        from aiospec.conformance.adapters.io_uring import available
    except ImportError:  # pragma: no cover
        return False
    return available() is None


def _glibc_ok() -> bool:
    return platform.system() == "Linux" and platform.machine() == "x86_64"


@pytest.mark.parametrize("impl", [
    "reference", "futures", "asyncio", "anyio", "aiofiles",
    pytest.param("io_uring", marks=pytest.mark.skipif(not _io_uring_ok(), reason="io_uring unusable here")),
    pytest.param("glibc", marks=pytest.mark.skipif(not _glibc_ok(), reason="glibc AIO via ctypes needs x86_64 Linux")),
])
def test_every_adapter_delivers_exactly_the_notifications_the_spec_posts(impl):
    try:
        ad = get_adapter(impl)
    except ImportError as e:
        pytest.skip(str(e))
    stable = [n for n in NOTIFY if n != "notify-cancel-queued"]  # asyncio's / aiofiles' cancels are racy
    v = conform(ad, [load_scenario(n) for n in stable], "freebsd", timeout=5)
    assert all(x.kind == "pass" for x in v), [(x.scenario, x.explanation) for x in v if x.kind != "pass"]
    # cancelled or not, each write is notified once (cancel honesty, checked apart, may fail for asyncio)
    sc = load_scenario("notify-cancel-queued")
    out = ad.run(sc, 5)
    assert out.notifications == Notifications({"a": 1, "b": 1}, {})
    assert notification_problem(sc, out, spec_allowed_notified(sc), "freebsd") is None
