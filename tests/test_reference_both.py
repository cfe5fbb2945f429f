"""Behaviours both engines (Python and native) must share: cancel, lio_listio, bad input, close
during I/O, and FIFOs (read/write instead of pread/pwrite, as fo_read does)."""

from __future__ import annotations

import os
import selectors
import threading
import time

import pytest

from aiospec.reference import Aiocb, AioError, Engine, NativeEngine, native_available
from aiospec.reference.engine import (AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, LIO_NOWAIT, LIO_WAIT, O_SYNC,
                                      KeventFd, Op)
from aiospec.reference.types import Limits
from aiospec.spec.constants import Errno
from engine_helpers import no_leaks, reap  # tests/engine_helpers.py

BASELINE = threading.active_count()


@pytest.fixture(params=["python", "native"])
def engine_cls(request):
    if request.param == "native":
        if not native_available():
            pytest.skip("the native engine is not built")
        return NativeEngine
    return Engine


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
    no_leaks(eng)


def test_fifo_read_on_an_empty_nonblocking_pipe_fails_with_eagain(fifos, engine_cls):
    with engine_cls(daemons=1, limits=Limits(enable_aio_unsafe=True)) as eng:
        r = Aiocb(fifos.p, bytearray(16))
        eng.aio_read(r)
        with pytest.raises(AioError) as e:
            _reap_within(eng, r)
        assert e.value.errno == Errno.EAGAIN
    no_leaks(eng)


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
    no_leaks(eng)


# -- shared behaviours ---------------------------------------------------------------------------

def test_cancel_queued_and_done(tmpfd, engine_cls):
    with engine_cls(daemons=1, limits=Limits(max_aio_per_proc=1)) as eng:
        assert eng.aio_cancel(tmpfd, None) == AIO_ALLDONE  # no kaioinfo yet
        cbs = [Aiocb(tmpfd, bytearray(1 << 16), offset=0) for _ in range(20)]
        for cb in cbs:
            eng.aio_write(cb)
        res = eng.aio_cancel(tmpfd, None)
        errs = []
        for cb in cbs:
            try:
                eng.aio_suspend([cb])
                errs.append(eng.aio_error(cb))
                reap(eng, cb)
            except AioError as e:
                errs.append(e.errno)
                assert e.status == -1 and e.aiocb is cb
        assert Errno.ECANCELED in errs and res in (AIO_CANCELED, AIO_NOTCANCELED)
        assert set(errs) <= {0, Errno.ECANCELED}
        assert eng.aio_cancel(tmpfd, cbs[0]) == AIO_ALLDONE
        with pytest.raises(AioError) as ei:
            eng.aio_cancel(1 << 20, None)
        assert ei.value.errno == Errno.EBADF
    no_leaks(eng)


def test_lio_wait_nowait_and_kevent(tmpfd, engine_cls):
    kq = KeventFd()
    with engine_cls(daemons=2) as eng:
        a = Aiocb(tmpfd, bytearray(b"a" * 512), offset=0, opcode=Op.LIO_WRITE, notify=kq, name="a")
        b = Aiocb(tmpfd, bytearray(b"b" * 512), offset=512, opcode=Op.LIO_WRITE, name="b")
        n = Aiocb(tmpfd, opcode=Op.LIO_NOP, name="n")
        eng.lio_listio(LIO_WAIT, [a, None, b, n])
        assert eng.aio_error(a) == 0 and eng.aio_error(b) == 0
        assert eng.aio_return(a) == 512 and eng.aio_return(b) == 512
        c = Aiocb(tmpfd, bytearray(1024), offset=0, opcode=Op.LIO_READ, name="c")
        lst = [c]
        eng.lio_listio(LIO_NOWAIT, lst, kq)
        sel = selectors.DefaultSelector()
        sel.register(kq, selectors.EVENT_READ)
        seen: list = []
        deadline = time.monotonic() + 5
        while lst not in seen and time.monotonic() < deadline:
            if sel.select(1.0):
                seen += kq.events()
        sel.close()
        assert a in seen and lst in seen  # EVFILT_AIO for a, EVFILT_LIO for the list
        assert bytes(c.buffer) == b"a" * 512 + b"b" * 512
        assert eng.aio_return(c) == 1024
        for mode, ents, notify in ((7, [c], None), (LIO_NOWAIT, [c], "bogus")):
            with pytest.raises(AioError) as ei:
                eng.lio_listio(mode, ents, notify)
            assert ei.value.errno == Errno.EINVAL
        bad = Aiocb(tmpfd, bytearray(8), offset=-1, opcode=Op.LIO_READ)
        inv = Aiocb(tmpfd, bytearray(8), opcode=99)
        with pytest.raises(AioError) as ei:
            eng.lio_listio(LIO_WAIT, [bad, inv])
        assert ei.value.errno == Errno.EIO and eng.aio_error(bad) == eng.aio_error(inv) == Errno.EINVAL
    kq.close()
    no_leaks(eng)


def test_bad_input_errnos_leak_nothing(tmp_path, tmpfd, engine_cls):
    rd = os.open(tmp_path / "ro", os.O_RDONLY | os.O_CREAT, 0o600)
    r, w = os.pipe()
    try:
        with engine_cls(daemons=1, limits=Limits(max_aio_queue_per_proc=2, max_aio_per_proc=1)) as eng:
            cases = [
                (eng.aio_write, Aiocb(1 << 20, bytearray(4)), Errno.EBADF, Errno.EBADF),  # bad fd, stored
                (eng.aio_write, Aiocb(rd, bytearray(4)), Errno.EBADF, Errno.EBADF),  # fget_write on O_RDONLY
                (eng.aio_read, Aiocb(tmpfd, bytearray(4), offset=-1), Errno.EINVAL, Errno.EINVAL),
                (eng.aio_read, Aiocb(tmpfd, bytearray(4), nbytes=2**31), Errno.EINVAL, 0),  # OBS-1: unstored
                (eng.aio_read, Aiocb(tmpfd, bytearray(4), notify="bogus"), Errno.EINVAL, Errno.EINVAL),
                (eng.aio_write, Aiocb(w, bytearray(4)), Errno.EOPNOTSUPP, Errno.EOPNOTSUPP),  # a pipe is unsafe
                (lambda cb: eng.aio_fsync(O_SYNC, cb), Aiocb(r), Errno.EINVAL, Errno.EINVAL),  # no vnode
            ]
            for call, cb, want, stored in cases:
                with pytest.raises(AioError) as ei:
                    call(cb)
                assert ei.value.errno == want, cb
                assert eng.aio_error(cb) == stored  # the "hack for failure of aio_aqueue"
            # a buffer too small, read-only for a read, or no buffer at all faults: EFAULT
            for cb, call in ((Aiocb(tmpfd, bytearray(2), nbytes=100), eng.aio_read),
                             (Aiocb(tmpfd, b"immutable"), eng.aio_read),
                             (Aiocb(tmpfd, None, nbytes=4), eng.aio_write)):
                call(cb)
                with pytest.raises(AioError) as ei:
                    reap(eng, cb)
                assert ei.value.errno == Errno.EFAULT and ei.value.status == -1
            empty = Aiocb(tmpfd, None, nbytes=0)
            eng.aio_read(empty)  # no fo_read for an empty read: no buffer needed
            assert reap(eng, empty) == 0
            # the same aiocb twice in flight: the seed accepts both (two jobs, one ujob)
            os.pwrite(tmpfd, bytes(4096), 0)
            twice = Aiocb(tmpfd, bytearray(4096))
            eng.aio_read(twice)
            eng.aio_read(twice)
            extra = Aiocb(tmpfd, bytearray(1))
            with pytest.raises(AioError) as ei:  # the per-process queue limit (2): EAGAIN, stored
                eng.aio_read(extra)
            assert ei.value.errno == Errno.EAGAIN and eng.aio_error(extra) == Errno.EAGAIN
            assert reap(eng, twice) == 4096 and reap(eng, twice) == 4096
            with pytest.raises(AioError) as ei:
                eng.aio_return(twice)
            assert ei.value.errno == Errno.EINVAL
        with engine_cls(daemons=1, limits=Limits(max_queue_count=1)) as eng:  # the global limit
            one = Aiocb(tmpfd, bytearray(1))
            eng.aio_read(one)
            with pytest.raises(AioError) as ei:
                eng.aio_read(Aiocb(tmpfd, bytearray(1)))
            assert ei.value.errno == Errno.EAGAIN
            assert reap(eng, one) == 1
    finally:
        for fd in (rd, r, w):
            os.close(fd)
    no_leaks(eng)


def test_close_during_io_completes_everything_once(tmpfd, engine_cls):
    kq = KeventFd()
    eng = engine_cls(daemons=2)
    cbs = [Aiocb(tmpfd, bytearray(1 << 16), offset=(1 << 16) * (i % 8), notify=kq if i % 5 == 0 else None)
           for i in range(60)]
    for i, cb in enumerate(cbs):
        (eng.aio_write if i % 2 else eng.aio_read)(cb)
    eng.aio_fsync(O_SYNC, Aiocb(tmpfd))
    eng.close()  # rundown: cancel what is queued, wait for what runs, free everything
    no_leaks(eng)
    assert eng.stats.completes == 61
    assert threading.active_count() == BASELINE
    eng.close()  # twice is fine
    with pytest.raises(RuntimeError):
        eng.aio_read(cbs[0])
    kq.close()
