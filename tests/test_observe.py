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


NOTIFIED = """
daemons = 1
[files]
F = "regular"
[aiocbs.a]
sigev = "SIGNAL"
[aiocbs.b]
offset = 8192
sigev = "KEVENT"
[[threads]]
name = "T1"
calls = ["aio_write(a, F)", "aio_write(b, F)", "aio_cancel(F, b)", "aio_suspend([a])", "aio_suspend([b])",
         "lio_listio(LIO_NOWAIT, [write c], SIGNAL)", "lio_listio(LIO_WAIT, [write d], SIGNAL)",
         "aio_return(a)", "aio_return(b)"]
"""


def test_notified_observations_pair_each_observation_with_the_posts():
    """One post per job that asked, cancelled or not; one per LIO_NOWAIT list, none for LIO_WAIT;
    the plain observations are the same set without the counts."""
    sc = load_text(NOTIFIED)
    notified = allowed_observations(sc, notifications=True)
    assert {o for o, _j, _l in notified} == allowed_observations(sc)
    cancelled = {j for o, j, _l in notified if o[0][2][2] == AIO_CANCELED}
    assert cancelled and all(j[:2] == (1, 1) for j in cancelled)  # b was cancelled and still posted
    lio_posts = {l for _o, _j, l in notified}
    assert lio_posts == {(1, 0)}
