"""Solver time of the z3 encoding: encoding, BMC per depth, and each proof.

    python benchmarks/bench_symbolic.py [--scenarios cancel-race return-twice ...] [--depth 9]
    python benchmarks/bench_symbolic.py --scenarios lio-wait default --facts --no-prove --depth 8
    python benchmarks/bench_symbolic.py --prove-only --scenarios cancel-race lio-wait lio-signal
    python benchmarks/bench_symbolic.py --prove-only --shipped --scenarios lio-wait lio-signal default
    python benchmarks/bench_symbolic.py --prove-only --minimal --scenarios cancel-race lio-wait
    python benchmarks/bench_symbolic.py --prove-only --scenarios docs/examples/race-n.toml --repeat T=3
    python benchmarks/bench_symbolic.py --prove-only --scenarios docs/examples/race-n.toml --repeat T=4 \
        --from-lemmas docs/examples/race-n.T4.lemmas.gz
    python benchmarks/bench_symbolic.py --scenarios default --compare-por --depth 13

For each scenario: symbolic paths and guarded updates of the encoding and the time to build
it; the cumulative BMC time at each depth up to ``--depth`` (with what it found); then
``aiospec prove``'s table: each target property, its result and solver seconds.
``--minimal`` also finds the lemmas each proof uses (unsat cores) and prints how many and how long.
``--compare-por`` encodes once with sampled facts (as ``aiospec bmc``) and runs BMC with and
without the partial-order reduction on that encoding, printing the time of each depth.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from aiospec.checker.symbolic import lemmafile  # noqa: E402
from aiospec.checker.symbolic.bmc import NOT_BY_DEFAULT, bmc  # noqa: E402
from aiospec.checker.symbolic.encode import encode  # noqa: E402
from aiospec.checker.symbolic.houdini import default_jobs  # noqa: E402
from aiospec.checker.symbolic.prove import prove  # noqa: E402
from aiospec.checker.symbolic.strengthen import bmc_exact  # noqa: E402
from aiospec.spec.model import Model  # noqa: E402
from aiospec.spec.properties import PROPERTIES  # noqa: E402
from aiospec.spec.scenario import ScenarioError, load  # noqa: E402


def _lemma_text(path: str, scenario: str) -> str:
    text = lemmafile.decode(open(path, "rb").read())
    lemmafile.read(text, scenario)  # refused here when it is not a lemma file for this scenario
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", nargs="+", default=["cancel-race", "return-twice", "double-cancel", "suspend-early"])
    ap.add_argument("--depth", type=int, default=9)
    ap.add_argument("--no-prove", action="store_true")
    ap.add_argument("--facts", action="store_true", help="BMC as `aiospec bmc` runs it: sampled facts, refined")
    ap.add_argument("--prove-only", action="store_true",
                    help="only `aiospec prove`'s default route (encoding that assumes the reachable values)")
    ap.add_argument("--shipped", action="store_true",
                    help="with --prove-only: start from the lemma file shipped with the scenario (as `aiospec prove` "
                         "does), and print the time of that check")
    ap.add_argument("--from-lemmas", metavar="FILE", default=None,
                    help="with --prove-only and one scenario: start from this lemma file (as `aiospec prove "
                         "--from-lemmas`), and print the time of that check")
    ap.add_argument("--minimal", action="store_true",
                    help="with --prove-only: also find the lemmas each proof uses (as `aiospec prove --minimal`)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="cores: actors encoded at once and, with --prove-only, Houdini's questions asked at once "
                         "(default: the CPUs here, as `aiospec prove`); --jobs 1 does one thing at a time")
    ap.add_argument("--compare-por", action="store_true",
                    help="BMC with and without the partial-order reduction, on one encoding with sampled facts")
    ap.add_argument("--repeat", action="append", default=[], metavar="THREAD=N",
                    help="a family's size, as `aiospec prove --repeat` takes it")
    args = ap.parse_args()
    if args.jobs is not None and args.jobs < 1:
        ap.error("--jobs takes a number of at least 1")
    try:
        args.jobs = args.jobs or default_jobs()
    except ValueError as e:
        ap.error(str(e))
    try:
        repeat = {k: int(v) for k, _, v in (r.partition("=") for r in args.repeat)} or None
    except ValueError:
        ap.error(f"--repeat takes THREAD=N, got {' '.join(args.repeat)}")
    if args.from_lemmas and (not args.prove_only or len(args.scenarios) != 1 or args.shipped):
        ap.error("--from-lemmas goes with --prove-only and one scenario, without --shipped")
    props = [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT and p.kind != "reach"]
    for name in args.scenarios:
        try:
            m = Model(load(name, repeat))
        except ScenarioError as e:
            ap.error(str(e))
        if args.prove_only:
            text = lemmafile.shipped(name) if args.shipped else None
            if args.shipped and text is None:
                print(f"\n== {m.sc.name}: no lemma file ships with it")
                continue
            try:
                text = _lemma_text(args.from_lemmas, m.sc.name) if args.from_lemmas else text
            except (OSError, lemmafile.BadLemmaFile) as e:
                ap.error(f"{args.from_lemmas}: {e}")
            only = lemmafile.read(text, m.sc.name) if text else None
            formulas = lemmafile.formulas(text, m.sc.name) if text else None
            t1 = time.perf_counter()
            rep = prove(m, progress=lambda msg: print(f"  [{time.perf_counter() - t1:6.1f}s] {msg}", flush=True),
                        only=only, formulas=formulas, minimize=args.minimal, jobs=args.jobs)
            print(f"\n== {m.sc.name}: prove{' from a lemma file' if only else ''}: {len(rep.lemmas):,} inductive "
                  f"lemmas of {rep.candidates:,} candidates, {time.perf_counter() - t1:.1f} s in all")
            if rep.needed_note:
                print(f"   {rep.needed_note}")
            _table(rep)
            continue
        if args.compare_por:
            _compare_por(m, args.depth, props, args.jobs)
            continue
        if args.facts:
            t0 = time.perf_counter()
            res = bmc_exact(m, args.depth, props, jobs=args.jobs)
            print(f"\n== {m.sc.name}: BMC to depth {args.depth} with facts: {res.facts} facts from {res.sampled:,} states, "
                  f"{res.rounds} round(s), {res.paths:,} paths, {res.updates:,} updates; encoded {res.encode_seconds:.1f} s, "
                  f"solved {res.solve_seconds:.1f} s, {time.perf_counter() - t0:.1f} s in all")
            for n, v in sorted(res.violations.items(), key=lambda kv: kv[1].depth):
                print(f"  {n:14s} violated at depth {v.depth}: {v.message}")
            if not res.violations:
                print("  no property violated")
            continue
        enc = encode(m, props, jobs=args.jobs)
        print(f"\n== {m.sc.name}: {enc.paths:,} symbolic paths, {len(enc.steps):,} guarded updates, "
              f"{len(enc.layout.slots)} state variables ({enc.layout.width}-bit), encoded in {enc.seconds:.1f} s")
        t0 = time.perf_counter()
        marks: list[str] = []
        res = bmc(m, args.depth, props, enc=enc,
                  progress=lambda k, _s: marks.append(f"{k}:{time.perf_counter() - t0:.1f}s"))
        print(f"BMC to depth {args.depth}: {res.solve_seconds:.1f} s  (cumulative by depth: {' '.join(marks)})")
        for n, v in sorted(res.violations.items(), key=lambda kv: kv[1].depth):
            print(f"  {n:14s} violated at depth {v.depth}: {v.message}")
        if not res.violations:
            print("  no property violated")
        if args.no_prove:
            continue
        t1 = time.perf_counter()
        rep = prove(m, enc=enc, jobs=args.jobs)
        print(f"prove: {len(rep.lemmas)} inductive lemmas of {rep.candidates} candidates, "
              f"{time.perf_counter() - t1:.1f} s in all")
        _table(rep)


def _compare_por(m: Model, depth: int, props: list, jobs: int = 1) -> None:
    from aiospec.checker.symbolic.layout import Layout
    from aiospec.checker.symbolic.lemmas import value_facts
    from aiospec.checker.symbolic.strengthen import sample_states

    lay = Layout(m)
    facts = value_facts(m, lay, sample_states(m), lay.frame("x"))
    enc = encode(m, props, facts=facts, jobs=jobs)
    print(f"\n== {m.sc.name}: {enc.paths:,} paths, {len(facts)} facts assumed, encoded in {enc.seconds:.1f} s")
    for por in (True, False):
        t0 = time.perf_counter()
        marks: list[str] = []
        res = bmc(m, depth, props, enc=enc, por=por,
                  progress=lambda k, _s: marks.append(f"{k}:{time.perf_counter() - t0:.1f}s"))
        found = ", ".join(f"{n} at {v.depth}" for n, v in sorted(res.violations.items())) or "nothing"
        print(f"BMC to depth {depth} {'with' if por else 'without'} partial-order reduction: {res.solve_seconds:.1f} s "
              f"(cumulative by depth: {' '.join(marks)}); found {found}", flush=True)


def _table(rep) -> None:
    print(f"  {'property':12s} {'result':14s} {'seconds':>8s}  method")
    for r in rep.results:
        print(f"  {r.prop:12s} {r.result:14s} {r.seconds:8.2f}  {r.method}")


if __name__ == "__main__":
    main()
