"""Both engines (Python and native) on FIFOs: read/write instead of pread/pwrite, as fo_read does."""

from __future__ import annotations

import os
import threading
import time

import pytest

from aiospec.reference import Aiocb, AioError, Engine, NativeEngine, native_available
from aiospec.reference.engine import AIO_CANCELED
from aiospec.reference.types import Limits
from aiospec.spec.constants import Errno


@pytest.fixture(params=["python", "native"])
def engine_cls(request):
    if request.param == "native":
        if not native_available():
            pytest.skip("the native engine is not built")
        return NativeEngine
    return Engine


def _no_leaks(eng) -> None:
    assert all(v == 0 for v in eng.leaks().values()), eng.leaks()
    assert not eng.stats.faults
    assert eng.stats.completes == eng.stats.notifies == eng.stats.frees


# -- FIFOs: read/write instead of pread/pwrite ---------------------------------------------------

FIFO_WATCHDOG = 10.0  # seconds: a daemon blocked on the blocking FIFO is released by then at the latest


class _Fifos:
    """``p``: a FIFO opened read-write and non-blocking, as the harness opens a scenario's pipe
    (an empty-pipe read fails with EAGAIN instead of blocking a daemon).  ``b``: a blocking FIFO
    whose 1-byte read holds the one daemon busy until ``unblock()``, so a request submitted
    after it is still queued when it is cancelled.  A watchdog unblocks it after
    FIFO_WATCHDOG seconds: rundown waits for a running read, so a failing test must not leave
    the daemon (and ``close()``) blocked forever."""

    def __init__(self, tmp_path) -> None:
        os.mkfifo(tmp_path / "p", 0o600)
        os.mkfifo(tmp_path / "b", 0o600)
        self.p = os.open(tmp_path / "p", os.O_RDWR | os.O_NONBLOCK)
        self.b = os.open(tmp_path / "b", os.O_RDWR)
        self._lock = threading.Lock()
        self._unblocked = False
        self._watchdog = threading.Timer(FIFO_WATCHDOG, self.unblock)
        self._watchdog.daemon = True
        self._watchdog.start()

    def unblock(self) -> None:
        with self._lock:
            if not self._unblocked:
                self._unblocked = True
                os.write(self.b, b"x")

    def drain(self) -> bytes:
        out = b""
        while True:
            try:
                chunk = os.read(self.p, 65536)
            except BlockingIOError:
                return out
            out += chunk

    def close(self) -> None:
        self._watchdog.cancel()
        self.unblock()
        os.close(self.p)
        os.close(self.b)


@pytest.fixture
def fifos(tmp_path):
    f = _Fifos(tmp_path)
    yield f
    f.close()


def _reap_within(eng, cb: Aiocb, timeout: float = 5.0) -> int:
    """Like ``_reap``, but a request that never finishes fails the test (EAGAIN) instead of hanging it."""
    deadline = time.monotonic() + timeout
    while True:
        eng.aio_suspend([cb], max(0.001, deadline - time.monotonic()))
        try:
            return eng.aio_return(cb)
        except AioError as e:
            if e.errno != Errno.EINVAL or time.monotonic() > deadline:
                raise


def test_fifo_write_then_read_ignores_the_offset(fifos, engine_cls):
    with engine_cls(daemons=1, limits=Limits(enable_aio_unsafe=True)) as eng:
        data = os.urandom(4096)
        w = Aiocb(fifos.p, bytearray(data), offset=12345)  # pwrite would fail with ESPIPE
        eng.aio_write(w)
        assert _reap_within(eng, w) == 4096
        r = Aiocb(fifos.p, bytearray(4096), offset=777)
        eng.aio_read(r)
        assert _reap_within(eng, r) == 4096
        assert bytes(r.buffer) == data
    assert fifos.drain() == b""
    _no_leaks(eng)


def test_fifo_read_on_an_empty_nonblocking_pipe_fails_with_eagain(fifos, engine_cls):
    with engine_cls(daemons=1, limits=Limits(enable_aio_unsafe=True)) as eng:
        r = Aiocb(fifos.p, bytearray(16))
        eng.aio_read(r)
        with pytest.raises(AioError) as e:
            _reap_within(eng, r)
        assert e.value.errno == Errno.EAGAIN
    _no_leaks(eng)


def test_fifo_still_needs_enable_aio_unsafe(fifos, engine_cls):
    with engine_cls(daemons=1) as eng:
        with pytest.raises(AioError) as e:
            eng.aio_read(Aiocb(fifos.p, bytearray(16)))
        assert e.value.errno == Errno.EOPNOTSUPP


def test_cancelled_queued_fifo_read_leaves_the_bytes_in_the_pipe(fifos, engine_cls):
    os.write(fifos.p, b"\x11" * 256)  # a read that ran would consume these
    with engine_cls(daemons=1, limits=Limits(enable_aio_unsafe=True)) as eng:
        blocker = Aiocb(fifos.b, bytearray(1))
        eng.aio_read(blocker)  # holds the only daemon: the next read stays queued
        r = Aiocb(fifos.p, bytearray(512))
        eng.aio_read(r)
        assert eng.aio_cancel(fifos.p, r) == AIO_CANCELED
        assert eng.aio_error(r) == Errno.ECANCELED
        with pytest.raises(AioError) as e:
            eng.aio_return(r)
        assert e.value.errno == Errno.ECANCELED
        fifos.unblock()
        assert _reap_within(eng, blocker) == 1
        w = Aiocb(fifos.p, bytearray(b"\xa1" * 512))
        eng.aio_write(w)
        assert _reap_within(eng, w) == 512
    assert fifos.drain() == b"\x11" * 256 + b"\xa1" * 512
    assert bytes(r.buffer) == bytes(512)
    _no_leaks(eng)

