"""Helpers the reference-engine tests share (both engines have the same API)."""

from __future__ import annotations

from aiospec.reference import Aiocb, AioError
from aiospec.spec.constants import Errno


def no_leaks(eng) -> None:
    """Nothing left behind, no fault, and every job completed, notified and freed once."""
    assert all(v == 0 for v in eng.leaks().values()), eng.leaks()
    assert not eng.stats.faults
    assert eng.stats.completes == eng.stats.notifies == eng.stats.frees


def reap(eng, cb: Aiocb) -> int:
    """Wait for cb and aio_return it (EINVAL: finished but not yet on kaio_done, so wait again)."""
    eng.aio_suspend([cb])
    while True:
        try:
            return eng.aio_return(cb)
        except AioError as e:
            if e.errno != Errno.EINVAL:
                raise
            eng.aio_suspend([cb], 0.01)
