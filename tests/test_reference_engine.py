"""The reference engine on real files: data, cancel, suspend, waitcomplete, lio, fsync
ordering, bad input, notifications, and nothing left behind after close()."""

from __future__ import annotations

import os
import threading
import time

import pytest

from aiospec.reference.engine import (
    O_SYNC,
    AioError,
    Aiocb,
    Engine,
    Errno,
    Op,
)
from engine_helpers import no_leaks, reap  # tests/engine_helpers.py

BASELINE = threading.active_count()


def test_write_then_read_back(tmpfd):
    with Engine(daemons=2) as eng:
        data = os.urandom(8192)
        w = Aiocb(tmpfd, bytearray(data), offset=4096)
        eng.aio_write(w)
        assert reap(eng, w) == 8192
        r = Aiocb(tmpfd, bytearray(8192), offset=4096)
        eng.aio_read(r)
        assert reap(eng, r) == 8192
        assert bytes(r.buffer) == data
        assert os.pread(tmpfd, 8192, 4096) == data
    no_leaks(eng)
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
    no_leaks(eng)


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
    no_leaks(eng)


def test_callback_notification(tmpfd):
    got = []
    ev = threading.Event()
    with Engine(daemons=1) as eng:
        cb = Aiocb(tmpfd, bytearray(4), notify=lambda x: (got.append(x), ev.set()))
        eng.aio_write(cb)
        assert ev.wait(5)
        assert got == [cb]
        reap(eng, cb)
    no_leaks(eng)


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
        assert reap(eng, s) == 0
        for w in ws:
            reap(eng, w)
        start = eng.log.index(("start", Op.LIO_SYNC, 8))
        ends = [i for i, e in enumerate(eng.log) if e[0] == "end" and e[1] == Op.LIO_WRITE]
        assert len(ends) == 8 and max(ends) < start  # D17: every counted write finished first
        with pytest.raises(AioError) as ei:
            eng.aio_fsync("O_DSYNC", s)
        assert ei.value.errno == Errno.EINVAL
    no_leaks(eng)


