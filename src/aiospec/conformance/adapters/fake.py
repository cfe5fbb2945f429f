"""Deliberately broken implementations: the conformance suite's own tests.

A checker that never fails proves nothing; these fakes make each kind of verdict happen on
purpose (a lying cancel, a call that never returns, a process that never exits) so the tests can
show the harness reports them, quickly and in plain words.
"""

from __future__ import annotations

import threading
import time

from ...spec.constants import AIO_CANCELED, Op, Sigev
from ...spec.scenario import Call
from .base import DriverAdapter
from .futures import FuturesDriver, IoResult, _io


class LyingCancelDriver(FuturesDriver):
    """``aio_cancel`` says AIO_CANCELED and cancels nothing: the write still lands."""

    def call(self, call: Call) -> tuple[int, object]:
        if call.kind == "aio_cancel":
            return 0, AIO_CANCELED
        return super().call(call)


class HangingDriver(FuturesDriver):
    """``aio_suspend`` never returns (a lost wakeup) until process exit (``close``) releases it,
    so the test leaves no thread behind."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.exiting = threading.Event()

    def call(self, call: Call) -> tuple[int, object]:
        if call.kind == "aio_suspend":
            self.exiting.wait()
            return 4, None  # EINTR: woken by the exit
        return super().call(call)

    def close(self, timeout: float) -> None:
        self.exiting.set()
        super().close(timeout)


class StuckExitDriver(FuturesDriver):
    """Every call works, but process exit never finishes (it ignores its time limit)."""

    def close(self, timeout: float) -> None:
        while True:
            time.sleep(3600)


def _stale_read(op: Op, fd: int, n: int, off: int, buf: bytes) -> IoResult:
    """A job body whose read reports its byte count but never copies the data out: the caller
    gets its buffer back as it was (the aiocb's fill bytes)."""
    status, error, got = _io(op, fd, n, off, buf)
    if op == Op.LIO_READ and got is not None:
        return status, error, buf[:status]
    return status, error, got


class StaleReadDriver(FuturesDriver):
    """Reads return their byte count but the buffer is never filled (a lost copy-out)."""

    job_body = staticmethod(_stale_read)


class DoubleNotifyDriver(FuturesDriver):
    """Every notification is delivered twice (a callback registered twice)."""

    def _submit(self, name, op, fd, note=None):  # type: ignore[override]
        job = super()._submit(name, op, fd, note)
        if self.notes.wants(name):
            job.future.add_done_callback(lambda _f: self.notes.job(name))
        return job


class LyingCancelAdapter(DriverAdapter):
    name = "fake-lying-cancel"
    description = "futures, but aio_cancel always claims AIO_CANCELED (a seeded deviation)"
    driver_cls = LyingCancelDriver


class HangingAdapter(DriverAdapter):
    name = "fake-hang"
    description = "futures, but aio_suspend never returns (a seeded hang)"
    driver_cls = HangingDriver


class StuckExitAdapter(DriverAdapter):
    name = "fake-stuck-exit"
    description = "futures in a child process whose exit never finishes (a seeded process-level hang)"
    driver_cls = StuckExitDriver
    isolated = True
    startup = 10.0


class StaleReadAdapter(DriverAdapter):
    name = "fake-stale-read"
    description = "futures, but a read never copies the data it read into the buffer (a seeded read-integrity bug)"
    driver_cls = StaleReadDriver


class DoubleNotifyAdapter(DriverAdapter):
    name = "fake-double-notify"
    description = "futures, but every completion notification is delivered twice (a seeded notification bug)"
    driver_cls = DoubleNotifyDriver
    sigevs = frozenset({Sigev.NONE, Sigev.SIGNAL})
