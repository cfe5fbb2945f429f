"""The scenario loader (aiospec.spec.scenario): built-ins, error reporting, robustness.

Contract under test: ``load_text`` returns a ``Scenario`` or raises ``ScenarioError`` whose
``.line`` points at the offending line of the TOML text; it never lets any other exception
escape.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from importlib import resources

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aiospec.spec.constants import FileKind, Op, Sigev
from aiospec.spec.scenario import (
    CALL_KINDS,
    Scenario,
    ScenarioError,
    builtin_names,
    load,
    load_file,
    load_text,
)

BUILTINS = builtin_names()


def doc(text: str) -> str:
    """Dedent a test document; line 1 is the first line after the opening quotes."""
    return textwrap.dedent(text).lstrip("\n")


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line of ``text`` that contains ``needle``."""
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) == 1, f"test document must contain {needle!r} on exactly one line, found {hits}"
    return hits[0]


def load_error(text: str, source: str = "bad.toml") -> ScenarioError:
    with pytest.raises(ScenarioError) as ei:
        load_text(text, source)
    e = ei.value
    assert e.source == source
    assert isinstance(e.message, str) and e.message
    # str(e) is what the CLI prints: "source:line: message" (or "source: message" without a line)
    assert str(e) == (f"{source}:{e.line}: {e.message}" if e.line else f"{source}: {e.message}")
    return e


# --------------------------------------------------------------------------------------------------
# built-in scenarios


def test_builtin_names_are_the_packaged_toml_files():
    files = resources.files("aiospec") / "scenarios"
    expected = sorted(f.name[: -len(".toml")] for f in files.iterdir() if f.name.endswith(".toml"))
    assert BUILTINS == expected
    assert {"default", "cancel-race", "lio-wait", "lio-fsync", "full"} <= set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_loads(name):
    sc = load(name)
    assert isinstance(sc, Scenario)
    assert sc.name == name
    assert sc.source == f"{name}.toml"
    assert sc.description
    assert sc.profile in ("freebsd", "rtems")
    assert 1 <= len(sc.threads) <= 6
    assert 0 <= sc.daemons <= 8
    assert sc.files and all(isinstance(k, FileKind) for k in sc.files.values())
    assert all(s.fd in sc.files or s.fd == "BADFD" or s.op == Op.LIO_MLOCK for s in sc.slots)
    assert len(sc.slots) <= 12
    assert sc.aiocb_index == {n: i for i, n in enumerate(sc.aiocbs)}


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_slot_and_lio_indices_are_consistent(name):
    sc = load(name)
    assert [s.index for s in sc.slots] == list(range(len(sc.slots)))
    referenced: list[int] = []
    lios: list[int] = []
    for ti, th in enumerate(sc.threads):
        for ci, call in enumerate(th.calls):
            assert call.kind in CALL_KINDS
            if call.kind == "lio_listio":
                lios.append(call.lio)
                assert len(call.slots) == len(call.entries)
                for ei, (s, entry) in enumerate(zip(call.slots, call.entries)):
                    if entry.aiocb is None:
                        assert s == -1
                        continue
                    slot = sc.slots[s]
                    assert slot.lio == call.lio
                    assert (slot.thread, slot.call, slot.entry) == (ti, ci, ei)
                    assert (slot.aiocb, slot.op) == (entry.aiocb, entry.op)
                    assert slot.fd == sc.aiocbs[entry.aiocb].fd
                    referenced.append(s)
            elif call.kind in ("aio_read", "aio_write", "aio_fsync", "aio_mlock"):
                assert call.lio == -1
                (s,) = call.slots
                slot = sc.slots[s]
                assert slot.lio == -1
                assert (slot.thread, slot.call, slot.entry) == (ti, ci, -1)
                assert (slot.aiocb, slot.op) == (call.aiocb, call.op)
                referenced.append(s)
            else:
                assert call.slots == () and call.lio == -1
    # every slot comes from exactly one submission site; lio slots are numbered 0..lio_count-1
    assert sorted(referenced) == list(range(len(sc.slots)))
    assert lios == list(range(sc.lio_count))
    for slot in sc.slots:
        assert slot.aiocb in sc.aiocbs
        assert 0 <= slot.lio < sc.lio_count or slot.lio == -1


def test_builtin_call_lines_point_at_the_call_text():
    for name in BUILTINS:
        text = (resources.files("aiospec") / "scenarios" / f"{name}.toml").read_text()
        lines = text.splitlines()
        for th in load(name).threads:
            for call in th.calls:
                assert call.line is not None
                assert f'"{call.text}"' in lines[call.line - 1]


def test_cancel_race_facts():
    sc = load("cancel-race")
    assert len(sc.threads) == 2
    assert [t.name for t in sc.threads] == ["T1", "T2"]
    assert sc.daemons == 1
    assert sc.profile == "freebsd" and not sc.rtems
    assert sc.lio_count == 0
    assert len(sc.slots) == 1
    (slot,) = sc.slots
    assert (slot.index, slot.aiocb, slot.op, slot.fd, slot.thread, slot.call, slot.entry, slot.lio, slot.may_fail) == (
        0, "a", Op.LIO_WRITE, "F", 0, 0, -1, -1, False)
    t1, t2 = sc.threads
    assert [c.kind for c in t1.calls] == ["aio_write", "aio_suspend", "aio_return"]
    assert t1.calls[0].slots == (0,)
    assert t1.calls[1].targets == ("a",)
    assert t1.calls[1].timeout == "none"
    (cancel,) = t2.calls
    assert (cancel.kind, cancel.fd, cancel.aiocb) == ("aio_cancel", "F", "a")
    assert sc.aiocb_names() == ("a",)
    assert sc.aiocbs["a"].fd == "F" and sc.aiocbs["a"].nbytes == 512 and sc.aiocbs["a"].sigev == Sigev.NONE


def test_lio_wait_facts():
    sc = load("lio-wait")
    assert sc.lio_count == 1
    assert len(sc.slots) == 2
    lio_call = sc.threads[0].calls[0]
    assert lio_call.kind == "lio_listio"
    assert lio_call.mode == "LIO_WAIT"
    assert lio_call.sig is None
    assert lio_call.lio == 0
    assert lio_call.slots == (0, 1)
    assert [(e.op, e.aiocb) for e in lio_call.entries] == [(Op.LIO_WRITE, "a"), (Op.LIO_READ, "b")]
    assert [(s.aiocb, s.op, s.lio, s.entry) for s in sc.slots] == [("a", Op.LIO_WRITE, 0, 0), ("b", Op.LIO_READ, 0, 1)]
    assert [c.kind for c in sc.threads[1].calls] == ["aio_cancel"]
    assert sc.threads[1].calls[0].aiocb is None  # aio_cancel(F, NULL)


def test_default_facts():
    sc = load("default")
    t1 = sc.threads[0]
    lio, write, fsync, wait = t1.calls
    assert (lio.mode, lio.sig, lio.lio, lio.slots) == ("LIO_NOWAIT", Sigev.KEVENT, 0, (0,))
    assert (write.kind, write.slots) == ("aio_write", (1,))
    assert (fsync.kind, fsync.fsync_op, fsync.op, fsync.slots) == ("aio_fsync", "O_SYNC", Op.LIO_SYNC, (2,))
    assert (wait.kind, wait.timeout) == ("aio_waitcomplete", "none")
    assert [s.op for s in sc.slots] == [Op.LIO_WRITE, Op.LIO_WRITE, Op.LIO_SYNC]


def test_full_facts():
    sc = load("full")
    assert len(sc.threads) == 3 and sc.daemons == 2
    assert len(sc.slots) == 4 and sc.lio_count == 1
    assert sc.threads[0].calls[1].targets == ("a", "b")


def test_load_by_path_matches_builtin(tmp_path):
    text = (resources.files("aiospec") / "scenarios" / "lio-wait.toml").read_text()
    p = tmp_path / "copy.toml"
    p.write_text(text)
    by_name, by_path, by_file = load("lio-wait"), load(str(p)), load_file(p)
    assert by_path.source == str(p) == by_file.source
    for other in (by_path, by_file):
        assert other.threads == by_name.threads
        assert other.slots == by_name.slots
        assert other.aiocbs == by_name.aiocbs


def test_load_unknown_name_lists_builtins():
    with pytest.raises(ScenarioError) as ei:
        load("no-such-scenario")
    e = ei.value
    assert e.source == "no-such-scenario" and e.line is None
    for name in BUILTINS:
        assert name in e.message


def test_load_file_unreadable(tmp_path):
    with pytest.raises(ScenarioError) as ei:
        load_file(tmp_path / "missing.toml")
    assert ei.value.line is None and "cannot read scenario" in ei.value.message
    with pytest.raises(ScenarioError) as ei:
        load_file(tmp_path)  # a directory
    assert "cannot read scenario" in ei.value.message
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as ei:
        load_file(bad)
    assert "UTF-8" in ei.value.message


def test_custom_scenario_fields():
    text = doc("""
        name = "custom"
        profile = "rtems"
        daemons = 0
        signals = true
        may_fail = ["b"]

        [files]
        F = "regular"
        D = "disk"
        P = "pipe"

        [limits]
        max_aio_per_proc = 2
        enable_aio_unsafe = true

        [aiocbs.b]
        fd = "D"
        offset = 1024
        nbytes = 4096
        sigev = "SIGEV_SIGNAL"

        [[threads]]
        name = "w"
        calls = ["aio_read(a, P)", "lio_listio(LIO_NOWAIT, [write b, NULL, nop c], SIGNAL)"]

        [[threads]]
        calls = ["aio_mlock(m)", "aio_fsync(O_DSYNC, s, BADFD)", "aio_suspend([a, NULL], timed)",
                 "aio_waitcomplete(poll)", "aio_error(a)"]
    """)
    sc = load_text(text, "custom.toml")
    assert (sc.name, sc.profile, sc.rtems, sc.daemons, sc.signals) == ("custom", "rtems", True, 0, True)
    assert sc.files == {"F": FileKind.REGULAR, "D": FileKind.DISK, "P": FileKind.PIPE}
    assert sc.limits.max_aio_per_proc == 2 and sc.limits.enable_aio_unsafe is True
    assert sc.limits.max_buf_aio == 16  # default kept
    b = sc.aiocbs["b"]
    assert (b.fd, b.offset, b.nbytes, b.sigev) == ("D", 1024, 4096, Sigev.SIGNAL)
    assert [t.name for t in sc.threads] == ["w", "T2"]  # unnamed threads are numbered
    lio = sc.threads[0].calls[1]
    assert lio.sig == Sigev.SIGNAL and lio.lio == 0
    assert lio.slots == (1, -1, 2)  # the NULL entry gets no slot
    assert [(s.aiocb, s.op, s.fd, s.may_fail) for s in sc.slots] == [
        ("a", Op.LIO_READ, "P", False),
        ("b", Op.LIO_WRITE, "D", True),
        ("c", Op.LIO_NOP, "F", False),
        ("m", Op.LIO_MLOCK, "F", False),
        ("s", Op.LIO_SYNC, "BADFD", False),
    ]
    t2 = sc.threads[1].calls
    assert t2[1].fsync_op == "O_DSYNC"
    assert t2[2].targets == ("a", None) and t2[2].timeout == "timed"
    assert t2[3].timeout == "poll"
    # call lines follow a call array split over several lines
    assert [c.line for c in t2] == [line_of(text, "aio_mlock(m)")] * 3 + [line_of(text, "aio_waitcomplete(poll)")] * 2


# --------------------------------------------------------------------------------------------------
# malformed input: ScenarioError with the right line and a helpful message

GOOD_THREAD = '[[threads]]\ncalls = ["aio_write(a, F)"]\n'


def test_invalid_toml_syntax_reports_toml_line():
    text = doc("""
        name = "x"
        daemons = 1
        profile = = "freebsd"
    """) + GOOD_THREAD
    e = load_error(text)
    assert e.line == 3
    assert e.message.startswith("invalid TOML")


def test_invalid_toml_unterminated_string_at_end():
    e = load_error('name = "x')
    assert e.message.startswith("invalid TOML")
    assert e.line is None or e.line == 1


def test_unknown_top_level_key():
    text = doc("""
        name = "x"
        daemons = 1
        frobnicate = true
    """) + GOOD_THREAD
    e = load_error(text)
    assert e.line == 3
    assert "unknown key 'frobnicate'" in e.message
    assert "threads" in e.message and "may_fail" in e.message  # lists the allowed keys


def _call_doc(*calls: str, files: str = "") -> str:
    body = ",\n".join(f"    {json.dumps(c)}" for c in calls)
    return f'name = "x"\n{files}[[threads]]\nname = "T1"\ncalls = [\n{body},\n]\n'


CALL_ERRORS = [
    # (bad call, words the message must contain)
    ("aio_frobnicate(a)", ["unknown call 'aio_frobnicate'", "aio_write", "lio_listio"]),
    ("aio_write(a)", ["aio_write takes (aiocb, fd)", "got 1 arguments"]),
    ("aio_read(a, F, G)", ["aio_read takes (aiocb, fd)", "got 3 arguments"]),
    ("aio_mlock(a, F)", ["aio_mlock takes (aiocb)"]),
    ("aio_fsync(a, F)", ["aio_fsync takes"]),
    ("aio_fsync(O_ASYNC, s, F)", ["O_SYNC or O_DSYNC", "'O_ASYNC'"]),
    ("aio_error()", ["aio_error takes (aiocb)"]),
    ("aio_return(a, b)", ["aio_return takes (aiocb)"]),
    ("aio_cancel(F)", ["aio_cancel takes (fd, aiocb|NULL)"]),
    ("aio_suspend()", ["aio_suspend takes"]),
    ("aio_suspend(a)", ["expected a bracketed list", "'a'"]),
    ("aio_suspend([a], forever)", ["timeout", "'forever'"]),
    ("aio_waitcomplete(soon)", ["timeout", "'soon'"]),
    ("aio_waitcomplete(a, b)", ["aio_waitcomplete takes"]),
    ("lio_listio(LIO_WAIT)", ["lio_listio takes"]),
    ("lio_listio(LIO_SOMETIMES, [write a])", ["mode", "'LIO_SOMETIMES'"]),
    ("lio_listio(LIO_WAIT, [frob a])", ["lio entry 'frob a'", "'write'", "'read'", "NULL"]),
    ("lio_listio(LIO_WAIT, [write])", ["lio entry 'write'"]),
    ("lio_listio(LIO_WAIT, write a)", ["expected a bracketed list"]),
    ("lio_listio(LIO_NOWAIT, [write a], THREAD)", ["sigevent", "'THREAD'"]),
    ("aio_write(1a, F)", ["aiocb must be a name", "'1a'"]),
    ("aio_write a, F", ["cannot parse call", "expected name(arguments)"]),
    ("AIO_WRITE(a, F)", ["cannot parse call"]),
    ("aio_write(a, G)", ["unknown fd 'G'", "[files]", "BADFD"]),
    ("aio_cancel(G, NULL)", ["unknown fd 'G'"]),
]


@pytest.mark.parametrize("bad, words", CALL_ERRORS, ids=[c for c, _ in CALL_ERRORS])
def test_bad_call_reports_its_line(bad, words):
    # the bad call is the third of four calls, each on its own line
    text = _call_doc("aio_write(ok1, F)", "aio_return(ok1)", bad, "aio_waitcomplete()")
    e = load_error(text)
    assert e.line == line_of(text, json.dumps(bad)), e
    assert e.message.startswith("thread T1: ")
    for w in words:
        assert w in e.message


def test_bad_call_in_second_thread_names_that_thread():
    text = doc("""
        [[threads]]
        name = "writer"
        calls = ["aio_write(a, F)"]

        [[threads]]
        name = "canceller"
        calls = ["aio_cancel(F, a)", "aio_frobnicate(a)"]
    """)
    e = load_error(text)
    assert e.line == 7
    assert e.message.startswith("thread canceller: unknown call 'aio_frobnicate'")


def test_lio_entry_with_undeclared_fd_of_its_aiocb():
    text = doc("""
        [aiocbs.a]
        fd = "G"

        [[threads]]
        calls = ["lio_listio(LIO_WAIT, [write a])"]
    """)
    e = load_error(text)
    assert e.line == 5
    assert "unknown fd 'G'" in e.message


@pytest.mark.parametrize("value, words", [
    ('"linux"', ["profile must be one of", "'freebsd'", "'rtems'", "'linux'"]),
    ("3", ["profile must be one of", "3"]),
])
def test_bad_profile(value, words):
    text = f'name = "x"\nprofile = {value}\n' + GOOD_THREAD
    e = load_error(text)
    assert e.line == 2
    for w in words:
        assert w in e.message


@pytest.mark.parametrize("value", ["-1", "9", '"two"', "1.0", "true", "[1]"])
def test_bad_daemons(value):
    text = f'name = "x"\n\ndaemons = {value}\n' + GOOD_THREAD
    e = load_error(text)
    assert e.line == 3
    assert "daemons must be an integer from 0 to 8" in e.message


def test_may_fail_unknown_aiocb():
    text = doc("""
        name = "x"
        may_fail = ["zz"]
        [[threads]]
        calls = ["aio_write(a, F)"]
    """)
    e = load_error(text)
    assert e.line == 2
    assert "may_fail names unknown aiocb 'zz'" in e.message


@pytest.mark.parametrize("value", ['"zz"', "[1]", "{ a = 1 }"])
def test_may_fail_not_a_list_of_names(value):
    text = f'name = "x"\nmay_fail = {value}\n' + GOOD_THREAD
    e = load_error(text)
    assert e.line == 2
    assert "may_fail must be a list of aiocb names" in e.message


@pytest.mark.parametrize("value", ['"SIGEV_THREAD"', '"signal"', "2"])
def test_bad_aiocb_sigev(value):
    text = doc(f"""
        name = "x"

        [aiocbs.a]
        sigev = {value}

        [[threads]]
        calls = ["aio_write(a, F)"]
    """)
    e = load_error(text)
    assert e.line == 4
    assert "aiocb 'a': sigev must be one of" in e.message
    assert "SIGEV_SIGNAL" in e.message and "KEVENT" in e.message


def test_negative_nbytes():
    text = doc("""
        [aiocbs.a]
        offset = 0
        nbytes = -1
    """) + GOOD_THREAD
    e = load_error(text)
    assert e.line == 3
    assert "aiocb 'a': nbytes is a size_t and cannot be negative" in e.message


@pytest.mark.parametrize("field, value", [("nbytes", '"512"'), ("nbytes", "true"), ("offset", "1.5")])
def test_non_integer_aiocb_size(field, value):
    text = f"[aiocbs.a]\n{field} = {value}\n" + GOOD_THREAD
    e = load_error(text)
    assert e.line == 2
    assert f"aiocb 'a': {field} must be an integer" in e.message


def test_unknown_aiocb_field():
    text = '[aiocbs.a]\nfd = "F"\nbuffer = 7\n' + GOOD_THREAD
    e = load_error(text)
    assert e.line == 3
    assert "unknown field 'buffer'" in e.message


@pytest.mark.parametrize("value", ['"aio_write(a, F)"', "5", '[1, "aio_write(a, F)"]', "{ a = 1 }"])
def test_calls_not_a_list_of_strings(value):
    text = f'name = "x"\n[[threads]]\nname = "writer"\ncalls = {value}\n'
    e = load_error(text)
    assert "thread writer: calls must be a list of strings" in e.message
    assert e.line in (3, 4)  # the thread's name or its calls


@pytest.mark.parametrize("text, line, words", [
    ('name = "x"\n', None, ["needs [[threads]]"]),  # nothing to point at
    ('name = "x"\nthreads = []\n', 2, ["needs [[threads]]"]),
    ('name = "x"\nthreads = "T1"\n', 2, ["needs [[threads]]"]),
    ('name = "x"\nthreads = [1]\n', 2, ["each [[threads]] entry must be a table"]),
    ("[[threads]]\n" * 7, 1, ["at most 6 threads"]),
    ('[[threads]]\nname = "writer"\n[[threads]]\nname = "writer"\n', (2, 4), ["duplicate thread name 'writer'"]),
    ('[[threads]]\nprio = 1\n', 2, ["thread 1: unknown key 'prio'"]),
    ('[files]\nF = "socket"\n' + GOOD_THREAD, 2, ["file 'F': kind must be one of", "'regular'", "'disk'"]),
    ('[files]\nBADFD = "regular"\n' + GOOD_THREAD, 2, ["BADFD is reserved"]),
    ('files = ["F"]\n' + GOOD_THREAD, 1, ["files must be a table"]),
    ('aiocbs = 3\n' + GOOD_THREAD, 1, ["aiocbs must be a table"]),
    ('[aiocbs]\nwbuf = 3\n' + GOOD_THREAD, 2, ["aiocb 'wbuf' must be a table"]),
    ('limits = 3\n' + GOOD_THREAD, 1, ["limits must be a table"]),
    ('[limits]\nmax_jobs = 3\n' + GOOD_THREAD, 1, ["bad limits", "max_jobs"]),
    ('[limits]\nmax_buf_aio = -1\n' + GOOD_THREAD, 2, ["limit max_buf_aio must be a non-negative integer"]),
    ('name = 7\n' + GOOD_THREAD, 1, ["name must be a string"]),
    ('signals = "yes"\n' + GOOD_THREAD, 1, ["signals must be true or false"]),
    ("[[threads]]\ncalls = [" + ", ".join(f'"aio_write(a{i}, F)"' for i in range(13)) + "]\n", 1,
     ["at most 12 submitted requests", "got 13"]),
])
def test_other_validation_errors(text, line, words):
    e = load_error(text)
    assert e.line in line if isinstance(line, tuple) else e.line == line
    for w in words:
        assert w in e.message


# --- regressions: defects found by these tests and fixed ------------------------------------------

CRASHERS = {
    "aiocb sigev is an array": '[aiocbs.a]\nsigev = ["SIGNAL"]\n' + GOOD_THREAD,
    "aiocb sigev is a table": '[aiocbs.a]\nsigev = { kind = "SIGNAL" }\n' + GOOD_THREAD,
    "thread name is an array": '[[threads]]\nname = ["w"]\ncalls = ["aio_write(a, F)"]\n',
    "thread name is a table": "[[threads]]\nname = { a = 1 }\n",
    "thread name is an integer and calls is bad": "[[threads]]\nname = 1\ncalls = 5\n",
    "duplicate integer thread names": "[[threads]]\nname = 1\n[[threads]]\nname = 1\n",
    "aiocb fd is an array (lio entry)": '[aiocbs.a]\nfd = ["F"]\n[[threads]]\ncalls = ["lio_listio(LIO_WAIT, [write a])"]\n',
}


@pytest.mark.parametrize("text", list(CRASHERS.values()), ids=list(CRASHERS))
def test_wrong_type_values_give_scenario_error(text):
    e = load_error(text)
    assert e.line == 2


SUBSTRING_LINE_CASES = {
    # (document, expected line, words in the message)
    "bad call whose text occurs in an earlier call": (
        '[[threads]]\ncalls = ["aio_write(a, F)"]\n[[threads]]\ncalls = ["aio_write(a, F"]\n',
        4, "cannot parse call 'aio_write(a, F'"),
    "duplicate thread name that occurs in [[threads]]": (
        '[[threads]]\nname = "t"\n[[threads]]\nname = "t"\n', 4, "duplicate thread name 't'"),
    "aiocb name that occurs in [aiocbs]": (
        '[aiocbs]\na = 3\n' + GOOD_THREAD, 2, "aiocb 'a' must be a table"),
}


@pytest.mark.parametrize("text, line, words", list(SUBSTRING_LINE_CASES.values()), ids=list(SUBSTRING_LINE_CASES))
def test_error_line_is_not_an_earlier_substring_match(text, line, words):
    e = load_error(text)
    assert words in e.message
    assert e.line == line


def test_empty_call_string_line():
    text = 'name = "x"\n[[threads]]\ncalls = [""]\n'
    e = load_error(text)
    assert "cannot parse call ''" in e.message
    assert e.line == 3


# --------------------------------------------------------------------------------------------------
# robustness: load_text returns a Scenario or raises ScenarioError, nothing else

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _never_crashes(text: str) -> None:
    try:
        sc = load_text(text, "prop.toml")
    except ScenarioError as e:
        assert e.source == "prop.toml"
        assert isinstance(e.message, str) and e.message
        assert e.line is None or 1 <= e.line <= max(1, len(text.splitlines()))
    else:
        assert isinstance(sc, Scenario)
        assert 1 <= len(sc.threads) <= 6 and len(sc.slots) <= 12
        for th in sc.threads:
            for call in th.calls:
                for s in call.slots:
                    if s >= 0:
                        assert sc.slots[s].lio == call.lio


@PROPERTY_SETTINGS
@given(st.text())
def test_arbitrary_text_never_crashes(text):
    _never_crashes(text)


CALL_FRAGMENTS = [
    "aio_write(", "aio_read(", "aio_mlock(", "aio_fsync(", "aio_cancel(", "aio_error(", "aio_return(",
    "aio_suspend(", "aio_waitcomplete(", "lio_listio(", "aio_frobnicate(", "LIO_WAIT", "LIO_NOWAIT",
    "LIO_BADMODE", "O_SYNC", "O_DSYNC", "a", "b", "s", "F", "G", "BADFD", "NULL", ", ", ",", " ", "(", ")",
    "[", "]", "write ", "read ", "sync ", "nop ", "mlock ", "invalid ", "frob ", "KEVENT", "SIGNAL", "timed",
    "poll", "invalid", "1", "_", "\n",
]
VALID_CALLS = [
    "aio_write(a, F)", "aio_read(b, F)", "aio_mlock(m)", "aio_fsync(O_SYNC, s, F)", "aio_cancel(F, NULL)",
    "aio_cancel(F, a)", "aio_error(a)", "aio_return(a)", "aio_suspend([a, b])", "aio_waitcomplete()",
    "lio_listio(LIO_WAIT, [write a, read b])", "lio_listio(LIO_NOWAIT, [write a, NULL], KEVENT)",
]

call_text = st.one_of(
    st.sampled_from(VALID_CALLS),
    st.lists(st.sampled_from(CALL_FRAGMENTS), max_size=10).map("".join),
)
names = st.sampled_from(["a", "b", "s", "F", "G", "T1", "T2", "w", "BADFD", "zz", "", "1a"])


def toml_str(s: str) -> str:
    return json.dumps(s)  # a valid TOML basic string for these ASCII fragments


def scalar_values():
    return st.one_of(
        st.integers(-3, 20).map(str),
        st.sampled_from(["true", "false", "1.5", "-0.0"]),
        st.sampled_from(["freebsd", "rtems", "linux", "regular", "disk", "pipe", "nfs", "socket", "NONE",
                         "SIGNAL", "SIGEV_KEVENT", "INVALID", "SIGEV_THREAD", "a", "F", "T1", "x"]).map(toml_str),
        names.map(toml_str),
    )


def any_values():
    """Any TOML value, including arrays and inline tables."""
    return st.recursive(
        scalar_values(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
            st.lists(st.tuples(st.sampled_from(["a", "fd", "kind", "x"]), inner), max_size=2, unique_by=lambda kv: kv[0])
            .map(lambda kvs: "{ " + ", ".join(f"{k} = {v}" for k, v in kvs) + " }"),
        ),
        max_leaves=4,
    )


def _rarely(draw) -> bool:
    # not "== 0": hypothesis favours small integers, which would make this far from rare
    return draw(st.integers(0, 9)) == 7


@st.composite
def scenario_docs(draw, values):
    """A small TOML-like scenario document.

    Each key mostly gets a plausible value (so that many documents get as far as the call parser
    and the slot assignment) and now and then any value drawn from ``values``.
    """

    def val(plausible):
        return draw(values if _rarely(draw) else plausible)

    strs = lambda *xs: st.sampled_from(xs).map(toml_str)  # noqa: E731
    small_int = st.integers(-1, 64).map(str)
    lines: list[str] = []
    top = {
        "name": strs("x", "custom"),
        "description": strs("", "a [scenario]"),
        "profile": strs("freebsd", "rtems"),
        "daemons": st.integers(0, 8).map(str),
        "signals": st.sampled_from(["true", "false"]),
        "may_fail": st.lists(names, max_size=3).map(lambda xs: "[" + ", ".join(map(toml_str, xs)) + "]"),
    }
    for key in draw(st.lists(st.sampled_from(sorted(top)), unique=True, max_size=4)):
        lines.append(f"{key} = {val(top[key])}")
    if _rarely(draw):
        lines.append(f"frob = {draw(values)}")
    if draw(st.booleans()):
        lines.append("[files]")
        for fd in draw(st.lists(st.sampled_from(["F", "G", "a", ""]), unique=True, max_size=3)):
            lines.append(f"{toml_str(fd)} = {val(strs('regular', 'disk', 'pipe', 'nfs'))}")
        if _rarely(draw):
            lines.append('BADFD = "regular"')
    if draw(st.booleans()):
        lines.append("[limits]")
        keys = ["max_aio_queue_per_proc", "max_queue_count", "max_aio_per_proc", "max_buf_aio", "enable_aio_unsafe"]
        for k in draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)):
            lines.append(f"{k} = {val(st.sampled_from(['true', 'false']) if k.startswith('enable') else small_int)}")
        if _rarely(draw):
            lines.append(f"bogus = {draw(values)}")
    acb_fields = {
        "fd": strs("F", "G", "BADFD"),
        "offset": st.integers(-512, 4096).map(str),
        "nbytes": st.integers(-1, 4096).map(str),
        "sigev": strs("NONE", "SIGEV_NONE", "SIGNAL", "SIGEV_SIGNAL", "KEVENT", "SIGEV_KEVENT", "INVALID"),
        "nbytes_too_big": st.sampled_from(["true", "false"]),
        "invalid_signo": st.sampled_from(["true", "false"]),
    }
    for acb in draw(st.lists(st.sampled_from(["a", "b", "s", "m"]), unique=True, max_size=2)):
        lines.append(f"[aiocbs.{acb}]")
        for k in draw(st.lists(st.sampled_from(sorted(acb_fields)), unique=True, max_size=3)):
            lines.append(f"{k} = {val(acb_fields[k])}")
        if _rarely(draw):
            lines.append(f"bogus = {draw(values)}")
    for _ in range(0 if _rarely(draw) else draw(st.integers(1, 3))):
        lines.append("[[threads]]")
        if draw(st.booleans()):
            lines.append(f"name = {draw(strs('T1', 'T2', 'w', 'x'))}")
        calls = draw(st.lists(call_text, max_size=4))
        if _rarely(draw):
            lines.append(f"calls = {draw(values)}")
        elif draw(st.booleans()):
            lines.append("calls = [" + ", ".join(toml_str(c) for c in calls) + "]")
        else:
            lines.append("calls = [")
            lines.extend(f"  {toml_str(c)}," for c in calls)
            lines.append("]")
        if _rarely(draw):
            lines.append(f"{draw(st.sampled_from(['prio', 'calls2']))} = 1")
    if _rarely(draw):  # break the TOML itself
        pos = draw(st.integers(0, len(lines)))
        lines.insert(pos, draw(st.sampled_from(["= 1", "[[", "x = ", 'y = "', "[files", "a = 1\na = 2"])))
    return "\n".join(lines) + "\n"


@PROPERTY_SETTINGS
@given(scenario_docs(scalar_values()))
@example('[aiocbs.a]\nfd = 3\n[[threads]]\ncalls = ["lio_listio(LIO_WAIT, [write a])"]\n')
def test_toml_like_documents_never_crash(text):
    """Scalar values everywhere (thread names always strings): only ScenarioError may escape."""
    _never_crashes(text)


@PROPERTY_SETTINGS
@given(scenario_docs(any_values()))
@example('[aiocbs.a]\nsigev = ["SIGNAL"]\n[[threads]]\ncalls = ["aio_write(a, F)"]\n')
def test_toml_documents_with_any_value_types_never_crash(text):
    _never_crashes(text)


FAMILY = (Path(__file__).parent.parent / "docs" / "examples" / "race-n.toml").read_text() \
    .replace("repeat = 2", "repeat = {n}").replace("may_fail = []", 'may_fail = ["a"]')


def test_repeat_gives_each_copy_its_own_thread_and_aiocbs():
    sc = load_text(FAMILY.format(n=3))
    assert [t.name for t in sc.threads] == ["T1", "T2", "T3", "C"]
    assert list(sc.aiocbs) == ["a1", "a2", "a3"]
    assert all(sc.aiocbs[a].offset == 4096 for a in sc.aiocbs)  # the template's fields
    assert [(s.aiocb, s.thread, s.may_fail) for s in sc.slots] == [("a1", 0, True), ("a2", 1, True), ("a3", 2, True)]
    assert [c.text for c in sc.threads[1].calls] == ["aio_write(a2, F)", "aio_return(a2)"]


def test_repeat_of_one_is_the_thread_itself():
    one = load_text(FAMILY.format(n=1))
    plain = load_text(FAMILY.replace("repeat = {n}\n", "").replace('"T"', '"T1"').replace("(a", "(a1")
                      .replace("[aiocbs.a]", "[aiocbs.a1]").replace('["a"]', '["a1"]'))
    def shape(sc):  # everything but source line numbers (the repeat line shifts them)
        return [(t.name, [replace(c, line=None) for c in t.calls]) for t in sc.threads], sc.slots, sc.aiocbs
    assert shape(one) == shape(plain)


@pytest.mark.parametrize("text, needle", [
    (FAMILY.format(n=0), "repeat must be an integer from 1 to 6"),
    (FAMILY.format(n='"two"'), "repeat must be an integer from 1 to 6"),
    (FAMILY.format(n=7), "repeat must be an integer from 1 to 6"),
    (FAMILY.format(n=2).replace('"aio_cancel(F, NULL)"', '"aio_cancel(F, a)"'), "also used by another thread"),
    (FAMILY.format(n=6), "at most 6 threads (got 7, counting repeats)"),
    (FAMILY.format(n=2).replace("[aiocbs.a]", "[aiocbs.F]").replace('aio_write(a, F)", "aio_return(a)',
                                                                      'aio_write(F, F)", "aio_return(F)')
     .replace('may_fail = ["a"]', "may_fail = []"), "repeat cannot rename the aiocbs of 'aio_write(F, F)'"),
])
def test_repeat_rejects_bad_input_with_a_message(text, needle):
    with pytest.raises(ScenarioError) as e:
        load_text(text)
    assert needle in str(e.value)


def test_repeat_override_finds_a_thread_by_its_default_name():
    """`--repeat T1=2` on a file whose one thread has no name (it is called T1)."""
    sc = load_text('[aiocbs.a]\n[[threads]]\ncalls = ["aio_write(a, F)"]\n', "x.toml", {"T1": 2})
    assert sc.name == "x[T1=2]" and len(sc.threads) == 2 and list(sc.aiocbs) == ["a1", "a2"]
