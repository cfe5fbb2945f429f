"""Python's async I/O as AIO implementations: asyncio's executor (always), aiofiles and anyio
(when installed: the ``conform`` extra).  Only deterministic verdicts are asserted: the cancel
races these libraries lose only sometimes are documented in docs/conformance.md."""

from __future__ import annotations

import importlib.util

import pytest

from aiospec.conformance.adapters import get_adapter
from aiospec.conformance.library import load_scenario
from aiospec.conformance.runner import conform

# scenarios whose verdict does not depend on timing for these adapters
STABLE = ["lifecycle-write", "lifecycle-read", "return-once", "error-after-return", "cancel-finished", "cancel-nothing",
          "cancel-badfd", "lio-wait", "lio-wait-null-nop", "lio-wait-failing", "lio-empty", "suspend-done",
          "suspend-timeout", "waitcomplete", "two-threads-reap", "read-zero-length", "write-zero-length",
          "suspend-two", "cancel-fd-done", "resubmit", "error-twice", "error-never-submitted", "badfd-write",
          "negative-offset", "fsync-badfd", "queue-limit-eagain", "suspend-null-timeout"]
EXPECTED_FREEBSD_DEVIATIONS = {"badfd-write", "negative-offset", "fsync-badfd", "queue-limit-eagain",
                               "suspend-null-timeout"}
EXPECTED_POSIX_DEVIATIONS = {"suspend-null-timeout"}  # no queue limit: accepted by posix (no-queue-limit)


def _installed(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


@pytest.mark.parametrize("impl", [
    "asyncio",
    pytest.param("aiofiles", marks=pytest.mark.skipif(not _installed("aiofiles"), reason="aiofiles not installed")),
    pytest.param("anyio", marks=pytest.mark.skipif(not _installed("anyio"), reason="anyio not installed")),
])
def test_python_async_adapter_end_to_end(impl):
    ad = get_adapter(impl)
    scs = [load_scenario(n) for n in STABLE]
    v = {x.scenario: x for x in conform(ad, scs, "freebsd")}
    assert {n for n, x in v.items() if x.kind != "pass"} == EXPECTED_FREEBSD_DEVIATIONS, \
        {n: x.detail for n, x in v.items() if x.kind != "pass"}
    assert v["negative-offset"].detail == ("T1 call 1 `aio_read(a, F)` returned OK, where the spec allows only EINVAL "
                                          "(it is T1's first call).")
    v = {x.scenario: x for x in conform(ad, scs, "posix")}
    assert {n for n, x in v.items() if x.kind != "pass"} == EXPECTED_POSIX_DEVIATIONS


def test_anyio_cancel_of_a_queued_request_is_honest():
    if not _installed("anyio"):
        pytest.skip("anyio not installed")
    v = conform(get_adapter("anyio"), [load_scenario(n) for n in ("cancel-queued", "exit-after-cancel")], "freebsd",
                runs=5)
    assert all(x.kind == "pass" for x in v), [(x.scenario, x.explanation) for x in v]


def test_a_missing_optional_library_is_an_import_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "aiofiles":
            raise ImportError("No module named 'aiofiles'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError):
        get_adapter("aiofiles")


PIPE_READ = '''
name = "pipe-read-empty"
daemons = 1
[limits]
enable_aio_unsafe = true
[files]
P = "pipe"
[aiocbs.a]
fd = "P"
[[threads]]
name = "T1"
calls = ["aio_read(a, P)", "aio_suspend([a])", "aio_error(a)", "aio_return(a)"]
'''


def test_aiofiles_on_an_empty_nonblocking_pipe_reports_eagain_not_an_adapter_error():
    """The workspace's FIFO is non-blocking: aiofiles' raw read returns None there (it used to
    crash the adapter with a TypeError); the adapter now reports EAGAIN, as read(2) does."""
    if not _installed("aiofiles"):
        pytest.skip("aiofiles not installed")
    from aiospec.spec import load_text
    from aiospec.spec.constants import Errno

    sc = load_text(PIPE_READ, "pipe-read-empty.toml")
    out = get_adapter("aiofiles").run(sc, 5.0)
    assert out.status == "ok", out.detail
    assert out.observation[0][3] == ("aio_return(a)", int(Errno.EAGAIN), (-1, "a"))
    v = conform(get_adapter("aiofiles"), [sc], "freebsd")[0]
    assert v.kind == "deviation" and "`aio_error(a)` returned EAGAIN" in v.detail
