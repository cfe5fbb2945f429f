"""The external-process protocol (``exec:CMD``, docs/conformance-protocol.md): the shipped C
program over the system's <aio.h> runs scenarios end to end, and a child that crashes, answers
garbage or hangs is a verdict with a clear explanation, never a hung harness."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from aiospec.conformance.adapters import get_adapter
from aiospec.conformance.adapters.exec import ExecAdapter, ProtocolError, build_c_program, errno_value, parse_answer, request
from aiospec.conformance.library import load_scenario
from aiospec.conformance.runner import conform, conform_one
from aiospec.spec.constants import AIO_ALLDONE, Errno
from aiospec.spec.scenario import parse_call


@pytest.fixture(scope="module")
def c_impl(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    try:
        exe = build_c_program(tmp_path_factory.mktemp("cprog"))
    except subprocess.CalledProcessError as e:
        pytest.skip(f"aio_protocol.c does not build here: {e.stderr[-300:]}")
    return "exec:" + exe


def test_the_c_program_passes_through_the_protocol(c_impl):
    names = ["lifecycle-write", "lio-wait-null-nop", "cancel-queued", "cancel-fd-done", "read-zero-length",
             "two-threads-reap", "return-once", "waitcomplete"]
    v = {x.scenario: x for x in conform(get_adapter(c_impl), [load_scenario(n) for n in names], "freebsd")}
    for n in ("lifecycle-write", "lio-wait-null-nop", "cancel-queued", "cancel-fd-done", "read-zero-length",
              "two-threads-reap"):
        assert v[n].kind == "pass", (n, v[n].explanation)
    # the same glibc behaviour the ctypes adapter sees, now through a C program and JSON lines
    assert v["return-once"].kind == "deviation"
    assert "`aio_return(a)` returned OK, status 512, where the spec allows only EINVAL" in v["return-once"].detail
    assert v["waitcomplete"].kind == "skipped" and "aio_waitcomplete is not available" in v["waitcomplete"].detail
    assert conform_one(get_adapter(c_impl), load_scenario("return-once"), "posix").kind == "pass"


def test_the_c_program_reports_the_files_for_cancel_honesty(c_impl):
    out = get_adapter(c_impl).run(load_scenario("lifecycle-write"), 5.0)
    assert out.status == "ok"
    assert out.final["F"][:512] == bytes([0xA0]) * 512  # a's write, reported by the child's exit answer
    assert out.final["F"][512:] == out.initial["F"][512:]


# -- a child that misbehaves: scripts in Python, to show any language works -----------------------

def _script(tmp_path, body: str) -> str:
    p = tmp_path / "impl.py"
    p.write_text("import json, sys, os, time\n"
                 "def say(o):\n    sys.stdout.write(json.dumps(o) + '\\n'); sys.stdout.flush()\n"
                 "for line in sys.stdin:\n    r = json.loads(line)\n" + body)
    return f"exec:{sys.executable} {p}"


_HELLO = ("    if r['op'] == 'hello':\n        say({'protocol': 1, 'calls': ['aio_write', 'aio_error', 'aio_suspend', "
          "'aio_return', 'aio_read', 'aio_cancel']}); continue\n"
          "    if r['op'] in ('open', 'aiocb'):\n        say({'errno': 0, 'retval': None}); continue\n")


def test_a_child_that_dies_is_a_crash_naming_the_signal_and_the_call(tmp_path):
    impl = _script(tmp_path, _HELLO + "    if r['op'] == 'aio_suspend':\n        os.abort()\n"
                                      "    say({'errno': 0, 'retval': 'EINPROGRESS' if r['op'] == 'aio_error' else None})\n")
    v = conform_one(get_adapter(impl), load_scenario("lifecycle-write"), timeout=5.0)
    assert v.kind == "crash"
    assert v.detail.startswith("the implementation's process died with signal SIGABRT while answering `aio_suspend([a])`")
    assert "aio_write(a, F) -> OK" in v.explanation  # what returned before the crash


def test_garbage_output_is_a_crash_quoting_the_line(tmp_path):
    impl = _script(tmp_path, _HELLO + "    print('hello from a debug print', flush=True)\n")
    v = conform_one(get_adapter(impl), load_scenario("lifecycle-write"), timeout=5.0)
    assert v.kind == "crash"
    assert v.detail == ("the implementation answered garbage to `aio_write(a, F)`: 'hello from a debug print' "
                        "is not a JSON line")
    impl = _script(tmp_path, _HELLO + "    say({'errno': 'ENOTANERRNO', 'retval': None})\n")
    v = conform_one(get_adapter(impl), load_scenario("lifecycle-write"), timeout=5.0)
    assert v.kind == "crash" and "'ENOTANERRNO' is not a name or a number" in v.detail


def test_a_hanging_child_is_killed_and_is_a_timeout_naming_the_call(tmp_path):
    impl = _script(tmp_path, _HELLO + "    if r['op'] == 'aio_suspend':\n        time.sleep(3600)\n"
                                      "    say({'errno': 0, 'retval': 'EINPROGRESS' if r['op'] == 'aio_error' else None})\n")
    t0 = time.monotonic()
    v = conform_one(get_adapter(impl), load_scenario("lifecycle-write"), timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert v.kind == "timeout"
    assert v.detail == "no answer to `aio_suspend([a])` within 0.5s: the implementation's process was killed"


def test_a_missing_command_is_a_crash_verdict_and_exec_without_command_is_refused(tmp_path):
    v = conform_one(ExecAdapter(str(tmp_path / "no-such-binary")), load_scenario("lifecycle-write"))
    assert v.kind == "crash" and "cannot start" in v.detail
    with pytest.raises(ValueError):
        get_adapter("exec:")


# -- the message formats ----------------------------------------------------------------------------

def test_requests_and_answers_in_the_scenarios_vocabulary():
    sc = load_scenario("lio-wait-failing")
    call = sc.threads[0].calls[0]
    r = request(sc, 0, call)
    assert r["op"] == "lio_listio" and r["mode"] == "LIO_WAIT" and r["thread"] == 0
    assert r["list"][0] == {"opcode": "LIO_WRITE", "aiocb": "a", "fd": "F", "offset": 0, "nbytes": 512,
                            "fill": 0xA0 + sc.aiocb_index["a"], "sigev": "NONE"}
    assert r["lio"] == call.lio and r["sigev"] is None
    assert r["list"][1]["fd"] == "BADFD" and r["list"][1]["opcode"] == "LIO_READ"
    err = lambda m: (_ for _ in ()).throw(AssertionError(m))  # noqa: E731
    assert parse_answer(parse_call("aio_cancel(F, a)", 1, err), {"errno": 0, "retval": "AIO_ALLDONE"}) == (0, AIO_ALLDONE)
    assert parse_answer(parse_call("aio_error(a)", 1, err), {"errno": 0, "retval": "EINPROGRESS"}) == \
        (0, int(Errno.EINPROGRESS))
    assert parse_answer(parse_call("aio_return(a)", 1, err), {"errno": "EBADF", "retval": -1}) == \
        (int(Errno.EBADF), (-1, "a"))
    assert parse_answer(parse_call("aio_return(a)", 1, err), {"errno": "EINVAL", "retval": None}) == (int(Errno.EINVAL), None)
    assert errno_value(115) == Errno.EINPROGRESS  # a host (Linux) number, mapped by name
    with pytest.raises(ProtocolError):
        parse_answer(parse_call("aio_cancel(F, a)", 1, err), {"errno": 0, "retval": 2})  # numbers differ by OS: names only


# -- protocol 2: notifications and read data ---------------------------------------------------------

def test_the_c_program_delivers_notifications_and_read_data(c_impl):
    from aiospec.conformance.observation import Notifications

    names = ["notify-signal", "notify-cancel-queued", "notify-lio-nowait", "notify-lio-wait", "read-after-write",
             "read-after-lio-write", "lifecycle-read"]
    v = conform(get_adapter(c_impl), [load_scenario(n) for n in names], "freebsd", timeout=5)
    assert all(x.kind == "pass" for x in v), [(x.scenario, x.explanation) for x in v if x.kind != "pass"]
    out = get_adapter(c_impl).run(load_scenario("notify-lio-nowait"), 5.0)
    assert out.notifications == Notifications({}, {0: 1})  # one SIGEV_SIGNAL for the list, as event lines
    assert out.reads == {(0, 4): out.initial["F"][8192:8704]}  # aio_return(b)'s "data"
    # a kind the program does not deliver is unsupported, not failed
    v = conform_one(get_adapter(c_impl), load_scenario("lio-nowait-kevent"))
    assert v.kind == "skipped" and "SIGEV_KEVENT" in v.detail


# A whole implementation in a few lines: I/O at submission, so every request is done at once.
_SYNC = ("    if r['op'] == 'hello':\n"
         "        say({'protocol': 2, 'calls': ['aio_read', 'aio_write', 'aio_error', 'aio_return', 'aio_suspend'], "
         "'notifications': ['SIGNAL']}); continue\n"
         "    if r['op'] == 'open':\n        fds[r['fd']] = os.open(r['path'], os.O_RDWR)\n"
         "    if r['op'] in ('aio_read', 'aio_write'):\n"
         "        fd = fds[r['fd']]\n"
         "        if r['op'] == 'aio_write':\n"
         "            os.pwrite(fd, bytes([r['fill']]) * r['nbytes'], r['offset']); got[r['aiocb']] = None\n"
         "        else:\n            got[r['aiocb']] = os.pread(fd, r['nbytes'], r['offset'])\n"
         "        for _ in range(NOTES if r['sigev'] == 'SIGNAL' else 0):\n"
         "            say({'event': 'notify', 'aiocb': EVENT_AIOCB or r['aiocb']})\n"
         "    if r['op'] == 'aio_return':\n"
         "        d = got.get(r['aiocb'])\n"
         "        ans = {'errno': 0, 'retval': 512}\n"
         "        if d is not None:\n            ans['data'] = (WRONG or d).hex()\n"
         "        say(ans); continue\n"
         "    if r['op'] == 'exit':\n        say({}); break\n"
         "    say({'errno': 0, 'retval': 0 if r['op'] == 'aio_error' else None})\n")


def _sync(tmp_path, notes=1, event_aiocb=None, wrong=None) -> str:
    p = tmp_path / "sync.py"
    p.write_text(f"import json, sys, os\nNOTES = {notes}\nEVENT_AIOCB = {event_aiocb!r}\nWRONG = {wrong!r}\n"
                 "fds, got = {}, {}\n"
                 "def say(o):\n    sys.stdout.write(json.dumps(o) + '\\n'); sys.stdout.flush()\n"
                 "for line in sys.stdin:\n    r = json.loads(line)\n" + _SYNC)
    return f"exec:{sys.executable} {p}"


def test_notify_events_are_counted_and_a_double_notification_is_a_deviation(tmp_path):
    sc = load_scenario("notify-signal")
    assert conform_one(get_adapter(_sync(tmp_path)), sc, timeout=5.0).kind == "pass"
    v = conform_one(get_adapter(_sync(tmp_path, notes=2)), sc, timeout=5.0)
    assert v.kind == "deviation" and "aiocb a asked for a SIGEV_SIGNAL notification and got 2" in v.detail
    v = conform_one(get_adapter(_sync(tmp_path, event_aiocb="zz")), sc, timeout=5.0)
    assert v.kind == "crash"
    assert v.detail.startswith("the implementation sent a bad event before answering `aio_write(a, F)`: notify "
                               "event {\"event\": \"notify\", \"aiocb\": \"zz\"} names no aiocb")


def test_wrong_read_data_through_the_protocol_is_a_deviation(tmp_path):
    sc = load_scenario("read-after-write")
    assert conform_one(get_adapter(_sync(tmp_path)), sc, timeout=5.0).kind == "pass"
    v = conform_one(get_adapter(_sync(tmp_path, wrong=bytes(512))), sc, timeout=5.0)
    assert v.kind == "deviation"
    assert v.detail.startswith("data read wrong: read b was reported done (`aio_return(b)` returned 512) but 512 of "
                               "its 512 bytes at [4096, 4608) in F are not what the file held")
