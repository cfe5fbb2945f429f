"""The child side of ``base.run_isolated``: read a pickled ``(fn, args)`` on stdin, run it,
write the pickled ``RunOutcome`` on stdout, and leave at once.

stdout is reserved for the answer: anything the implementation prints goes to stderr.  The exit
is ``os._exit`` so a stuck implementation thread or an atexit handler cannot hold the answer
back (the parent has its time limit anyway).
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # C code and print() now write to stderr
    sys.stdout = sys.stderr
    fn, args = pickle.loads(sys.stdin.buffer.read())
    from aiospec.conformance.observation import RunOutcome

    try:
        res = fn(*args)
    except BaseException:  # noqa: BLE001 - the adapter's bug, reported as an outcome
        res = RunOutcome("error", (), "the adapter failed in the child process:\n" + traceback.format_exc())
    out.write(pickle.dumps(res))
    out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
