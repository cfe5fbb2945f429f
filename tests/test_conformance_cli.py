"""``aiospec conform`` (module ``aiospec.cli_conform``): table, reports, exit codes, bad input."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from click.testing import CliRunner

from aiospec.cli_conform import conform


def invoke(*args: str):
    return CliRunner().invoke(conform, list(args), catch_exceptions=False)


def test_reference_passes_and_writes_reports(tmp_path):
    r = invoke("--impl", "reference", "--scenarios", "lifecycle-write,cancel-finished", "lio-wait", "--runs", "2",
               "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "r.md"), "--no-progress")
    assert r.exit_code == 0, r.output
    assert "lifecycle-write" in r.stdout and "3 pass" in r.stdout
    suite = ET.parse(tmp_path / "j.xml").getroot()
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    md = (tmp_path / "r.md").read_text()
    assert "| `cancel-finished` | pass | allowed |" in md


def test_a_deviation_exits_1_with_an_explanation(tmp_path):
    r = invoke("--impl", "futures", "--scenarios", "negative-offset", "--junit", str(tmp_path / "j.xml"))
    assert r.exit_code == 1
    assert "deviation" in r.stdout and "where the spec allows only EINVAL" in " ".join(r.stdout.split())
    case = ET.parse(tmp_path / "j.xml").getroot().find("testcase")
    assert case.find("failure").get("type") == "deviation"
    assert "[1/1] negative-offset: deviation" in r.stderr


def test_posix_profile_accepts_it():
    r = invoke("--impl", "futures", "--profile", "posix", "--scenarios", "negative-offset", "--no-progress")
    assert r.exit_code == 0, r.output


def test_bad_input_exits_2_with_a_clear_message():
    r = invoke("--impl", "nope")
    assert r.exit_code == 2 and "error: unknown implementation 'nope'; known: reference, glibc, futures" in r.stderr
    r = invoke("--impl", "futures", "--scenarios", "no-such")
    assert r.exit_code == 2 and "error: no-such: no such conformance scenario" in r.stderr
    assert "lifecycle-write" in r.stderr
    r = invoke("--impl", "futures", "--profile", "bsd")
    assert r.exit_code == 2 and "unknown profile 'bsd'; profiles: freebsd, posix" in r.stderr
    r = invoke("--scenarios", "lifecycle-write")
    assert r.exit_code == 2 and "--impl" in r.output
    assert "Traceback" not in r.output


def test_new_implementations_are_accepted_and_exec_without_command_is_bad_input():
    r = invoke("--impl", "asyncio", "--scenarios", "lifecycle-write,cancel-finished", "--no-progress")
    assert r.exit_code == 0, r.output
    assert "asyncio under the freebsd profile" in " ".join(r.stdout.split())
    r = invoke("--impl", "exec:", "--scenarios", "lifecycle-write")
    assert r.exit_code == 2 and "exec: needs a command" in r.stderr
    r = invoke("--impl", "nope")
    assert "asyncio, aiofiles, anyio, io_uring, exec:CMD" in r.stderr
