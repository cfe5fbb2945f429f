"""Conformance verdicts: constant mapping, the spec as judge, plain-words explanations, the posix
profile's relaxations, cancel honesty and flaky aggregation, on hand-made observations."""

from __future__ import annotations

import errno
import shutil
import subprocess

import pytest

from aiospec.conformance.library import load_scenario, scenario_names
from aiospec.conformance.observation import (
    HOST_ERRNO_BASE,
    RunOutcome,
    cancel_from_future,
    combine_cancel,
    glibc_cancel_result,
    spec_errno,
)
from aiospec.conformance.verdict import (
    RELAXATIONS,
    RunVerdict,
    acceptable,
    aggregate,
    cancel_honesty,
    explain,
    is_allowed,
    judge_run,
    spec_allowed,
)
from aiospec.conformance.adapters.base import initial_bytes
from aiospec.spec.constants import AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, Errno


# -- constants -----------------------------------------------------------------------------------

def test_linux_errnos_map_by_name_to_freebsd_values():
    assert spec_errno(errno.EINPROGRESS) == Errno.EINPROGRESS == 36
    assert spec_errno(errno.ECANCELED) == Errno.ECANCELED == 85
    assert spec_errno(errno.EAGAIN) == Errno.EAGAIN == 35
    assert spec_errno(errno.EBADF) == Errno.EBADF
    assert spec_errno(errno.EINVAL) == Errno.EINVAL
    assert spec_errno(0) == 0
    assert spec_errno(errno.ENOSYS) == HOST_ERRNO_BASE + errno.ENOSYS  # unknown to the spec: kept distinct


def test_glibc_and_futures_cancel_results_map_to_spec_meanings():
    assert [glibc_cancel_result(v) for v in (0, 1, 2)] == [AIO_CANCELED, AIO_NOTCANCELED, AIO_ALLDONE]
    with pytest.raises(ValueError):
        glibc_cancel_result(3)
    assert cancel_from_future(True, False) == AIO_CANCELED
    assert cancel_from_future(False, True) == AIO_NOTCANCELED
    assert cancel_from_future(False, False) == AIO_ALLDONE
    assert combine_cancel([AIO_CANCELED, AIO_NOTCANCELED]) == AIO_NOTCANCELED
    assert combine_cancel([AIO_ALLDONE, AIO_CANCELED]) == AIO_CANCELED
    assert combine_cancel([]) == AIO_ALLDONE


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_glibc_constants_and_struct_layout_match_the_headers(tmp_path):
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the ctypes struct aiocb is the x86_64 layout")
    from aiospec.conformance.adapters.glibc import GlibcAiocb
    from aiospec.conformance import observation as o

    src = tmp_path / "c.c"
    src.write_text('#include <aio.h>\n#include <stdio.h>\n#include <stddef.h>\n#include <signal.h>\nint main(void){'
                   'printf("%d %d %d %d %d %d %d %d %d %zu %zu %zu\\n", AIO_CANCELED, AIO_NOTCANCELED, AIO_ALLDONE,'
                   ' LIO_READ, LIO_WRITE, LIO_NOP, LIO_WAIT, LIO_NOWAIT, SIGEV_NONE, sizeof(struct aiocb),'
                   ' offsetof(struct aiocb, aio_offset), offsetof(struct aiocb, __error_code)); return 0;}\n')
    subprocess.run(["cc", str(src), "-o", str(tmp_path / "c")], check=True)
    got = subprocess.run([str(tmp_path / "c")], capture_output=True, text=True, check=True).stdout.split()
    assert [int(x) for x in got] == [o.GLIBC_AIO_CANCELED, o.GLIBC_AIO_NOTCANCELED, o.GLIBC_AIO_ALLDONE,
                                     o.GLIBC_LIO_READ, o.GLIBC_LIO_WRITE, o.GLIBC_LIO_NOP, o.GLIBC_LIO_WAIT,
                                     o.GLIBC_LIO_NOWAIT, o.GLIBC_SIGEV_NONE, 168, GlibcAiocb.aio_offset.offset,
                                     GlibcAiocb.error_code.offset]


# -- the library ---------------------------------------------------------------------------------

def test_library_has_at_least_fifteen_small_scenarios():
    names = scenario_names()
    assert len(names) >= 15
    for n in names:
        sc = load_scenario(n)
        assert sc.name == n
        assert spec_allowed(sc), f"{n}: the spec allows no observation at all"


# -- verdicts on hand-made observations -----------------------------------------------------------

def _ok(name: str, obs) -> RunOutcome:
    """A run that returned ``obs`` on an implementation whose successful writes all landed."""
    from aiospec.conformance.verdict import fill_byte

    sc = load_scenario(name)
    final = {f: bytearray(initial_bytes()) for f in sc.files}
    for hist in obs:
        for _text, res, ret in hist:
            if res == 0 and isinstance(ret, tuple) and ret[1] in sc.aiocbs:
                acb = sc.aiocbs[ret[1]]
                if acb.fd in final and acb.offset >= 0 and ret[0] == acb.nbytes:
                    final[acb.fd][acb.offset:acb.offset + acb.nbytes] = bytes([fill_byte(sc, ret[1])]) * acb.nbytes
    return RunOutcome("ok", obs, initial={f: initial_bytes() for f in sc.files},
                      final={f: bytes(b) for f, b in final.items()})


def _only(name: str):
    allowed = spec_allowed(load_scenario(name))
    assert len(allowed) == 1
    return next(iter(allowed))


def test_the_spec_allowed_observation_passes():
    assert judge_run(load_scenario("cancel-finished"), _ok("cancel-finished", _only("cancel-finished"))).kind == "pass"


def test_a_wrong_cancel_result_is_a_deviation_explained_in_words():
    sc = load_scenario("cancel-finished")
    obs = _only("cancel-finished")
    t1 = list(obs[0])
    assert t1[2] == ("aio_cancel(F, a)", 0, AIO_ALLDONE)
    t1[2] = ("aio_cancel(F, a)", 0, AIO_NOTCANCELED)  # edited by hand: a finished request "not cancelled"
    v = judge_run(sc, _ok("cancel-finished", (tuple(t1),)))
    assert v.kind == "deviation"
    assert v.detail == ("T1 call 3 `aio_cancel(F, a)` returned OK, AIO_NOTCANCELED, where the spec allows only "
                        "OK, AIO_ALLDONE (given T1's earlier results).")
    assert "observed:" in v.explanation and "aio_cancel(F, a) -> OK, AIO_NOTCANCELED" in v.explanation


def test_a_result_impossible_only_together_with_another_thread_names_that_thread():
    sc = load_scenario("cancel-race")
    allowed = spec_allowed(sc)
    # T1 reaped a with 512 (so the cancel did not cancel it) yet T2 says AIO_CANCELED: each thread's
    # results are possible alone, not together.
    t1 = next(o[0] for o in allowed if o[0][-1][2] == (512, "a"))
    obs = (t1, (("aio_cancel(F, a)", 0, AIO_CANCELED),))
    accs = acceptable(sc, allowed)
    assert not is_allowed(sc, obs, accs)
    why = explain(sc, obs, accs)
    assert why.startswith("T2 call 1 `aio_cancel(F, a)` returned OK, AIO_CANCELED, where the spec allows one of:")
    assert "given what T1 observed" in why


def test_posix_profile_relaxes_return_again_and_deferred_errors_but_freebsd_does_not():
    sc = load_scenario("return-once")
    obs = list(_only("return-once")[0])
    obs[3] = ("aio_return(a)", 0, (512, "a"))  # glibc: the value again
    assert judge_run(sc, _ok("return-once", (tuple(obs),)), "freebsd").kind == "deviation"
    assert judge_run(sc, _ok("return-once", (tuple(obs),)), "posix").kind == "pass"

    sc = load_scenario("negative-offset")
    einval = int(Errno.EINVAL)
    deferred = (("aio_read(a, F)", 0, None), ("aio_suspend([a])", 0, None), ("aio_error(a)", 0, einval),
                ("aio_return(a)", einval, (-1, "a")))
    assert judge_run(sc, _ok("negative-offset", (deferred,)), "freebsd").kind == "deviation"
    assert judge_run(sc, _ok("negative-offset", (deferred,)), "posix").kind == "pass"
    # deferred, but then aio_error claims success: not allowed by any profile
    bad = deferred[:2] + (("aio_error(a)", 0, 0),) + deferred[3:]
    v = judge_run(sc, _ok("negative-offset", (bad,)), "posix")
    assert v.kind == "deviation" and "`aio_error(a)` returned 0" in v.detail, v.detail
    assert set(RELAXATIONS) >= {"fd-wide-cancel", "error-at-completion", "return-again"}


def test_posix_fd_wide_cancel_may_say_canceled_while_one_request_runs():
    sc = load_scenario("cancel-fd-all")
    allowed = spec_allowed(sc)
    # FreeBSD: a still runs (EINPROGRESS right after the cancel), b was cancelled -> AIO_NOTCANCELED
    base = next(o for o in allowed if o[0][2][2] == AIO_NOTCANCELED and o[0][3][2] == Errno.EINPROGRESS)
    t1 = list(base[0])
    t1[2] = ("aio_cancel(F, NULL)", 0, AIO_CANCELED)
    obs = (tuple(t1),)
    v = judge_run(sc, _ok("cancel-fd-all", obs), "freebsd")
    # the first call no interleaving explains, given the earlier results, is the aio_error after the cancel:
    # after AIO_CANCELED, FreeBSD never leaves a request in progress
    assert v.kind == "deviation"
    assert v.detail == ("T1 call 4 `aio_error(a)` returned EINPROGRESS, where the spec allows one of: 0 | ECANCELED "
                        "(given T1's earlier results).")
    assert judge_run(sc, _ok("cancel-fd-all", obs), "posix").kind == "pass"
    # the relaxation is one-way: everything cancelled yet AIO_NOTCANCELED stays a deviation
    both = next(o for o in allowed if o[0][2][2] == AIO_CANCELED and o[0][3][2] == Errno.ECANCELED)
    t1 = list(both[0])
    t1[2] = ("aio_cancel(F, NULL)", 0, AIO_NOTCANCELED)
    assert judge_run(sc, _ok("cancel-fd-all", (tuple(t1),)), "posix").kind == "deviation"


def test_cancel_honesty_catches_a_cancelled_write_that_landed():
    sc = load_scenario("cancel-queued")
    obs = next(o for o in spec_allowed(sc) if ("aio_cancel(F, b)", 0, AIO_CANCELED) in o[0])
    landed = bytearray(initial_bytes())
    off = sc.aiocbs["b"].offset
    landed[off:off + 512] = b"\xa1" * 512
    out = RunOutcome("ok", obs, initial={"F": initial_bytes()}, final={"F": bytes(landed)})
    problems = cancel_honesty(sc, out)
    assert problems and problems[0].startswith("write b was reported cancelled (`aio_cancel(F, b)` returned AIO_CANCELED)")
    v = judge_run(sc, out)
    assert v.kind == "deviation" and v.detail.startswith("cancel not honest")
    # a write that was not cancelled may land
    assert not cancel_honesty(sc, RunOutcome("ok", obs, initial={"F": initial_bytes()}, final={"F": initial_bytes()}))


def test_runs_that_disagree_are_flaky_and_agreeing_ones_are_not():
    p, d = RunVerdict("pass", "allowed", observation=((),)), RunVerdict("deviation", "T1 call 1 ...", "why")
    assert aggregate("s", [p, p]).kind == "pass"
    assert aggregate("s", [d, d]).kind == "deviation"
    v = aggregate("s", [p, d, p])
    assert v.kind == "flaky" and v.detail == "2 pass, 1 deviation: T1 call 1 ..."


def test_timeouts_and_crashes_are_verdicts_with_what_returned_so_far():
    sc = load_scenario("lifecycle-write")
    v = judge_run(sc, RunOutcome("timeout", ((("aio_write(a, F)", 0, None),),), "T1 did not return from aio_suspend([a])"))
    assert v.kind == "timeout" and "aio_write(a, F) -> OK" in v.explanation
    assert judge_run(sc, RunOutcome("crash", (), "died with signal SIGSEGV")).kind == "crash"


def test_data_integrity_catches_a_write_reported_done_whose_bytes_did_not_land():
    from aiospec.conformance.verdict import data_integrity, fill_byte

    sc = load_scenario("lifecycle-write")
    obs = next(o for o in spec_allowed(sc) if any(r[0] == "aio_return(a)" and r[1] == 0 for r in o[0]))
    spec = sc.aiocbs["a"]
    landed = bytearray(initial_bytes())
    landed[spec.offset:spec.offset + spec.nbytes] = bytes([fill_byte(sc, "a")]) * spec.nbytes
    good = RunOutcome("ok", obs, initial={"F": initial_bytes()}, final={"F": bytes(landed)})
    assert data_integrity(sc, good) == []
    assert judge_run(sc, good).kind == "pass"
    lost = RunOutcome("ok", obs, initial={"F": initial_bytes()}, final={"F": initial_bytes()})
    problems = data_integrity(sc, lost)
    assert problems and problems[0].startswith("write a was reported done (`aio_return(a)` returned")
    v = judge_run(sc, lost)
    assert v.kind == "deviation" and v.detail.startswith("data not written")
