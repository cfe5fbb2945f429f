"""Fixtures shared by the test modules."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def tmpfd(tmp_path):
    """A fresh read-write file descriptor on a temporary file."""
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    yield fd
    os.close(fd)


def pytest_collection_modifyitems(config, items) -> None:
    """The heavy tests first: a two-minute test collected last would leave one worker alone
    for its whole run at the end of CI.  This splits a module's tests, so a worker may build a
    module fixture twice; keeping modules together was tried and was slower (11:53 against
    10:43): it put a whole module of 15-30 s tests at the head of one worker's queue, where
    work stealing (which takes from the tail) cannot reach them."""
    items.sort(key=lambda it: it.get_closest_marker("heavy") is None)
