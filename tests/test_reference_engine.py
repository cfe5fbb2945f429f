"""The reference engine on real files: data, cancel, suspend, waitcomplete, lio, fsync
ordering, bad input, notifications, and nothing left behind after close()."""

from __future__ import annotations

import os
import selectors
import threading
import time

import pytest

from aiospec.reference.engine import (
    AIO_ALLDONE,
    AIO_CANCELED,
    LIO_NOWAIT,
    LIO_WAIT,
    O_SYNC,
    AioError,
    Aiocb,
    Engine,
    Errno,
    KeventFd,
    Op,
)
from aiospec.reference.types import Limits

BASELINE = threading.active_count()


@pytest.fixture
def tmpfd(tmp_path):
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    yield fd
    os.close(fd)


def _no_leaks(eng: Engine) -> None:
    assert all(v == 0 for v in eng.leaks().values()), eng.leaks()
    assert not eng.stats.faults
    assert eng.stats.completes == eng.stats.notifies == eng.stats.frees


def _reap(eng: Engine, cb: Aiocb) -> int:
    eng.aio_suspend([cb])
    while True:
        try:
            return eng.aio_return(cb)
        except AioError as e:
            if e.errno != Errno.EINVAL:  # EINVAL: finished but not yet on kaio_done
                raise
            eng.aio_suspend([cb], 0.01)


def test_write_then_read_back(tmpfd):
    with Engine(daemons=2) as eng:
        data = os.urandom(8192)
        w = Aiocb(tmpfd, bytearray(data), offset=4096)
        eng.aio_write(w)
        assert _reap(eng, w) == 8192
        r = Aiocb(tmpfd, bytearray(8192), offset=4096)
        eng.aio_read(r)
        assert _reap(eng, r) == 8192
        assert bytes(r.buffer) == data
        assert os.pread(tmpfd, 8192, 4096) == data
    _no_leaks(eng)
    assert threading.active_count() == BASELINE


def test_waitcomplete_reaps_in_completion_order_and_polls(tmpfd):
    with Engine(daemons=1) as eng:
        with pytest.raises(AioError) as ei:
            eng.aio_waitcomplete(0)
        assert ei.value.errno == Errno.EAGAIN
        cbs = [Aiocb(tmpfd, bytearray(b"x" * 100), offset=100 * i, name=f"w{i}") for i in range(5)]
        for cb in cbs:
            eng.aio_write(cb)
        got = {eng.aio_waitcomplete(5.0)[0].name for _ in cbs}
        assert got == {cb.name for cb in cbs}
        with pytest.raises(AioError) as ei:
            eng.aio_waitcomplete(0.01)
        assert ei.value.errno == Errno.EAGAIN
    _no_leaks(eng)


def test_suspend_semantics(tmpfd):
    with Engine(daemons=1) as eng:
        os.pwrite(tmpfd, b"0123456789", 0)
        cb = Aiocb(tmpfd, bytearray(10))
        with pytest.raises(AioError) as ei:
            eng.aio_suspend([cb], 0.01)  # the process never used AIO: EAGAIN (OBS-13)
        assert ei.value.errno == Errno.EAGAIN
        eng.aio_read(cb)
        eng.aio_suspend([cb], 5.0)
        assert eng.aio_error(cb) == 0
        assert eng.aio_return(cb) == 10
        eng.aio_suspend([cb])  # unknown now: "all finished" returns 0 at once
        with pytest.raises(AioError) as ei:
            eng.aio_suspend([cb], -1)
        assert ei.value.errno == Errno.EINVAL
    _no_leaks(eng)


def test_cancel_queued_and_done(tmpfd):
    lim = Limits(max_aio_per_proc=1)
    with Engine(daemons=1, limits=lim) as eng:
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
                _reap(eng, cb)
            except AioError as e:
                errs.append(e.errno)
        assert Errno.ECANCELED in errs and res in (AIO_CANCELED, 2)
        assert set(errs) <= {0, Errno.ECANCELED}
        assert eng.aio_cancel(tmpfd, cbs[0]) == AIO_ALLDONE
        with pytest.raises(AioError) as ei:
            eng.aio_cancel(1 << 20, None)
        assert ei.value.errno == Errno.EBADF
    _no_leaks(eng)


def test_lio_wait_nowait_and_kevent(tmpfd):
    kq = KeventFd()
    with Engine(daemons=2) as eng:
        a = Aiocb(tmpfd, bytearray(b"a" * 512), offset=0, opcode=Op.LIO_WRITE, notify=kq, name="a")
        b = Aiocb(tmpfd, bytearray(b"b" * 512), offset=512, opcode=Op.LIO_WRITE, name="b")
        eng.lio_listio(LIO_WAIT, [a, None, b])
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
        with pytest.raises(AioError) as ei:
            eng.lio_listio(7, [c])
        assert ei.value.errno == Errno.EINVAL
        bad = Aiocb(tmpfd, bytearray(8), offset=-1, opcode=Op.LIO_READ)
        with pytest.raises(AioError) as ei:
            eng.lio_listio(LIO_WAIT, [bad])
        assert ei.value.errno == Errno.EIO and eng.aio_error(bad) == Errno.EINVAL
    kq.close()
    _no_leaks(eng)


def test_callback_notification(tmpfd):
    got = []
    ev = threading.Event()
    with Engine(daemons=1) as eng:
        cb = Aiocb(tmpfd, bytearray(4), notify=lambda x: (got.append(x), ev.set()))
        eng.aio_write(cb)
        assert ev.wait(5)
        assert got == [cb]
        _reap(eng, cb)
    _no_leaks(eng)


class _OrderEngine(Engine):
    """Logs when each handler starts and ends (a test probe, not a mutation)."""

    def __init__(self, *a, **kw):
        self.log: list = []
        super().__init__(*a, **kw)

    def handle(self, job, forced=None):
        self.log.append(("start", job.opcode, job.seqno))
        if job.opcode == Op.LIO_WRITE:
            time.sleep(0.002)
        r = super().handle(job, forced)
        self.log.append(("end", job.opcode, job.seqno))
        return r


def test_fsync_waits_for_earlier_writes(tmpfd):
    with _OrderEngine(daemons=4) as eng:
        ws = [Aiocb(tmpfd, bytearray(4096), offset=4096 * i) for i in range(8)]
        for w in ws:
            eng.aio_write(w)
        s = Aiocb(tmpfd)
        eng.aio_fsync(O_SYNC, s)
        assert _reap(eng, s) == 0
        for w in ws:
            _reap(eng, w)
        start = eng.log.index(("start", Op.LIO_SYNC, 8))
        ends = [i for i, e in enumerate(eng.log) if e[0] == "end" and e[1] == Op.LIO_WRITE]
        assert len(ends) == 8 and max(ends) < start  # D17: every counted write finished first
        with pytest.raises(AioError) as ei:
            eng.aio_fsync("O_DSYNC", s)
        assert ei.value.errno == Errno.EINVAL
    _no_leaks(eng)


def test_bad_input_errnos_leak_nothing(tmp_path, tmpfd):
    rd = os.open(tmp_path / "ro", os.O_RDONLY | os.O_CREAT, 0o600)
    r, w = os.pipe()
    try:
        with Engine(daemons=1, limits=Limits(max_aio_queue_per_proc=2, max_aio_per_proc=1)) as eng:
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
            # a buffer too small or read-only faults in the daemon: the job fails with EFAULT
            small = Aiocb(tmpfd, bytearray(2), nbytes=100)
            ro = Aiocb(tmpfd, b"immutable")
            eng.aio_read(small)
            with pytest.raises(AioError) as ei:
                _reap(eng, small)
            assert ei.value.errno == Errno.EFAULT and ei.value.status == -1
            eng.aio_read(ro)
            with pytest.raises(AioError) as ei:
                _reap(eng, ro)
            assert ei.value.errno == Errno.EFAULT
            # the same aiocb twice in flight: the seed accepts both (two jobs, one ujob)
            os.pwrite(tmpfd, bytes(4096), 0)
            twice = Aiocb(tmpfd, bytearray(4096))
            eng.aio_read(twice)
            eng.aio_read(twice)
            with pytest.raises(AioError) as ei:  # the per-process queue limit (2): EAGAIN, stored
                eng.aio_read(Aiocb(tmpfd, bytearray(1)))
            assert ei.value.errno == Errno.EAGAIN
            assert _reap(eng, twice) == 4096 and _reap(eng, twice) == 4096
            with pytest.raises(AioError) as ei:
                eng.aio_return(twice)
            assert ei.value.errno == Errno.EINVAL
    finally:
        for fd in (rd, r, w):
            os.close(fd)
    _no_leaks(eng)


def test_close_during_io_completes_everything_once(tmpfd):
    eng = Engine(daemons=2)
    cbs = [Aiocb(tmpfd, bytearray(1 << 16), offset=(1 << 16) * (i % 8)) for i in range(60)]
    for i, cb in enumerate(cbs):
        (eng.aio_write if i % 2 else eng.aio_read)(cb)
    eng.close()  # rundown: cancel what is queued, wait for what runs, free everything
    _no_leaks(eng)
    assert eng.stats.completes == 60
    assert threading.active_count() == BASELINE
    with pytest.raises(RuntimeError):
        eng.aio_read(cbs[0])
