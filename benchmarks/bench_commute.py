"""Steps against projections (`checker/symbolic/commute.py`): does the small model, run on the
projection of a state, take the step the large one took?

    python benchmarks/bench_commute.py            # race-n 2->1, 3->1, 3->2, fsync-n 2->1 (about 6 minutes)
    python benchmarks/bench_commute.py --quick    # race-n 2->1 only (atomic and split)

Per pair of sizes, over every choice of copies: the steps of shown actors whose footprint is
shown, how many the small model takes exactly, how many read a hidden job on the projection
(a larger projection must show it), how many differ, the steps that touch a shown and a
hidden copy's job, the hidden actors' steps that move the projection, and the variables those change (the
environment an abstraction of "the other copies" must allow).  See docs/proofs.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RACE_N = str(ROOT / "docs" / "examples" / "race-n.toml")
FSYNC_N = str(ROOT / "docs" / "examples" / "fsync-n.toml")


def main() -> int:
    from aiospec.checker.footprint import states_of
    from aiospec.checker.symbolic.commute import Commute, commute
    from aiospec.checker.symbolic.family import thread_maps
    from aiospec.checker.symbolic.project import Projection
    from aiospec.spec.model import Model
    from aiospec.spec.scenario import load
    from aiospec.spec.split import SplitModel

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only race-n, two requests onto one")
    ap.add_argument("--states", type=int, default=30_000, help="sample size past which states are sampled")
    args = ap.parse_args()
    race = lambda kind: lambda n: kind(load(RACE_N, {"T": n}))  # noqa: E731
    fsync = lambda n: Model(load(FSYNC_N, {"T": n}))  # noqa: E731
    runs = [("race-n", race(Model), 2, 1), ("race-n split", race(SplitModel), 2, 1)]
    if not args.quick:
        runs += [("race-n", race(Model), 3, 1), ("race-n", race(Model), 3, 2), ("fsync-n", fsync, 2, 1)]
    print("| family | from | onto | states | shown steps | exact | read a hidden job | differ | touch a shown and a hidden copy's job "
          "| hidden steps moving it | what those change | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fam, mk, n, k in runs:
        t0 = time.perf_counter()
        big, small = mk(n), mk(k)
        states, every = states_of(big, args.states)
        out = Commute()
        for tm in thread_maps(small.sc, big.sc):
            commute(big, small, Projection(big, small, tm), states, out)
        env = ", ".join(sorted(out.environment))
        where = ", ".join(f"{lb} {f.reads_hidden:,}" for lb, f in sorted(out.labels.items()) if f.reads_hidden)
        print(f"| {fam} | T={n} | T={k} | {len(states):,}{'' if every else ' (sample)'} | {out.total('shown'):,} | "
              f"{out.total('exact'):,} | {out.total('reads_hidden'):,}{f' ({where})' if where else ''} | "
              f"{out.total('differ'):,} | {out.total('wider'):,} | {out.total('moves'):,} | {env} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
