"""Build hook for the optional C extension ``aiospec.reference._native`` (the native engine).

pyproject.toml holds the project's metadata; this file only declares the extension.  It is
optional: without a C compiler (or Python headers) the build prints a warning, the install
still succeeds, and ``aiospec.reference.native_available()`` says why the native engine is
missing (its tests skip with that reason).
"""

from pathlib import Path

from setuptools import Extension, setup

NATIVE = Path("src/aiospec/reference/native")

setup(
    ext_modules=[
        Extension(
            "aiospec.reference._native",
            sources=sorted(str(p) for p in NATIVE.glob("*.c")),
            depends=sorted(str(p) for p in NATIVE.glob("*.h")),
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wno-missing-braces"],
            libraries=["pthread"],
            optional=True,
        )
    ]
)
