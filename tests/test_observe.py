"""What the spec lets a caller observe (the judge of conformance runs)."""

from aiospec.spec import load, load_text
from aiospec.spec.constants import AIO_CANCELED, Errno
from aiospec.spec.observe import allowed_observations

PAST_EOF = """
daemons = 1
[files]
F = "regular"
[aiocbs.a]
offset = 16777216
past_eof = true
[[threads]]
name = "T1"
calls = ["aio_read(a, F)", "aio_suspend([a])", "aio_return(a)"]
"""


def test_a_read_past_eof_returns_zero_bytes():
    obs = allowed_observations(load_text(PAST_EOF))
    assert obs == {((("aio_read(a, F)", 0, None), ("aio_suspend([a])", 0, None), ("aio_return(a)", 0, (0, "a"))),)}


def test_cancel_race_observations_include_finding_f11():
    """aio_cancel says CANCELED, aio_suspend says done, and aio_return still answers EINVAL."""
    obs = allowed_observations(load("cancel-race"))
    t1_returns = {t1[2][1] for t1, t2 in obs if t2[0][2] == AIO_CANCELED}
    assert Errno.EINVAL in t1_returns and Errno.ECANCELED in t1_returns
    # every observation has both threads' full programs
    assert all(len(t1) == 3 and len(t2) == 1 for t1, t2 in obs)
