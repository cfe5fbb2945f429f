"""The ``aiospec`` command line.

Exit codes: 0 every property holds, 1 a property is violated, 2 bad input.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from .cli_options import (make_dir, progress_option, repeat_option, split_option, write_output, writable_dir,
                          writable_file)
from .cli_progress import reporter
from .spec.scenario import DEFAULT_SCENARIO, ScenarioError, builtin_names, load

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False)


class BadInput(click.ClickException):
    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ARG002
        err.print("[bold red]error:[/] " + escape(self.message), soft_wrap=True)


def _load(name: str, profile: str | None, repeat: dict[str, int] | None = None):
    try:
        sc = load(name, repeat or None)
    except ScenarioError as e:
        raise BadInput(str(e)) from None
    if profile:
        from dataclasses import replace

        sc = replace(sc, profile=profile)
    return sc


class _Group(click.Group):
    """Ctrl-C stops a command with click's "Aborted!" (exit 1), also when it lands while ctypes
    converts an argument of a z3 call: ctypes then raises ``ArgumentError("argument 2:
    KeyboardInterrupt: ")``, which click took for a crash and printed as a traceback."""

    def invoke(self, ctx: click.Context):
        import ctypes

        try:
            return super().invoke(ctx)
        except ctypes.ArgumentError as e:
            if ": KeyboardInterrupt" in str(e):
                raise click.Abort() from None
            raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aiospec", prog_name="aiospec")
def main() -> None:
    """aiospec: a model-checked specification of FreeBSD's POSIX AIO (sys/kern/vfs_aio.c)."""


@main.command()
@click.argument("scenario", default=DEFAULT_SCENARIO)
@click.option("--max-states", type=click.IntRange(min=1), default=None, help="Stop after this many distinct states.")
@click.option("--profile", type=click.Choice(["freebsd", "rtems"]), default=None, help="Override the scenario's profile.")
@click.option("--trace-out", type=click.Path(file_okay=False, path_type=Path), default=None, callback=writable_dir,
              help="Write every counterexample (ITF, JSON, text, Mermaid, SVG) into this folder.")
@click.option("--traces/--no-traces", default=True, help="Print the counterexamples.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file,
              help="Write the verdicts and figures as JSON.")
@progress_option
@repeat_option
@split_option
def check(scenario: str, max_states: int | None, profile: str | None, trace_out: Path | None, traces: bool,
          json_out: Path | None, progress: bool, repeat: dict[str, int], split_cuts: bool) -> None:
    """Explore every interleaving of SCENARIO (a built-in name or a TOML file) and check every property."""
    from .checker.explore import Explorer
    from .checker.report import print_report, verdicts
    from .checker.mutants import model_for
    from .checker.trace import format_trace, replay
    from .cli_trace import write_trace_files

    if split_cuts and trace_out:
        raise BadInput("--trace-out with --split-cuts: a trace file replays on the atomic model, which has no "
                       "steps split at cuts; print the counterexamples instead")
    sc = _load(scenario, profile, repeat)
    model = model_for(sc, None, split_cuts)
    t0 = time.perf_counter()
    with reporter(err, f"exploring {sc.name}", enabled=progress) as say:
        def tick(n: int, t: int, d: int) -> None:
            el = time.perf_counter() - t0
            say(f"{n:,} states, {t:,} transitions, depth {d}, {n / max(el, 1e-9):,.0f} states/s")

        ex = Explorer(model, max_states=max_states, progress=tick)
        res = ex.run()
    out.print(f"[bold]aiospec check {escape(sc.name)}[/] ({sc.profile} profile, {len(sc.threads)} threads, "
              f"{sc.daemons} daemons{', steps split at their cuts' if split_cuts else ''})")
    if sc.description:
        out.print(sc.description, markup=False)
    if trace_out:
        make_dir(trace_out)
    for name, w in res.violations.items():
        tr = replay(model, ex.witness_path(w), name, w.message)
        text = format_trace(tr)
        if traces:
            out.print()
            out.print(text, markup=False)
        if trace_out:
            write_trace_files(model, tr, trace_out, f"{sc.name}.{name}")
    out.print()
    print_report(res, ex, out)
    if res.violations:
        out.print(f"[bold red]{len(res.violations)} propert{'y' if len(res.violations) == 1 else 'ies'} violated[/]: "
                  "see docs/findings.md for the ones that are findings about vfs_aio.c")
    if json_out:
        write_output(json_out, json.dumps({
            "scenario": sc.name, "profile": sc.profile, "split_cuts": split_cuts, "states": res.states,
            "transitions": res.transitions,
            "depth": res.depth, "seconds": res.seconds, "states_per_second": res.states_per_second,
            "peak_rss_mb": res.peak_rss_mb, "complete": res.complete,
            "verdicts": [{"property": n, "kind": k, "verdict": v, "detail": d, "steps": s}
                         for n, k, v, d, s in verdicts(res, ex)],
            "coverage": dict(res.coverage)}, indent=1) + "\n")
    sys.exit(1 if res.violations else 0)


MUTANT_SCENARIOS = ("cancel-race", "lio-wait", "double-cancel", "return-twice", "disk-bio", "lio-signal", "default")


@main.command()
@click.argument("scenario_names", nargs=-1)
@click.option("--max-states", type=click.IntRange(min=1), default=500_000, show_default=True,
              help="State limit per run (a mutant may blow the state space up).")
def mutants(scenario_names: tuple[str, ...], max_states: int) -> None:
    """Run every mutant of the catalogue against the scenarios; report what caught it."""
    from rich.table import Table

    from .checker.explore import Explorer
    from .checker.mutants import MUTANTS, applied, model_for
    from .spec.model import Model

    names = scenario_names or MUTANT_SCENARIOS
    scs = [_load(n, None) for n in names]
    base = {}
    for sc in scs:
        r = Explorer(Model(sc), max_states=max_states).run()
        base[sc.name] = (set(r.violations), set(r.reached))
    t = Table(title="Mutants")
    for col in ("mutant", "verdict", "scenario", "caught by", "steps", "story"):
        t.add_column(col, overflow="fold")
    caught = 0
    for name, mu in MUTANTS.items():
        hit = None
        for sc in scs:
            with applied(mu):
                ex = Explorer(model_for(sc, mu), max_states=max_states)
                r = ex.run()
            new = [k for k in r.violations if k not in base[sc.name][0]]
            if new:
                best = min(new, key=lambda k: len(ex.witness_path(r.violations[k])))
                hit = (sc.name, best, len(ex.witness_path(r.violations[best])))
                break
        if not hit:  # safety is blind to it: try liveness on the scenarios small enough to hold
            from .checker.liveness import TooLarge, check_liveness

            for sc in scs:
                try:
                    with applied(mu):
                        lv = check_liveness(model_for(sc, mu))
                except TooLarge:
                    continue
                if lv.lassos:
                    k, lasso = sorted(lv.lassos.items())[0]
                    hit = (sc.name, k, len(lasso.prefix) + len(lasso.cycle))
                    break
        if hit:
            caught += 1
            t.add_row(name, "[green]caught[/]", hit[0], hit[1], str(hit[2]), mu.story)
        else:
            t.add_row(name, "[bold red]survived[/]", "", "", "", mu.story)
    out.print(t)
    out.print(f"mutation score: {caught}/{len(MUTANTS)} = {100 * caught / len(MUTANTS):.0f}%")
    sys.exit(0 if caught == len(MUTANTS) else 1)


@main.command()
@click.argument("scenario", default=DEFAULT_SCENARIO)
@click.option("--max-states", type=click.IntRange(min=1), default=300_000, show_default=True)
def liveness(scenario: str, max_states: int) -> None:
    """Look for fair cycles in which a job never finishes or a thread never returns (lasso traces)."""
    from .checker.liveness import TooLarge, check_liveness
    from .checker.trace import format_trace, replay
    from .spec.model import Model

    sc = _load(scenario, None)
    model = Model(sc)
    try:
        res = check_liveness(model, max_states)
    except TooLarge as e:
        raise BadInput(f"{scenario}: {e}") from None
    out.print(f"[bold]aiospec liveness {escape(sc.name)}[/]: {res.states:,} states, {res.transitions:,} transitions; "
              "weak fairness of daemons, the sync task, I/O completion and threads")
    for name, title in res.checked:
        lasso = res.lassos.get(name)
        if lasso is None:
            out.print(f"  {name:<12} [green]holds[/]  {title}")
            continue
        out.print(f"  {name:<12} [bold red]VIOLATED[/]  {lasso.message}")
        tr = replay(model, lasso.prefix + lasso.cycle, name, lasso.message)
        text = format_trace(tr)
        marker = f"{len(lasso.prefix) + 1:3d}. "
        text = text.replace("\n" + marker, "\n     --- the cycle starts here and repeats forever ---\n" + marker, 1)
        out.print(text, markup=False)
    sys.exit(1 if res.lassos else 0)


@main.command()
@click.argument("trace_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scenario", "scenario_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The scenario file, for a trace of a scenario that is not built in.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds a scheduled engine thread may take to reach its next step.")
def replay(trace_file: Path, scenario_file: Path | None, timeout: float) -> None:
    """Drive the reference engine through a counterexample (ITF, JSON or text) on real files."""
    from .checker.formats import TraceFileError, load_trace
    from .reference.replay import replay_on_engine

    try:
        model, tr = load_trace(trace_file, scenario_file)
    except TraceFileError as e:
        raise BadInput(str(e)) from None
    try:
        rep = replay_on_engine(model, tr.path, tr.prop, tr.message, timeout=timeout)
    except ValueError as e:  # a scenario the engine does not implement (disk, RTEMS)
        out.print(f"replay of {tr.prop} in scenario {model.sc.name}: the engine cannot run it: {e}", markup=False)
        sys.exit(1)
    for ln in rep.lines():
        out.print(ln, markup=False)
    sys.exit(0 if rep.reproduced else 1)


@main.command()
@click.argument("scenario", default=DEFAULT_SCENARIO)
@click.option("--profile", type=click.Choice(["freebsd", "rtems"]), default=None)
@repeat_option
@click.option("--states", "limit", type=click.IntRange(min=1), default=300_000, show_default=True,
              help="Measure every reachable state up to this many; past it, a sample of about this many.")
@split_option
def footprint(scenario: str, profile: str | None, repeat: dict[str, int], limit: int, split_cuts: bool) -> None:
    """How many jobs one atomic step reads or writes (the t of the any-size argument), per label."""
    from .checker.footprint import measure, states_of
    from .checker.mutants import model_for

    model = model_for(_load(scenario, profile, repeat), None, split_cuts)
    states, complete = states_of(model, limit)
    fp = measure(model, states)
    name = model.sc.name + (", steps split at their cuts" if split_cuts else "")
    out.print(f"[bold]aiospec footprint {escape(name)}[/]: {len(model.sc.slots)} jobs, {fp.states:,} states "
              f"({'all reachable' if complete else 'a sample'}), {fp.transitions:,} steps")
    out.print(f"  {'label':<14} {'C function (lines)':<44} {'steps':>8} {'jobs':>4} {'/cut':>4} {'lios':>4} "
              f"{'alike':>5}  most jobs, in a step of")
    for f in sorted(fp.labels.values(), key=lambda f: (-f.most_jobs, -f.most_between_cuts, f.label.index)):
        lb = f.label
        who, js = f.example
        where = f"{who}: {', '.join(model.job_name(j) for j in js)}" if js else ""
        style = "bold" if f.loops or f.most_jobs > 1 else ""
        row = (f"  {lb.name:<14} {(lb.c_function + ' (' + lb.lines + ')')[:44]:<44} {f.steps:>8,} {f.most_jobs:>4} "
               f"{f.most_between_cuts:>4} {f.most_lios:>4} {f.alike or '':>5}  {where}")
        out.print(f"[{style}]{escape(row)}[/]" if style else escape(row))
    out.print(f"t = {fp.t}: the most jobs one atomic step touches (guard and body); {fp.t_between_cuts} between two "
              "cuts (`/cut`: one iteration of a loop the encoder merges).  `alike`: jobs read alike, each from "
              "its own record, not counted.")


@main.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    for name in builtin_names():
        sc = load(name)
        out.print(f"[bold]{name:<14}[/] {escape(sc.description)}")


@main.command()
def properties() -> None:
    """List every property the checker evaluates."""
    from .spec.properties import PROPERTIES

    for p in PROPERTIES:
        out.print(f"[bold]{p.name:<18}[/] {p.kind:<9} {p.title}  [dim]({p.source})[/]")


@main.command()
@click.option("--markdown", is_flag=True, help="Print Markdown (as in docs/spec.md).")
@click.option("--update", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              callback=writable_file, help="Rewrite the generated part of this Markdown file (docs/spec.md).")
def spec(markdown: bool, update: Path | None) -> None:
    """Print the model's variables and actions, generated from the spec definition."""
    from .spec.doc import spec_markdown, update_doc

    if update:
        write_output(update, update_doc(update.read_text()))
        err.print(f"updated {update}")
        return
    text = spec_markdown()
    if markdown:
        click.echo(text)
    else:
        out.print(text)


from .cli_trace import trace as _trace_group  # noqa: E402  (cli_trace does not import cli)

main.add_command(_trace_group)

from .cli_conform import conform as _conform_command  # noqa: E402  (cli_conform does not import cli)

main.add_command(_conform_command)

from .cli_symbolic import bmc as _bmc_command  # noqa: E402  (cli_symbolic imports cli lazily)
from .cli_symbolic import prove as _prove_command  # noqa: E402

main.add_command(_bmc_command)
main.add_command(_prove_command)


if __name__ == "__main__":
    main()
