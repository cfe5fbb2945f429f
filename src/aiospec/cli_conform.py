"""``aiospec conform``: run conformance scenarios on an AIO implementation, judged by the spec.

Exit codes: 0 every scenario passed (or was skipped), 1 a deviation, flaky result, timeout,
crash or harness error, 2 bad input (unknown implementation, profile or scenario).  Kept out of
``cli.py`` so the conformance machinery is only imported when this command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .cli_options import writable_file, write_output

_out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
_err = Console(stderr=True, highlight=False)

_STYLE = {"pass": "green", "skipped": "dim", "deviation": "bold red", "flaky": "yellow", "timeout": "bold red",
          "crash": "bold red", "error": "magenta"}


class _BadInput(click.ClickException):
    """Bad input: exit 2 with ``error: message`` on stderr, no traceback (as ``cli.py`` does)."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ARG002
        _err.print("[bold red]error:[/] " + escape(self.message), soft_wrap=True)


def _scenario_list(names: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for n in names:
        out += [x for x in n.replace(",", " ").split() if x]
    return out


@click.command("conform")
@click.option("--impl", "impl", required=True, metavar="NAME",
              help="The implementation under test: reference, glibc, futures, asyncio, aiofiles, anyio, io_uring, or "
                   "exec:CMD (an external process speaking the JSON-lines protocol, docs/conformance-protocol.md).")
@click.option("--profile", default="freebsd", show_default=True, metavar="freebsd|posix|glibc|rtems",
              help="freebsd (the spec as is), posix (also what POSIX leaves open), glibc (posix plus glibc's "
                   "documented behaviours) or rtems (the spec's rtems profile, the __rtems__ branches).")
@click.option("--scenarios", "scenario_opts", multiple=True, metavar="NAME[,NAME...]",
              help="Scenarios to run (repeatable, or comma-separated); default: every conformance scenario.")
@click.argument("scenario_args", nargs=-1, metavar="[SCENARIO]...")
@click.option("--runs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run each scenario N times; differing verdicts are reported as flaky.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds one run may take before it is a timeout verdict.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file, help="Write JUnit XML here.")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=writable_file,
              help="Write a Markdown report here.")
@click.option("--details/--no-details", default=True, help="Explain every scenario that did not pass.")
@click.option("--progress/--no-progress", default=True, help="Show progress on stderr.")
def conform(impl: str, profile: str, scenario_opts: tuple[str, ...], scenario_args: tuple[str, ...], runs: int,
            timeout: float, junit: Path | None, markdown: Path | None, details: bool, progress: bool) -> None:
    """Run conformance scenarios on an AIO implementation; the spec decides each verdict."""
    from .conformance.adapters import ADAPTERS, EXEC_PREFIX, get_adapter, known_names
    from .conformance.library import load_scenario
    from .conformance.library import scenario_names as conformance_names
    from .conformance.report import junit_xml
    from .conformance.report import markdown as markdown_report
    from .conformance.runner import conform as run_all
    from .conformance.runner import summary
    from .conformance.verdict import PROFILES
    from .spec.scenario import ScenarioError

    if impl not in ADAPTERS and not impl.startswith(EXEC_PREFIX):
        raise _BadInput(f"unknown implementation {impl!r}; known: {known_names()}")
    if profile not in PROFILES:
        raise _BadInput(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    names = _scenario_list(scenario_opts + scenario_args) or conformance_names()
    scenarios = []
    for n in names:
        try:
            scenarios.append(load_scenario(n))
        except ScenarioError as e:
            raise _BadInput(str(e)) from None
    try:
        adapter = get_adapter(impl)
    except (OSError, AssertionError, ImportError, ValueError) as e:
        # no libc.so.6 or not x86_64 (glibc), aiofiles / anyio / liburing not installed or io_uring
        # forbidden here, exec: without a command
        hint = " (pip install 'aiospec[conform]')" if isinstance(e, ModuleNotFoundError) and "pip install" not in str(e) \
            else ""  # a module is missing (io_uring's reason says so itself); not when it is there and unusable
        raise _BadInput(f"implementation {impl!r} cannot run here: {e}{hint}") from None

    def tick(i: int, n: int, sc, v) -> None:
        if not progress:
            return
        if v is None:
            if _err.is_terminal:  # a live "running" line, overwritten by the verdict
                _err.print(f"[dim][{i + 1}/{n}][/] {escape(sc.name)} ...", end="\r")
        else:
            _err.print(f"[dim][{i + 1}/{n}][/] {escape(sc.name)}: [{_STYLE.get(v.kind, '')}]{v.kind}[/] "
                       f"({v.seconds:.2f}s)")

    verdicts = run_all(adapter, scenarios, profile, runs, timeout, tick)

    table = Table(title=f"{impl} under the {profile} profile ({runs} run(s) per scenario)", show_lines=False)
    table.add_column("scenario", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("detail")
    for v in verdicts:
        table.add_row(escape(v.scenario), f"[{_STYLE.get(v.kind, '')}]{v.kind}[/]", escape(v.detail))
    _out.print(table)
    if details:
        for v in verdicts:
            if v.kind not in ("pass", "skipped"):
                _out.print(f"\n[bold]{escape(v.scenario)}[/] ({v.kind}):\n{escape(v.explanation or v.detail)}")
    counts = summary(verdicts)
    _out.print("\n" + ", ".join(f"{n} {k}" for k, n in counts.items()))
    if junit:
        write_output(junit, junit_xml(verdicts, impl, profile))
    if markdown:
        write_output(markdown, markdown_report(verdicts, impl, profile, runs))
    sys.exit(0 if all(v.ok for v in verdicts) else 1)


if __name__ == "__main__":  # python -m aiospec.cli_conform, until cli.py registers the command
    conform()
