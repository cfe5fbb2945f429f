"""``aiospec trace``: read, convert and draw counterexample files; draw small state graphs.

Every command re-checks the trace against the model before it prints or draws anything: a file
is a path (actor, step, choice per step), and the states shown are those the model computes
now, so a stale or edited file is reported instead of being drawn wrongly.

Exit codes as for ``aiospec``: 0 done, 2 bad input (``error: ...`` on stderr, no traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .checker import diagrams, formats
from .checker.formats import TraceFileError
from .checker.trace import Trace, format_trace, replay
from .cli_options import make_dir, write_output, writable_file
from .spec.model import Model


class TraceInputError(click.ClickException):
    """Bad input: exit 2 with ``error: ...`` on stderr, as the rest of the CLI does."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ARG002
        click.echo(f"error: {self.message}", err=True)


def write_trace_files(model: Model, trace: Trace, directory: str | Path, stem: str) -> list[Path]:
    """Write one counterexample in every form: ``stem.itf.json``, ``.json``, ``.txt``, ``.mmd`` and,
    when graphviz's ``dot`` is installed, ``.svg``.  Returns the files written.

    ``aiospec check --trace-out DIR`` calls this with ``stem = f"{scenario}.{property}"``.
    """
    d = Path(directory)
    make_dir(d)
    files = [(d / f"{stem}{formats.SUFFIXES[fmt]}", formats.dumps(model, trace, fmt)) for fmt in formats.FORMATS]
    files.append((d / f"{stem}.mmd", diagrams.to_mermaid(model, trace)))
    if diagrams.have_dot():
        files.append((d / f"{stem}.svg", diagrams.to_svg(model, trace)))
    for p, text in files:
        write_output(p, text)
    return [p for p, _ in files]


def _read(file: Path, scenario: Path | None) -> tuple[Model, Trace]:
    try:
        m, lt = formats.load_trace(file, scenario)
    except TraceFileError as e:
        raise TraceInputError(str(e)) from None
    t = replay(m, lt.path, lt.prop, lt.message)
    bad = formats.first_state_mismatch(lt, t)
    if bad is not None:
        click.echo(f"warning: {file}: state {bad} in the file differs from what the model computes "
                   "(the file was edited or the model changed since it was written); showing the model's", err=True)
    return m, t


SCENARIO_OPTION = click.option(
    "--scenario", "scenario", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="The scenario file the trace belongs to (needed when it is not a built-in scenario).")


@click.group("trace", context_settings={"help_option_names": ["-h", "--help"]})
def trace() -> None:
    """Read, convert and draw counterexample files (ITF, JSON or text); draw state graphs."""


@trace.command("show")
@click.argument("file", type=click.Path(path_type=Path))
@SCENARIO_OPTION
def show(file: Path, scenario: Path | None) -> None:
    """Print the trace FILE (ITF, JSON or text) as numbered steps, after replaying it."""
    _m, t = _read(file, scenario)
    click.echo(format_trace(t))


@trace.command("convert")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--to", "fmt", type=click.Choice(formats.FORMATS), required=True, help="The output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file,
              help="Write here instead of standard output.")
@SCENARIO_OPTION
def convert(file: Path, fmt: str, output: Path | None, scenario: Path | None) -> None:
    """Convert the trace FILE to ITF, plain JSON or text."""
    m, t = _read(file, scenario)
    text = formats.dumps(m, t, fmt)
    if output:
        write_output(output, text)
    else:
        click.echo(text, nl=False)


@trace.command("diagram")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--mermaid", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write Mermaid here.")
@click.option("--svg", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write SVG here (graphviz).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write PNG here (graphviz).")
@SCENARIO_OPTION
def diagram(file: Path, mermaid: Path | None, svg: Path | None, png: Path | None, scenario: Path | None) -> None:
    """Draw the trace FILE as a sequence diagram (Mermaid on standard output if no file is given)."""
    m, t = _read(file, scenario)
    if not (mermaid or svg or png):
        click.echo(diagrams.to_mermaid(m, t), nl=False)
        return
    if mermaid:
        write_output(mermaid, diagrams.to_mermaid(m, t))
    try:
        if svg:
            write_output(svg, diagrams.to_svg(m, t))
        if png:
            write_output(png, diagrams.to_png(m, t))
    except diagrams.DiagramError as e:
        raise TraceInputError(str(e)) from None


@trace.command("graph")
@click.argument("scenario_name")
@click.option("--dot", "dot_out", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write DOT here.")
@click.option("--graphml", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write GraphML here.")
@click.option("--svg", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write SVG here (graphviz dot).")
@click.option("--highlight", "prop", default=None,
              help="Highlight the shortest counterexample (or reachability witness) of this property.")
@click.option("--max-states", type=click.IntRange(min=1), default=None,
              help="Refuse scenarios with more reachable states than this (default 5,000).")
def graph_cmd(scenario_name: str, dot_out: Path | None, graphml: Path | None, svg: Path | None, prop: str | None,
              max_states: int | None) -> None:
    """Build the reachable state graph of a small SCENARIO; write DOT, GraphML or SVG (DOT on stdout by default)."""
    from .checker import graph as G
    from .checker.explore import Explorer
    from .spec.scenario import ScenarioError, load

    try:
        m = Model(load(scenario_name))
    except ScenarioError as e:
        raise TraceInputError(str(e)) from None
    try:
        g = G.build(m, max_states or G.DEFAULT_MAX_STATES)
    except G.GraphTooLarge as e:
        raise TraceInputError(str(e)) from None
    if prop:
        ex = Explorer(m)
        res = ex.run()
        w = res.violations.get(prop) or res.reached.get(prop)
        if w is None:
            found = sorted([*res.violations, *res.reached])
            raise TraceInputError(f"{prop}: not violated or reached in {m.sc.name} "
                                  f"(these are: {', '.join(found) or 'none'})")
        G.highlight(g, ex.witness_path(w), prop)
    dot_text = G.to_dot(g)
    if not (dot_out or graphml or svg):
        click.echo(dot_text, nl=False)
    if dot_out:
        write_output(dot_out, dot_text)
    if graphml:
        write_output(graphml, G.to_graphml(g))
    if svg:
        if not diagrams.have_dot():
            raise TraceInputError("graphviz is not installed (no 'dot' on PATH): apt-get install graphviz")
        import graphviz

        write_output(svg, graphviz.Source(dot_text, engine="dot").pipe(format="svg", quiet=True).decode("utf-8"))
    click.echo(f"{m.sc.name}: {g.graph['states']:,} states, {g.graph['transitions']:,} transitions", err=True)


def main() -> None:  # pragma: no cover - ``python -m aiospec.cli_trace`` before the group is wired into aiospec
    trace(prog_name="aiospec trace")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
