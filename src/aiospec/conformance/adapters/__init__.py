"""Implementations under test.  ``get_adapter(name)`` builds one by its CLI name."""

from __future__ import annotations

from .base import Adapter, Driver, DriverAdapter, Unsupported, Workspace, run_isolated, run_threads

ADAPTERS: dict[str, str] = {
    "reference": "aiospec.conformance.adapters.reference:ReferenceAdapter",
    "glibc": "aiospec.conformance.adapters.glibc:GlibcAdapter",
    "futures": "aiospec.conformance.adapters.futures:FuturesAdapter",
}


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name`` (imported lazily: glibc's needs ctypes and x86_64).

    Raises KeyError with the known names for an unknown one.
    """
    import importlib

    if name not in ADAPTERS:
        raise KeyError(f"unknown implementation {name!r}; known: {', '.join(ADAPTERS)}")
    mod, cls = ADAPTERS[name].split(":")
    return getattr(importlib.import_module(mod), cls)()


__all__ = ["ADAPTERS", "Adapter", "Driver", "DriverAdapter", "Unsupported", "Workspace", "get_adapter",
           "run_isolated", "run_threads"]
