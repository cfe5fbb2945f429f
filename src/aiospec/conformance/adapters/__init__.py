"""Implementations under test.  ``get_adapter(name)`` builds one by its CLI name."""

from __future__ import annotations

from .base import Adapter, Driver, DriverAdapter, Unsupported, Workspace, run_isolated, run_threads

ADAPTERS: dict[str, str] = {
    "reference": "aiospec.conformance.adapters.reference:ReferenceAdapter",
    "glibc": "aiospec.conformance.adapters.glibc:GlibcAdapter",
    "futures": "aiospec.conformance.adapters.futures:FuturesAdapter",
    "asyncio": "aiospec.conformance.adapters.pyasync:AsyncioAdapter",
    "aiofiles": "aiospec.conformance.adapters.pyasync:AiofilesAdapter",
    "anyio": "aiospec.conformance.adapters.pyasync:AnyioAdapter",
    "io_uring": "aiospec.conformance.adapters.io_uring:IoUringAdapter",
}
EXEC_PREFIX = "exec:"  # exec:CMD, an external process speaking docs/conformance-protocol.md


def known_names() -> str:
    """The implementation names for messages: the adapters, then ``exec:CMD``."""
    return ", ".join([*ADAPTERS, EXEC_PREFIX + "CMD"])


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name`` (imported lazily: glibc's needs ctypes and x86_64).

    ``exec:CMD`` runs ``CMD`` as a child speaking the JSON-lines protocol.  Raises KeyError with
    the known names for an unknown one, ValueError for ``exec:`` without a command, ImportError
    when an optional library (aiofiles, anyio) is not installed.
    """
    import importlib

    if name.startswith(EXEC_PREFIX):
        from .exec import ExecAdapter

        return ExecAdapter(name[len(EXEC_PREFIX):])
    if name not in ADAPTERS:
        raise KeyError(f"unknown implementation {name!r}; known: {known_names()}")
    mod, cls = ADAPTERS[name].split(":")
    return getattr(importlib.import_module(mod), cls)()


__all__ = ["ADAPTERS", "EXEC_PREFIX", "known_names", "Adapter", "Driver", "DriverAdapter", "Unsupported", "Workspace", "get_adapter",
           "run_isolated", "run_threads"]
