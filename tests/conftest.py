"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

import pytest

# One Houdini question at a time unless a test asks for more: pytest-xdist already keeps both
# CPUs busy, and questions asked at once cost more CPU in all (a search asks again what another
# answer made stale).  The tests of houdini._Pool and of `prove --jobs 2` pass jobs themselves.
os.environ.setdefault("AIOSPEC_JOBS", "1")


@pytest.fixture
def tmpfd(tmp_path):
    """A fresh read-write file descriptor on a temporary file."""
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    yield fd
    os.close(fd)


def pytest_collection_modifyitems(config, items) -> None:
    """The heavy tests first: a two-minute test collected last would leave one worker alone
    for its whole run at the end of CI.  This splits a module's tests, so a worker may build a
    module fixture twice.  Keeping modules together was tried: CI took 11:53, this order 10:43
    and then 12:36, so the difference is within the machine's noise and neither is shown
    better.  (Work stealing takes from the tail of a worker's queue, so what sits at its head
    stays with it.)"""
    items.sort(key=lambda it: it.get_closest_marker("heavy") is None)
