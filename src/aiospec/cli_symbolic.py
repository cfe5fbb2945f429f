"""``aiospec bmc`` and ``aiospec prove``: the z3 encoding of the same spec (checker/symbolic/)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from .cli_options import (CannotWrite, progress_option, repeat_option, split_option, write_output, writable_dir,
                          writable_file)
from .cli_progress import reporter


def _props(names: tuple[str, ...]):
    from .spec.properties import PROPERTIES

    if not names:
        return None
    known = {p.name: p for p in PROPERTIES}
    bad = [n for n in names if n not in known and n not in ("DEADLOCK", "SPEC-ERROR")]
    if bad:
        raise click.BadParameter(f"unknown propert{'y' if len(bad) == 1 else 'ies'}: {', '.join(bad)} "
                                 "(see `aiospec properties`)", param_hint="--prop")
    return [known[n] for n in names if n in known]


jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None,
    help="Cores to use: actors encoded at once (a forked process each) and Houdini's questions asked at once "
         "(a thread and a z3 context each, with a copy of the step relation): the same result, sooner.  "
         "[default: the CPUs here, or AIOSPEC_JOBS]")


def _jobs(jobs: int | None) -> int:
    """--jobs, or the default; a bad AIOSPEC_JOBS is bad input (exit 2)."""
    from .checker.symbolic.houdini import default_jobs
    from .cli import err

    try:
        return jobs or default_jobs()
    except ValueError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        sys.exit(2)


def _ctrl_c_stops() -> None:
    """Let Ctrl-C reach Python.  By default z3 catches SIGINT during a check and answers
    "unknown", which Houdini takes as "too hard" and splits the question: the run went on.
    Without it the run stops (click: "Aborted!"), at once while threads ask the questions, or
    when the check under way ends."""
    import z3

    from .checker import interrupt

    z3.set_param("ctrl_c", False)
    interrupt.install()  # and a Ctrl-C that lands in a finalizer is not lost


@click.command()
@click.argument("scenario")
@click.option("--depth", "-k", type=click.IntRange(min=0), default=10, show_default=True,
              help="Steps to unroll.")
@click.option("--profile", type=click.Choice(["freebsd", "rtems"]), default=None)
@click.option("--prop", "prop_names", multiple=True, help="Only these properties (repeatable).")
@click.option("--mutant", default=None, help="Check a mutant of the catalogue instead of the faithful spec.")
@click.option("--trace-out", type=click.Path(file_okay=False, path_type=Path), default=None, callback=writable_dir,
              help="Write each counterexample (ITF, JSON, text, Mermaid) into this directory.")
@click.option("--facts/--no-facts", default=True, show_default=True,
              help="Sample the scenario explicitly and assume the values each variable takes there while encoding "
                   "(far fewer symbolic paths).  BMC checks the facts on every frame; a reachable state that breaks "
                   "one is added to the sample and the search starts over, so the verdict stays exact.")
@click.option("--sample", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="With --facts: breadth-first states to sample (plus 2,000 random runs).")
@click.option("--por/--no-por", default=True, show_default=True,
              help="Partial-order reduction: two consecutive steps that touch disjoint variables are unrolled in "
                   "one order only.  The same violations at the same depths, with fewer runs for the solver.")
@click.option("--timeout", type=click.FloatRange(min=0.001), default=None,
              help="Seconds the solver may spend on one check.  A check it cannot decide in time ends the search: "
                   "what was found so far is reported, and the depth it stopped at (exit status 3 if nothing was "
                   "violated).")
@jobs_option
@progress_option
@repeat_option
@split_option
def bmc(scenario: str, depth: int, profile: str | None, prop_names: tuple[str, ...], mutant: str | None,
        trace_out: Path | None, facts: bool, sample: int, por: bool, timeout: float | None, jobs: int | None,
        progress: bool, repeat: dict[str, int], split_cuts: bool) -> None:
    """Bounded model checking with z3: any property violated within DEPTH steps of SCENARIO.

    Exit status: 0 nothing violated within DEPTH, 1 a property violated, 2 bad input, 3 no
    verdict (the solver could not decide a depth, or the sampled facts never settled)."""
    _ctrl_c_stops()
    from .checker.mutants import MUTANTS, applied, model_for
    from .checker.symbolic.bmc import NOT_BY_DEFAULT
    from .checker.symbolic.bmc import bmc as run_bmc
    from .checker.symbolic.strengthen import bmc_exact
    from .checker.trace import format_trace, replay
    from .cli import _load, err, out
    from .cli_trace import write_trace_files
    from .spec.properties import PROPERTIES

    sc = _load(scenario, profile, repeat)
    if mutant is not None and mutant not in MUTANTS:
        err.print(f"[red]error:[/] unknown mutant {escape(mutant)!r} (see `aiospec mutants`)")
        sys.exit(2)
    if split_cuts and trace_out:
        err.print("[red]error:[/] --trace-out with --split-cuts: a trace file replays on the atomic model")
        sys.exit(2)
    jobs = _jobs(jobs)
    mu = MUTANTS.get(mutant) if mutant else None
    props = _props(prop_names)
    limits = {"timeout": max(1, round(timeout * 1000))} if timeout else None
    t0 = time.perf_counter()
    with applied(mu):
        model = model_for(sc, mu, split_cuts)
        with reporter(err, f"encoding {sc.name}", enabled=progress) as say:
            if facts:
                ps = props or [p for p in PROPERTIES if p.name not in NOT_BY_DEFAULT]
                try:
                    res = bmc_exact(model, depth, ps, limit=sample, progress=say, por=por, solver_params=limits,
                                    jobs=jobs)
                except RuntimeError as e:  # the facts kept breaking: no verdict rather than a wrong one
                    err.print(f"[red]error:[/] {escape(str(e))}; try --no-facts or a larger --sample")
                    sys.exit(3)
            else:
                res = run_bmc(model, depth, props, por=por, solver_params=limits, jobs=jobs)
        how = (f"{res.facts} facts from {res.sampled:,} sampled states, {res.rounds} round{'s' if res.rounds > 1 else ''}"
               if facts else "no facts assumed") + ("" if por else ", no partial-order reduction")
        out.print(f"[bold]aiospec bmc {escape(sc.name)}[/] --depth {depth}"
                  f"{' (mutant ' + escape(mutant) + ')' if mutant else ''}"
                  f"{', steps split at their cuts' if split_cuts else ''}: {res.paths:,} symbolic paths, "
                  f"{res.updates:,} guarded updates ({how}), encoded in {res.encode_seconds:.1f}s, "
                  f"solved in {res.solve_seconds:.1f}s")
        for name, v in sorted(res.violations.items(), key=lambda kv: kv[1].depth):
            tr = replay(model, v.path, name, v.message)
            out.print()
            out.print(format_trace(tr), markup=False)
            if trace_out:
                write_trace_files(model, tr, trace_out, f"{sc.name}.bmc.{name}")
    out.print()
    reached = depth if res.undecided is None else res.undecided[0] - 1
    if res.violations:
        out.print(f"[bold red]violated within {reached} steps[/]: " +
                  ", ".join(f"{n} ({v.depth} steps)" for n, v in sorted(res.violations.items())))
    elif reached >= 0:
        out.print(f"[green]no property violated within {reached} steps[/] ({time.perf_counter() - t0:.1f}s)")
    if res.undecided is not None:
        k, why = res.undecided
        err.print(f"[yellow]undecided:[/] the solver could not decide depth {k} ({escape(why)}); "
                  f"nothing is known from {k} steps on")
    sys.exit(1 if res.violations else 3 if res.undecided else 0)


@click.command()
@click.argument("scenario")
@click.option("--profile", type=click.Choice(["freebsd", "rtems"]), default=None)
@click.option("--prop", "prop_names", multiple=True, help="Only these properties (default: the per-job protocol "
              "invariants A1, D2-D6, D2-STICKY, D9, D13, D14, and SPEC-ERROR: no step's Python raises).")
@click.option("--mutant", default=None, help="Prove on a mutant of the catalogue instead of the faithful spec.")
@click.option("--bound", type=click.IntRange(min=0), default=0, show_default=True,
              help="For what induction does not prove, also run BMC to this depth (0: skip).")
@click.option("--lemmas", "lemmas_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=writable_file,
              help="Write every inductive lemma (and every dropped candidate) to this file: a certificate that "
                   "--from-lemmas starts from (gzip-compressed if the name ends in .gz).")
@click.option("--from-lemmas", "lemmas_in", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Start from the inductive lemmas of a file --lemmas wrote (checked again: a stale file can only "
                   "prove less), instead of searching all the mined candidates.")
@click.option("--states", "states_limit", type=click.IntRange(min=1), default=300_000, show_default=True,
              help="Mine lemmas from every reachable state up to this many; past it, from a sample of about this "
                   "many (breadth-first plus random runs, with their renamings when a thread has copies, up to "
                   "twice this many).  A sample never makes a proof wrong, only weaker.")
@click.option("--k-max", "k_max", type=click.IntRange(min=1, max=20), default=3, show_default=True,
              help="A target the inductive lemmas do not prove (its counterexample to induction unreachable) "
                   "is tried by k-induction for k = 2 up to this (1: plain induction only).")
@click.option("--search", is_flag=True, help="Search all the mined candidates even when a lemma file ships with "
              "the built-in scenario (by default the shipped file is checked, and the search runs only if it is stale).")
@click.option("--minimal", is_flag=True, help="After the proof, find the lemmas it uses (unsat cores) and say how "
              "many; --lemmas then writes only those: a smaller certificate that --from-lemmas checks faster.")
@jobs_option
@progress_option
@repeat_option
@split_option
def prove(scenario: str, profile: str | None, prop_names: tuple[str, ...], mutant: str | None, bound: int,
          lemmas_out: Path | None, lemmas_in: Path | None, states_limit: int, k_max: int, search: bool,
          minimal: bool, jobs: int | None, progress: bool, repeat: dict[str, int], split_cuts: bool) -> None:
    """Prove properties of SCENARIO for every depth, by induction with z3 (Houdini strengthening)."""
    _ctrl_c_stops()
    from .checker.mutants import MUTANTS, applied, model_for
    from .checker.symbolic import lemmafile
    from .checker.symbolic.prove import TARGETS
    from .checker.symbolic.prove import prove as run_prove
    from .checker.symbolic.strengthen import bmc_exact
    from .cli import _load, err, out
    from .spec.properties import PROPERTIES

    sc = _load(scenario, profile, repeat)
    if mutant is not None and mutant not in MUTANTS:
        err.print(f"[red]error:[/] unknown mutant {escape(mutant)!r} (see `aiospec mutants`)")
        sys.exit(2)
    jobs = _jobs(jobs)
    _props(prop_names)  # an unknown name is refused here, before any work
    targets = prop_names or TARGETS
    only, source, formulas = None, "", None
    if lemmas_in is not None:
        try:
            text = lemmafile.decode(lemmas_in.read_bytes())
            only, source = lemmafile.read(text, sc.name), str(lemmas_in)
            formulas = lemmafile.formulas(text, sc.name)
        except lemmafile.BadLemmaFile as e:
            err.print(f"[red]error:[/] {escape(str(lemmas_in))}: {escape(str(e))}")
            sys.exit(2)
    elif not search and mutant is None and not repeat and not split_cuts and \
            (text := lemmafile.shipped(scenario)) is not None:  # (the shipped files are the atomic model's)
        only, source = lemmafile.read(text, sc.name), "the lemma file shipped with it"
        formulas = lemmafile.formulas(text, sc.name)
    mu = MUTANTS.get(mutant) if mutant else None
    with applied(mu):
        model = model_for(sc, mu, split_cuts)
        with reporter(err, f"proving on {sc.name}", enabled=progress) as say:
            def stale(r) -> bool:
                return bool(r.dropped) or any(x.result != "proved" for x in r.results)

            shipped = lemmas_in is None and only is not None
            rep = run_prove(model, targets, progress=say, states_limit=states_limit, k_max=k_max, only=only,
                            minimize=(lambda r: not stale(r)) if minimal and shipped else minimal,
                            jobs=jobs, formulas=formulas)  # it explores the scenario itself, unless formulas
            unproved = [r.prop for r in rep.results if r.result != "proved"]
            if shipped and stale(rep):
                why = (f"{len(rep.dropped):,} of its lemmas are not inductive" if rep.dropped
                       else f"they do not prove {', '.join(unproved)}")
                out.print(f"the lemma file shipped with {sc.name} is stale ({why}): searching all the mined candidates",
                          markup=False)
                only = None
                rep = run_prove(model, targets, progress=say, states_limit=states_limit, k_max=k_max,
                                minimize=minimal, jobs=jobs)
            bounded: dict = {}
            reached: int | None = bound  # every depth up to this one decided (None: no verdict at all)
            unproved = [r.prop for r in rep.results if r.result != "proved"]
            if bound and unproved:  # exact BMC with sampled facts, as `aiospec bmc` runs it (SPEC-ERROR: always)
                try:
                    bres = bmc_exact(model, bound, [p for p in PROPERTIES if p.name in unproved], progress=say,
                                     jobs=jobs)
                    bounded = bres.violations
                    if bres.undecided is not None:
                        reached = bres.undecided[0] - 1
                except RuntimeError as e:  # the facts kept breaking: no bounded verdict
                    err.print(f"[yellow]warning:[/] --bound {bound}: {escape(str(e))}")
                    reached = None
    if not rep.lemmas and rep.results:
        out.print(f"[bold]aiospec prove {escape(sc.name)}[/]: no inductive strengthening to trust: "
                  f"{escape(rep.results[0].detail)}")
    spec_lemmas = [x for x in rep.lemmas if not x.startswith("lemma: ")]
    mined = len(rep.lemmas) - len(spec_lemmas)
    if rep.lemmas:
        out.print(f"[bold]aiospec prove {escape(sc.name)}[/]{' (mutant ' + escape(mutant) + ')' if mutant else ''}"
                  f"{', steps split at their cuts' if split_cuts else ''}: "
                  f"{len(rep.lemmas):,} inductive lemmas of {rep.candidates:,} candidates: "
                  f"{', '.join(spec_lemmas) or 'no spec invariant'} and {mined:,} mined from {rep.mined_from or 'no states'}")
    if only is not None:
        out.print(f"started from {len(only):,} lemmas named in {source}: {rep.candidates:,} of them are "
                  f"candidates here, {len(rep.lemmas):,} still inductive", markup=False)
    if rep.dropped:
        shown = "; ".join(x.removeprefix("lemma: ") for x in rep.dropped[:5])
        out.print(f"dropped (not inductive): {len(rep.dropped):,}, e.g. {shown}", markup=False)
    if rep.needed_note:
        out.print(rep.needed_note, markup=False)
    unwritten = None
    if lemmas_out:
        try:
            write_output(lemmas_out, lemmafile.encoded(lemmafile.write(rep, minimal=minimal), lemmas_out.name))
            out.print(f"lemmas written to {lemmas_out}", markup=False)
        except CannotWrite as e:  # the verdicts below are still printed
            unwritten = e
    t = Table(show_edge=False)
    for col in ("property", "method", "result", "solver s", "detail"):
        t.add_column(col)
    failed = 0
    for r in rep.results:
        method, result = r.method, r.result
        if result != "proved" and bound:
            method += f"; bounded {bound}"
            if r.prop in bounded:
                result += f"; violated within {bound} steps"
            elif reached is None:
                result += "; no bounded verdict"
            else:
                result += (f"; holds within {reached} steps" if reached >= 0 else "") + \
                    (f"; depth {reached + 1} undecided" if reached < bound else "")
        failed += r.result != "proved"
        colour = "green" if r.result == "proved" else "yellow"
        t.add_row(r.prop, method, f"[{colour}]{escape(result)}[/]", f"{r.seconds:.2f}", escape(r.detail))
    out.print(t)
    for r in rep.results:
        if r.cti:
            out.print(f"\n{r.prop}: {r.detail}\n{r.cti}", markup=False, highlight=False)
    if unwritten is not None:
        raise unwritten
    sys.exit(1 if failed else 0)
