"""Explicit-state checker benchmark: one line per named scenario.

    python benchmarks/bench_checker.py            # every built-in scenario, `full` included (about half an hour)
    python benchmarks/bench_checker.py --quick    # without `full`
    python benchmarks/bench_checker.py cancel-race lio-wait

Each scenario runs in its own process so that its peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

CHILD = r"""
import json, resource, sys
from aiospec.spec import Model, load
from aiospec.checker.explore import Explorer
res = Explorer(Model(load(sys.argv[1]))).run()
print(json.dumps({"states": res.states, "transitions": res.transitions, "depth": res.depth,
                  "seconds": res.seconds, "rate": res.states_per_second,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "violated": sorted(res.violations), "reached": len(res.reached),
                  "reach_total": sum(1 for p in res.properties if p.kind == "reach")}))
"""


def main() -> int:
    from aiospec.spec import builtin_names

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", help="scenario names (default: all built-ins)")
    ap.add_argument("--quick", action="store_true", help="skip the `full` scenario")
    args = ap.parse_args()
    names = args.scenarios or [n for n in builtin_names() if not (args.quick and n == "full")]
    if args.scenarios:
        unknown = [n for n in names if n not in builtin_names()]
        if unknown:
            print(f"unknown scenario(s): {', '.join(unknown)}; built-ins: {', '.join(builtin_names())}", file=sys.stderr)
            return 2
    print(f"aiospec explicit-state checker, Python {platform.python_version()} on {platform.machine()}, one core")
    head = f"{'scenario':<14} {'states':>12} {'transitions':>13} {'depth':>6} {'seconds':>9} {'states/s':>10} {'peak MiB':>9} {'reached':>8}  violated"
    print(head)
    print("-" * len(head))
    for n in names:
        out = subprocess.run([sys.executable, "-c", CHILD, n], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{n:<14} failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}")
            continue
        r = json.loads(out.stdout)
        print(f"{n:<14} {r['states']:>12,} {r['transitions']:>13,} {r['depth']:>6} {r['seconds']:>9.2f} "
              f"{r['rate']:>10,.0f} {r['rss']:>9.0f} {r['reached']:>5}/{r['reach_total']:<2}  "
              f"{', '.join(r['violated']) or '-'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
