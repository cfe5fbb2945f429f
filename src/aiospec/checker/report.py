"""Human-readable results: the property table, the summary and coverage."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..spec.actions import LABELS
from ..spec.properties import PROPERTIES
from .explore import Explorer, Result


def verdicts(res: Result, ex: Explorer) -> list[tuple[str, str, str, str, int | None]]:
    """(name, kind, verdict, detail, counterexample length) for every property checked."""
    rows = []
    for p in res.properties:
        if p.kind == "reach":
            w = res.reached.get(p.name)
            if w:
                rows.append((p.name, p.kind, "reached", p.title, len(ex.witness_path(w))))
            else:
                rows.append((p.name, p.kind, "not reached", p.title, None))
            continue
        w = res.violations.get(p.name)
        if w:
            rows.append((p.name, p.kind, "VIOLATED", w.message, len(ex.witness_path(w))))
        else:
            rows.append((p.name, p.kind, "holds" if res.complete else "holds (bounded)", p.title, None))
    return rows


def property_table(res: Result, ex: Explorer) -> Table:
    t = Table(title=f"Properties of scenario {res.scenario}", show_lines=False)
    t.add_column("property", no_wrap=True)
    t.add_column("kind")
    t.add_column("verdict", no_wrap=True)
    t.add_column("steps", justify="right")
    t.add_column("counterexample / witness", overflow="fold")
    style = {"VIOLATED": "bold red", "holds": "green", "reached": "cyan", "not reached": "yellow"}
    for name, kind, verdict, detail, n in verdicts(res, ex):
        shown = detail if verdict in ("VIOLATED", "not reached") else ""
        t.add_row(name, kind, f"[{style.get(verdict, '')}]{verdict}[/]", "" if n is None else str(n), shown)
    return t


def summary_lines(res: Result) -> list[str]:
    never = [lb.name for lb in LABELS if res.coverage[lb.name] == 0]
    lines = [
        f"distinct states: {res.states:,}   transitions: {res.transitions:,}   depth: {res.depth}",
        f"wall time: {res.seconds:.2f} s   states/s: {res.states_per_second:,.0f}   peak memory: {res.peak_rss_mb:.0f} MiB",
        f"search: {'exhaustive' if res.complete else 'stopped at the state limit (not exhaustive)'}; "
        f"terminal states where every thread returned: {res.terminal_ok:,}",
        f"violated: {len(res.violations)}   reachability reached: {len(res.reached)}/"
        f"{sum(1 for p in res.properties if p.kind == 'reach')}",
        "action coverage: " + ", ".join(f"{lb.name}={res.coverage[lb.name]}" for lb in LABELS if res.coverage[lb.name]),
        "actions that never fired: " + (", ".join(never) if never else "none"),
    ]
    return lines


def print_report(res: Result, ex: Explorer, console: Console | None = None) -> None:
    console = console or Console()
    console.print(property_table(res, ex))
    for ln in summary_lines(res):
        console.print(ln, highlight=False)


_ = PROPERTIES
