"""Data integrity of reads: a completed read must return bytes the file could hold (the initial
pattern, or the fill byte of a write that may precede it; never the old pattern where a write
is known to precede it), on hand-made runs and end to end with a seeded implementation whose
reads never copy the data out."""

from __future__ import annotations

import pytest

from aiospec.conformance.adapters import get_adapter
from aiospec.conformance.adapters.base import initial_bytes
from aiospec.conformance.adapters.fake import StaleReadAdapter
from aiospec.conformance.integrity import read_integrity
from aiospec.conformance.library import load_scenario
from aiospec.conformance.observation import RunOutcome
from aiospec.conformance.runner import conform, conform_one
from aiospec.conformance.verdict import fill_byte, judge_run, spec_allowed
from aiospec.spec import load_text

READS = ["read-after-write", "read-after-lio-write", "read-write-race"]


def _run(sc, obs, reads, final=None) -> RunOutcome:
    files = {f: initial_bytes() for f, k in sc.files.items() if k.name == "REGULAR"}
    return RunOutcome("ok", obs, "", files, final if final is not None else dict(files), reads)


def _written(sc, x: str, fd: str = "F") -> bytes:
    """The file after write ``x`` landed."""
    data = bytearray(initial_bytes())
    acb = sc.aiocbs[x]
    data[acb.offset:acb.offset + acb.nbytes] = bytes([fill_byte(sc, x)]) * acb.nbytes
    return bytes(data)


def test_the_library_has_read_integrity_scenarios():
    for n in READS:
        sc = load_scenario(n)
        assert any(c.kind == "aio_read" for th in sc.threads for c in th.calls), n


def test_a_read_after_a_reaped_write_must_see_the_write():
    sc = load_scenario("read-after-write")
    (obs,) = spec_allowed(sc)
    after = _written(sc, "a")
    good = after[4096:4608]
    assert judge_run(sc, _run(sc, obs, {(0, 5): good}, {"F": after})).kind == "pass"
    v = judge_run(sc, _run(sc, obs, {(0, 5): initial_bytes()[4096:4608]}, {"F": after}))
    assert v.kind == "deviation"
    assert v.detail == (
        "data read wrong: read b was reported done (`aio_return(b)` returned 512) but 510 of its 512 bytes at "
        "[4096, 4608) in F are not what the file held: at offset 4096 it returned 0x00, where only 0xa0 (written by "
        "a) is possible; write a was reaped by `aio_return(a)` (T1 call 3) before the read was submitted, so the "
        "initial pattern is gone there")


def test_a_read_overlapping_a_lio_wait_write_sees_both_patterns():
    sc = load_scenario("read-after-lio-write")
    (obs,) = spec_allowed(sc)
    after = _written(sc, "a")
    assert judge_run(sc, _run(sc, obs, {(0, 3): after[1024:2048]}, {"F": after})).kind == "pass"
    stale = after[1024:1280] + initial_bytes()[1280:1792] + after[1792:2048]  # the write not seen
    v = judge_run(sc, _run(sc, obs, {(0, 3): stale}, {"F": after}))
    assert v.kind == "deviation" and "at offset 1280 it returned 0x00, where only 0xa0 (written by a)" in v.detail
    assert "`lio_listio(LIO_WAIT, [write a])` (T1 call 1)" in v.detail


def test_a_read_racing_a_write_may_see_either_byte_but_nothing_else():
    sc = load_scenario("read-write-race")
    obs = next(iter(spec_allowed(sc)))
    a = fill_byte(sc, "a")
    mixed = bytes(a if k % 3 else k % 256 for k in range(512))  # torn: some old bytes, some new
    assert not read_integrity(sc, _run(sc, obs, {(1, 2): mixed}))
    bad = bytearray(mixed)
    bad[7] = 0x42
    problems = read_integrity(sc, _run(sc, obs, {(1, 2): bytes(bad)}))
    assert problems == ["read b was reported done (`aio_return(b)` returned 512) but 1 of its 512 bytes at [0, 512) in "
                        "F are not what the file held: at offset 7 it returned 0x42, where only 0x07 (the file's "
                        f"initial pattern) or {a:#04x} (written by a) is possible"]


def test_a_read_whose_data_is_shorter_than_its_status_is_a_deviation():
    sc = load_scenario("lifecycle-read")
    (obs,) = [o for o in spec_allowed(sc) if o[0][1][2] == 36]  # aio_error said EINPROGRESS
    v = judge_run(sc, _run(sc, obs, {(0, 4): initial_bytes()[4096:4100]}))
    assert v.kind == "deviation"
    assert v.detail == ("data read wrong: read a was reported done (`aio_return(a)` returned 1024) but the "
                        "implementation handed back 4 byte(s)")


PIPE_WRITE_READ = '''
name = "pipe-write-read"
daemons = 1
[limits]
enable_aio_unsafe = true
[files]
P = "pipe"
[aiocbs.a]
fd = "P"
[aiocbs.b]
fd = "P"
[[threads]]
name = "T1"
calls = ["aio_write(a, P)", "aio_suspend([a])", "aio_return(a)", "aio_read(b, P)", "aio_suspend([b])", "aio_return(b)"]
'''


def test_a_pipe_read_returns_only_bytes_written_to_the_pipe():
    sc = load_text(PIPE_WRITE_READ, "pipe-write-read.toml")
    obs = next(o for o in spec_allowed(sc) if o[0][5][2] == (512, "b"))
    a = bytes([fill_byte(sc, "a")]) * 512
    assert not read_integrity(sc, RunOutcome("ok", obs, reads={(0, 5): a}, final={"P": b""}))
    problems = read_integrity(sc, RunOutcome("ok", obs, reads={(0, 5): bytes(512)}, final={"P": b""}))
    assert len(problems) == 1 and "512 of its 512 bytes from pipe P were never written to it" in problems[0]
    assert "0xa0 (write a)" in problems[0]


def test_an_ambiguous_or_unread_reap_is_not_judged():
    sc = load_scenario("resubmit")  # a is read, reaped, then written with the same aiocb
    obs = next(iter(spec_allowed(sc)))
    # the write's reap (call 6) is not a read: data reported for it is ignored
    assert not read_integrity(sc, _run(sc, obs, {(0, 2): initial_bytes()[:512], (0, 5): b"junk"}))


def test_a_read_that_never_copies_its_data_out_is_caught_end_to_end():
    ad = StaleReadAdapter()
    v = conform_one(ad, load_scenario("read-after-write"), "freebsd", runs=2, timeout=5)
    assert v.kind == "deviation"
    assert v.detail.startswith("data read wrong: read b was reported done (`aio_return(b)` returned 512) but 512 of "
                               "its 512 bytes at [4096, 4608) in F are not what the file held: at offset 4096 it "
                               "returned 0xa1, where only 0xa0 (written by a) is possible")
    v = conform_one(ad, load_scenario("lifecycle-read"), "freebsd", timeout=5)
    assert v.kind == "deviation" and "where only 0x00 (the file's initial pattern) is possible" in v.detail
    assert conform_one(ad, load_scenario("lifecycle-write"), "freebsd", timeout=5).kind == "pass"  # writes are fine


@pytest.mark.parametrize("impl", ["reference", "futures", "asyncio"])
def test_in_process_adapters_report_what_their_reads_returned(impl):
    scs = [load_scenario(n) for n in READS + ["lifecycle-read", "lio-wait", "two-threads-reap"]]
    v = conform(get_adapter(impl), scs, "freebsd", timeout=5)
    assert all(x.kind == "pass" for x in v), [(x.scenario, x.detail) for x in v if x.kind != "pass"]
    out = get_adapter(impl).run(load_scenario("read-after-write"), 5)
    assert out.reads == {(0, 5): bytes([fill_byte(load_scenario("read-after-write"), "a")]) * 512}
