"""The reference engine: real POSIX AIO on real file descriptors with the seed's semantics.

    from aiospec.reference import Engine, Aiocb, AioError, KeventFd, LIO_WAIT, LIO_NOWAIT, O_SYNC, Op
"""

from .engine import LIO_NOWAIT, LIO_WAIT, O_SYNC, Aiocb, AioError, Engine, KeventFd, Op
from .harness import run_scenario
from .native_engine import NATIVE_ERROR, NativeEngine, NativeUnavailable, native_available
from .replay import replay_on_engine
from .tracecheck import check_recorder, check_trace

__all__ = ["LIO_NOWAIT", "LIO_WAIT", "NATIVE_ERROR", "O_SYNC", "Aiocb", "AioError", "Engine", "KeventFd",
           "NativeEngine", "NativeUnavailable", "Op", "check_recorder", "check_trace", "native_available",
           "replay_on_engine", "run_scenario"]
