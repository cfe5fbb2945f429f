"""Projections of `race-n`'s reachable states onto fewer copies (`checker/symbolic/project.py`).

    python benchmarks/bench_projections.py            # T=2 onto 1, T=3 onto 1 and 2 (about 5 minutes, 1 GB)
    python benchmarks/bench_projections.py --quick    # T=2 onto 1 only

For each pair of sizes: how many distinct states the projections give (over every choice of
copies), how many of them the smaller family reaches itself, how many hold a HIDDEN job, the
longest list, and the time.  These are the states an abstraction of "the other copies" must
cover: see docs/proofs.md, "Projections, measured".
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

RACE_N = str(Path(__file__).resolve().parents[1] / "docs" / "examples" / "race-n.toml")


def main() -> int:
    from aiospec.checker.symbolic.lemmas import reachable_states
    from aiospec.checker.symbolic.project import census
    from aiospec.spec.model import Model
    from aiospec.spec.scenario import load

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only two requests projected onto one")
    args = ap.parse_args()
    pairs = [(2, 1)] if args.quick else [(2, 1), (3, 1), (3, 2)]
    print("| from | onto | states of the larger | distinct projections | reachable by the smaller | "
          "holding HIDDEN | longest list | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    cache: dict[int, list] = {}
    for n, k in pairs:
        t0 = time.perf_counter()
        big, small = Model(load(RACE_N, {"T": n})), Model(load(RACE_N, {"T": k}))
        if n not in cache:
            cache = {n: reachable_states(big, 2_000_000)}
        c = census(big, small, cache[n])
        print(f"| T={n} | T={k} | {len(cache[n]):,} | {c.distinct:,} | {c.reachable:,} | {c.hidden:,} | "
              f"{c.longest} | {time.perf_counter() - t0:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
