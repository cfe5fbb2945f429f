"""The ``aiospec`` command line: exit codes, bad-input messages and the listing commands.

Exit codes: 0 every property holds, 1 a property is violated, 2 bad input; bad input is reported
on stderr as ``error: FILE:LINE: message`` without a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from aiospec.cli import main
from aiospec.spec.properties import PROPERTIES
from aiospec.spec.scenario import ScenarioError, builtin_names, load_file

BUILTINS = builtin_names()

BAD_SYNTAX = 'name = "bad"\ndaemons = 1\nprofile = = "freebsd"\n'  # TOML error on line 3
BAD_CALL = 'name = "bad"\n\n[[threads]]\ncalls = [\n  "aio_write(a, F)",\n  "aio_frobnicate(a)",\n]\n'  # line 6


def flat(s: str) -> str:
    """Collapse whitespace: rich wraps long lines at the console width."""
    return " ".join(s.split())


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    # a plain 80-column, colourless console whatever the environment running the tests says
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env["COLUMNS"] = "80"
    return subprocess.run([sys.executable, "-m", "aiospec.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


# --------------------------------------------------------------------------------------------------
# bad input: exit 2, a located message, no traceback


def test_check_unknown_scenario_name():
    r = invoke("check", "no-such-scenario")
    assert r.exit_code == 2
    assert r.stdout == ""
    err = flat(r.stderr)
    assert err.startswith("error: no-such-scenario: no such scenario file or built-in name")
    assert "built-ins:" in err
    for name in BUILTINS:
        assert name in err
    assert "Traceback" not in r.output


def test_check_unknown_scenario_name_subprocess():
    p = run_cli("check", "no-such-scenario")
    assert p.returncode == 2
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    err = flat(p.stderr)
    assert "no-such-scenario" in err
    for name in BUILTINS:
        assert name in err


@pytest.mark.parametrize("text, line, what", [
    (BAD_SYNTAX, 3, "invalid TOML"),
    (BAD_CALL, 6, "thread T1: unknown call 'aio_frobnicate'"),
    ('name = "bad"\nprofile = "linux"\n[[threads]]\ncalls = ["aio_write(a, F)"]\n', 2, "profile must be one of"),
])
def test_check_malformed_file(tmp_path, monkeypatch, text, line, what):
    (tmp_path / "bad.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    r = invoke("check", "bad.toml", "--no-progress")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.startswith(f"error: bad.toml:{line}: ")
    assert what in flat(r.stderr)
    assert "Traceback" not in r.output


def test_check_malformed_file_subprocess(tmp_path):
    (tmp_path / "bad.toml").write_text(BAD_SYNTAX)
    p = run_cli("check", "bad.toml", cwd=tmp_path)
    assert p.returncode == 2
    assert p.stdout == ""
    assert "Traceback" not in p.stderr
    assert p.stderr.startswith("error: bad.toml:3: invalid TOML")
    # the message is the loader's own
    with pytest.raises(ScenarioError) as ei:
        load_file(tmp_path / "bad.toml")
    assert ei.value.line == 3


def test_check_malformed_file_absolute_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_CALL)
    p = run_cli("check", str(path))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert f"{path}:6:" in p.stderr.replace("\n", "")  # rich may wrap a long path
    assert "aio_frobnicate" in p.stderr


def test_check_unreadable_file(tmp_path):
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    r = invoke("check", str(tmp_path / "latin1.toml"))
    assert r.exit_code == 2
    assert "not UTF-8" in flat(r.stderr)


def test_check_bad_option_values_are_usage_errors():
    r = CliRunner().invoke(main, ["check", "cancel-race", "--profile", "linux"])
    assert r.exit_code == 2
    assert "linux" in r.output and "freebsd" in r.output
    r = CliRunner().invoke(main, ["check", "cancel-race", "--max-states", "0"])
    assert r.exit_code == 2


# --------------------------------------------------------------------------------------------------
# check: a scenario whose properties all hold


def _verdict_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for ln in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", ln)[1:-1]]
        if cells and cells[0]:
            rows.setdefault(cells[0], cells)
    return rows


def test_check_lio_wait_holds(tmp_path):
    out_json = tmp_path / "v.json"
    r = invoke("check", "lio-wait", "--no-traces", "--no-progress", "--json", str(out_json))
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    assert r.stdout.startswith("aiospec check lio-wait (freebsd profile, 2 threads, 1 daemons)")
    rows = _verdict_rows(r.stdout)
    for prop in ("A1", "D5", "P-CANCEL", "LOCKS", "DEADLOCK"):
        assert prop in rows, f"{prop} missing from the table"
        assert rows[prop][2] == "holds", rows[prop]
    assert "holds" in r.stdout
    summary = [ln for ln in r.stdout.splitlines() if "distinct states" in ln]
    assert len(summary) == 1
    assert re.search(r"distinct states: [\d,]+\s+transitions: [\d,]+\s+depth: \d+", summary[0])
    assert "violated: 0" in r.stdout
    assert "violated" not in r.stdout.replace("violated: 0", "")
    data = json.loads(out_json.read_text())
    assert data["scenario"] == "lio-wait" and data["complete"] is True
    verdicts = {v["property"]: v["verdict"] for v in data["verdicts"]}
    assert verdicts["A1"] == verdicts["D5"] == verdicts["P-CANCEL"] == "holds"
    assert set(verdicts) == {p.name for p in PROPERTIES}
    # the printed figure is the JSON's
    assert f"distinct states: {data['states']:,}" in summary[0]


def test_check_lio_wait_subprocess():
    p = run_cli("check", "lio-wait", "--no-traces", "--no-progress")
    assert p.returncode == 0, p.stdout + p.stderr
    for word in ("A1", "D5", "P-CANCEL", "holds", "distinct states"):
        assert word in p.stdout
    assert "Traceback" not in p.stderr


def test_check_cancel_race_prints_its_finding_and_exits_1():
    p = run_cli("check", "cancel-race", "--no-progress")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Counterexample for P-RETURN in scenario cancel-race" in p.stdout
    assert re.search(r"^\s+1\. T1 +aio_aqueue \(L1581-1668\) \[SUB_CHECK\]", p.stdout, re.M)
    assert "-> aio_return returns EINVAL" in p.stdout
    assert "1 property violated" in p.stdout


# --------------------------------------------------------------------------------------------------
# listing commands


def test_scenarios_lists_every_builtin():
    r = invoke("scenarios")
    assert r.exit_code == 0
    listed = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    assert listed == BUILTINS


def test_properties_lists_every_property():
    r = invoke("properties")
    assert r.exit_code == 0
    listed = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    assert "DEADLOCK" in listed and "LOCKS" in listed
    assert listed == [p.name for p in PROPERTIES]


def test_spec_markdown():
    r = invoke("spec", "--markdown")
    assert r.exit_code == 0
    out = r.stdout
    assert "SUB_COMMIT" in out and "aio_aqueue" in out
    lines = out.splitlines()
    assert any(re.fullmatch(r"#+ .+", ln) for ln in lines)  # Markdown headings
    table = [ln for ln in lines if ln.startswith("|") and ln.endswith("|")]
    assert any(re.fullmatch(r"\|(-+\|)+", ln.replace(" ", "").replace(":", "")) for ln in table)  # separator row
    assert any("SUB_COMMIT" in ln for ln in table), "SUB_COMMIT is not in a table row"
    assert any("aio_aqueue" in ln for ln in table), "aio_aqueue is not in a table row"


def test_version_and_help():
    from importlib.metadata import version

    r = invoke("--version")
    assert r.exit_code == 0
    assert f"version {version('aiospec')}" in r.output
    r = invoke("--help")
    assert r.exit_code == 0
    for cmd in ("check", "scenarios", "properties", "spec"):
        assert cmd in r.output


# --------------------------------------------------------------------------------------------------
# known defects: each documents the expected behaviour


def test_error_message_brackets_are_printed_verbatim(tmp_path, monkeypatch):
    (tmp_path / "fd.toml").write_text('[[threads]]\ncalls = ["aio_write(a, G)"]\n')
    monkeypatch.chdir(tmp_path)
    r = invoke("check", "fd.toml")
    assert r.exit_code == 2
    assert "declare it under [files]" in flat(r.stderr)


def test_error_message_with_closing_tag_is_not_a_traceback(tmp_path):
    (tmp_path / "mk.toml").write_text('[[threads]]\ncalls = ["aio_write[/a]"]\n')
    p = run_cli("check", "mk.toml", cwd=tmp_path)
    assert "Traceback" not in p.stderr
    assert p.returncode == 2
    assert p.stderr.startswith("error: mk.toml:2: thread T1: cannot parse call 'aio_write[/a]'")


def test_check_prints_description_verbatim(tmp_path):
    (tmp_path / "desc.toml").write_text(
        'name = "desc"\ndescription = "brackets [bold] and [/x] stay"\n'
        '[[threads]]\ncalls = ["aio_write(a, F)", "aio_return(a)"]\n')
    p = run_cli("check", "desc.toml", "--no-traces", "--no-progress", cwd=tmp_path)
    assert "Traceback" not in p.stderr
    assert p.returncode == 0
    assert "brackets [bold] and [/x] stay" in p.stdout


def test_long_error_message_stays_on_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text(BAD_CALL)
    p = run_cli("check", "bad.toml", cwd=tmp_path)
    assert p.returncode == 2
    with pytest.raises(ScenarioError) as ei:
        load_file(tmp_path / "bad.toml")
    expected = f"error: bad.toml:6: {ei.value.message}\n"
    assert len(expected) > 80
    assert p.stderr == expected


def test_mutants_command_reports_every_mutant_and_the_score():
    from aiospec.checker.mutants import MUTANTS

    result = CliRunner().invoke(main, ["mutants", "cancel-race", "lio-wait", "double-cancel", "return-twice",
                                       "disk-bio", "lio-signal", "default"])
    assert "mutation score:" in result.output
    for name in MUTANTS:
        assert name in result.output.replace("\n", "") or name[:12] in result.output
    assert result.exit_code in (0, 1)
    score = result.output.split("mutation score:")[1].split("=")[0].strip()
    caught, total = map(int, score.split("/"))
    assert total == len(MUTANTS)
    assert (result.exit_code == 0) == (caught == total)


RACE_N_FILE = os.path.join(os.path.dirname(__file__), "..", "docs", "examples", "race-n.toml")


def test_repeat_option_checks_a_family_at_the_size_asked_for(tmp_path):
    """`--repeat T=N` checks that member of race-n: with one request only P-RETURN fails, with two
    the cancel walk's STALE and UAF appear; the scenario's name says which member it was."""
    got = {}
    for n in (1, 2):
        out = tmp_path / f"{n}.json"
        r = invoke("check", RACE_N_FILE, "--repeat", f"T={n}", "--no-traces", "--no-progress", "--json", str(out))
        assert r.exit_code == 1 and f"race-n[T={n}]" in r.output
        got[n] = json.loads(out.read_text())
    def failed(doc) -> set[str]:
        return {v["property"] for v in doc["verdicts"] if v["verdict"] == "VIOLATED"}
    assert failed(got[1]) == {"P-RETURN"}
    assert failed(got[2]) == {"P-RETURN", "STALE", "UAF"}


@pytest.mark.parametrize("arg, needle", [
    ("X=2", "no thread named 'X' (threads: T, C)"),
    ("T", "want THREAD=N"),
    ("T=two", "want THREAD=N"),
    ("T=0", "a thread can be repeated 1 to 6 times"),
    ("T=7", "a thread can be repeated 1 to 6 times"),
])
def test_repeat_option_rejects_bad_values_with_a_message(arg, needle):
    for cmd in ("check", "bmc", "prove"):
        r = run_cli(cmd, RACE_N_FILE, "--repeat", arg)
        assert r.returncode == 2 and needle in flat(r.stderr) and "Traceback" not in r.stderr, (cmd, r.stderr)


def test_a_redirected_prove_reports_progress_on_stderr():
    """An hour-long proof written to a log must not be silent: without a terminal, progress
    goes to stderr as timestamped lines, and stdout keeps only the report."""
    r = CliRunner().invoke(main, ["prove", "return-twice", "--prop", "A1"])
    assert r.exit_code == 0, r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines and all(re.match(r"\[\s*\d+\.\ds\] proving on return-twice: ", x) for x in lines), lines
    assert any("candidate lemmas" in x for x in lines) and any("encoded" in x for x in lines), lines
    assert "proving on" not in r.stdout and "A1" in r.stdout


@pytest.mark.parametrize("cmd", [["prove", "return-twice", "--prop", "A1"], ["bmc", "return-twice", "--depth", "2"],
                                 ["check", "return-twice", "--no-traces"]])
def test_no_progress_silences_stderr_and_keeps_the_report(cmd):
    """Every long command takes --no-progress: nothing on stderr, the same report on stdout."""
    r = CliRunner().invoke(main, [*cmd, "--no-progress"])
    assert r.exit_code == 0, r.output
    assert r.stderr == "" and r.stdout.startswith(f"aiospec {cmd[0]} return-twice"), (r.stderr, r.stdout[:200])


def test_progress_lines_are_one_per_phase_at_most_one_every_thirty_seconds(monkeypatch, capsys):
    from rich.console import Console

    from aiospec import cli_progress

    clock = iter([0.0, 1.0, 2.0, 3.0, 40.0, 41.0])
    monkeypatch.setattr(cli_progress.time, "monotonic", lambda: next(clock))
    with cli_progress.reporter(Console(stderr=True), "proving on x") as say:  # t0 = 0
        say("round 1: encoded 10 paths")    # t=1: first of its phase
        say("round 1: encoded 20 paths")    # t=2: same phase, too soon
        say("round 1: Houdini pass 1, step 3/9")  # t=3: a new phase
        say("round 1: Houdini pass 2, step 4/9")  # t=40: same phase, 37 s later
        say("round 1: Houdini pass 2, step 5/9")  # t=41: too soon
    got = capsys.readouterr().err.splitlines()
    assert got == ["[    1.0s] proving on x: round 1: encoded 10 paths",
                   "[    3.0s] proving on x: round 1: Houdini pass 1, step 3/9",
                   "[   40.0s] proving on x: round 1: Houdini pass 2, step 4/9"]


# --------------------------------------------------------------------------------------------------
# outputs: a place that cannot be written is refused when the command line is read, before the work


OUTPUTS = [
    ("check", "return-twice", "--json", "x.json"),
    ("check", "return-twice", "--trace-out", "d"),
    ("bmc", "return-twice", "--trace-out", "d"),
    ("prove", "return-twice", "--lemmas", "l.txt"),
    ("trace", "graph", "return-twice", "--dot", "g.dot"),
    ("trace", "graph", "return-twice", "--graphml", "g.graphml"),
    ("trace", "convert", "docs/traces/cancel-race.P-RETURN.json", "--to", "text", "-o", "t.txt"),
    ("conform", "--impl", "reference", "--junit", "j.xml"),
]


@pytest.mark.parametrize("args", OUTPUTS, ids=lambda a: " ".join(a[:3]))
def test_an_output_under_a_file_is_refused_before_any_work(tmp_path, monkeypatch, args):
    here = os.getcwd()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain").write_text("not a folder\n")
    args = [os.path.join(here, a) if a.startswith("docs/") else a for a in args]
    args[-1] = f"plain/sub/{args[-1]}"
    r = invoke(*args)
    assert r.exit_code == 2
    assert "plain is not a directory" in flat(r.stderr)
    assert r.stdout == ""  # refused when parsed: nothing explored, proved or run
    assert "Traceback" not in r.output
    assert (tmp_path / "plain").read_text() == "not a folder\n"


def test_an_output_folder_that_is_a_file_and_a_file_that_is_a_folder_are_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    r = invoke("bmc", "return-twice", "--trace-out", str(tmp_path / "f"))
    assert r.exit_code == 2 and "is a file" in flat(r.stderr)
    r = invoke("prove", "return-twice", "--lemmas", str(tmp_path))
    assert r.exit_code == 2 and "is a directory" in flat(r.stderr)


def test_an_output_in_a_new_folder_is_written_there(tmp_path):
    out = tmp_path / "new" / "deeper" / "verdicts.json"
    r = invoke("check", "return-twice", "--json", str(out), "--no-progress")
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["scenario"] == "return-twice"
    gml = tmp_path / "other" / "g.graphml"  # GraphML went through networkx's own writer, which made no folder
    r = invoke("trace", "graph", "return-twice", "--graphml", str(gml))
    assert r.exit_code == 0, r.output
    import networkx as nx

    from aiospec.checker import graph as G
    from aiospec.spec.model import Model
    from aiospec.spec.scenario import load

    assert nx.read_graphml(gml).number_of_nodes() == G.build(Model(load("return-twice"))).number_of_nodes()


def test_a_write_that_fails_after_the_work_is_one_line_and_the_verdicts_are_kept(tmp_path, monkeypatch):
    """The place was fine when the command was read and is gone when the lemmas are written (a full disk,
    a removed folder): the proof's table is still printed, then one error line and exit 2."""
    from aiospec import cli_symbolic

    target = tmp_path / "gone" / "l.txt"

    def fail(path, data):
        raise cli_symbolic.CannotWrite(f"{path}: cannot write: No space left on device")

    monkeypatch.setattr(cli_symbolic, "write_output", fail)
    r = invoke("prove", "return-twice", "--prop", "A1", "--lemmas", str(target), "--no-progress")
    assert r.exit_code == 2
    assert re.search(r"A1\s.*proved", r.stdout)
    assert flat(r.stderr).endswith(f"error: {target}: cannot write: No space left on device")
    assert "Traceback" not in r.output


def test_write_output_turns_an_os_error_into_a_clean_error(tmp_path):
    from aiospec.cli_options import CannotWrite, write_output

    (tmp_path / "f").write_text("x")
    with pytest.raises(CannotWrite, match="cannot write"):
        write_output(tmp_path / "f" / "y.txt", "data")
    write_output(tmp_path / "a" / "b.txt", b"\x00bytes")
    assert (tmp_path / "a" / "b.txt").read_bytes() == b"\x00bytes"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["dir", "file", "missing"]), min_size=1, max_size=4), st.booleans())
def test_the_check_when_parsing_agrees_with_writing(kinds, want_dir):
    """Whatever mix of folders, files and missing names the path runs through, the early check refuses
    exactly the places where writing (the file, or the folder and a file in it) then fails."""
    import tempfile

    from aiospec.cli_options import CannotWrite, _check_location, make_dir, write_output

    with tempfile.TemporaryDirectory() as root:
        p = Path(root)
        for i, kind in enumerate(kinds):
            p = p / f"n{i}"
            if kind == "dir" and not p.parent.is_file() and p.parent.exists():
                p.mkdir()
            elif kind == "file" and p.parent.is_dir():
                p.write_text("x")
        refused = _check_location(p, want_dir) is not None
        try:
            if want_dir:
                make_dir(p)
                write_output(p / "trace.txt", "t")
            else:
                write_output(p, "t")
            failed = False
        except CannotWrite:
            failed = True
        assert refused == failed


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_prove_while_z3_works(jobs):
    """Ctrl-C during Houdini's questions must stop `aiospec prove` (exit 1, click's "Aborted!",
    no table).  z3 used to catch SIGINT itself and answer "unknown": the question was split and
    the run went on to the end."""
    import signal

    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    p = subprocess.Popen([sys.executable, "-m", "aiospec", "prove", "lio-wait", "--search", "--progress",
                          "--jobs", jobs, "--prop", "A1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        said = []
        for line in p.stderr:  # Houdini says where it is every 5 s, just before a question too,
            said.append(line)  # and runs for over 30 s on lio-wait, mostly in z3's checks
            if "Houdini pass" in line:
                time.sleep(1)  # into the question's check
                p.send_signal(signal.SIGINT)
                break
        out, err = p.communicate(timeout=100)
    finally:
        p.kill()
    assert p.returncode == 1 and "Aborted!" in err, (p.returncode, "".join(said)[-500:], err[-500:])
    assert "A1" not in out


@pytest.mark.parametrize("raised, aborted", [
    ("argument 2: KeyboardInterrupt: ", True),  # what ctypes made of a Ctrl-C in CI once
    ("argument 1: TypeError: wrong type", False),
])
def test_ctrl_c_inside_a_ctypes_argument_is_an_abort_not_a_traceback(monkeypatch, raised, aborted):
    """A SIGINT that lands while ctypes converts a z3 call's argument reaches Python as
    ``ctypes.ArgumentError``, not KeyboardInterrupt; the CLI must still say "Aborted!" (exit
    1).  Any other ArgumentError is a real error and is not swallowed."""
    import ctypes

    from aiospec.checker.symbolic import prove as prove_mod

    def interrupted(*a, **k):
        raise ctypes.ArgumentError(raised)
    monkeypatch.setattr(prove_mod, "prove", interrupted)
    r = CliRunner().invoke(main, ["prove", "return-twice", "--prop", "A1"])
    assert r.exit_code == 1
    if aborted:
        assert "Aborted!" in r.output and not isinstance(r.exception, ctypes.ArgumentError), r.output
    else:
        assert isinstance(r.exception, ctypes.ArgumentError) and "Aborted!" not in r.output


_INTERRUPTED_CHECK = """
import os, signal, threading, z3
from aiospec.cli_symbolic import _ctrl_c_stops
_ctrl_c_stops()
n = 10  # pigeonhole, 10 into 9: about 2 s of z3's SAT solver
s = z3.Solver()
p = [[z3.Bool(f"p{i}_{j}") for j in range(n - 1)] for i in range(n)]
s.add(*[z3.Or(*row) for row in p])
s.add(*[z3.Or(z3.Not(p[a][j]), z3.Not(p[b][j])) for j in range(n - 1) for a in range(n) for b in range(a + 1, n)])
threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    r = s.check()
    print("answered", r)
except KeyboardInterrupt:
    print("interrupted")
"""


def test_ctrl_c_during_a_z3_check_reaches_python():
    """The part of the test above that depends on timing, made certain: a SIGINT that arrives
    while z3 checks must become a KeyboardInterrupt, not an "unknown" answer."""
    import signal

    r = subprocess.run([sys.executable, "-c", _INTERRUPTED_CHECK], capture_output=True, text=True, timeout=120,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert r.stdout.strip() == "interrupted", (r.stdout, r.stderr[-500:])


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_prove_refuses_a_bad_aiospec_jobs(value):
    """AIOSPEC_JOBS, when set, must be a number of questions at least 1: else one line and
    exit 2 before any work, never a traceback and never a silent fallback."""
    r = CliRunner().invoke(main, ["prove", "cancel-race", "--no-progress"], env={"AIOSPEC_JOBS": value})
    assert r.exit_code == 2, r.output
    assert "AIOSPEC_JOBS must be a whole number of at least 1" in r.output and "Traceback" not in r.output


def test_default_jobs_reads_aiospec_jobs_or_counts_the_cpus(monkeypatch):
    import os

    from aiospec.checker.symbolic.houdini import default_jobs

    monkeypatch.setenv("AIOSPEC_JOBS", " 3 ")
    assert default_jobs() == 3
    monkeypatch.delenv("AIOSPEC_JOBS")
    assert default_jobs() == len(os.sched_getaffinity(0))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the finalizer's, on purpose
def test_a_ctrl_c_swallowed_by_a_finalizer_is_raised_again():
    """A SIGINT landing in a ``__del__`` (z3 frees terms that way) is printed as "Exception
    ignored" and lost; ``interrupt`` remembers it, and Houdini's next question raises it (a CI
    run of ``prove --jobs 2`` once ran on to its timeout after a Ctrl-C)."""
    import gc
    import signal

    from aiospec.checker import interrupt

    class Freed:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here, inside the finalizer

    before = signal.getsignal(signal.SIGINT)
    try:
        interrupt.install()
        Freed()
        gc.collect()
        with pytest.raises(KeyboardInterrupt):
            interrupt.check()
        interrupt.check()  # raised once, then forgotten
    finally:
        signal.signal(signal.SIGINT, before)
