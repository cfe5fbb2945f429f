"""Options more than one command takes (kept apart so that every command module can import them)."""

from __future__ import annotations

import click


def _repeats(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    """``--repeat T=3`` (repeatable) as {thread name: copies}; the loader checks the rest."""
    got: dict[str, int] = {}
    for v in values:
        name, eq, n = v.partition("=")
        if not eq or not name.strip() or not n.strip().isdigit():
            raise click.BadParameter(f"want THREAD=N (a thread's name and a number of copies), got {v!r}")
        got[name.strip()] = int(n)
    return got


repeat_option = click.option(
    "--repeat", "repeat", multiple=True, callback=_repeats, metavar="THREAD=N",
    help="Check a family at this size: N copies of THREAD, each with its own aiocbs (what `repeat = N` on the "
         "thread in the file does).  Repeatable.")


progress_option = click.option(
    "--progress/--no-progress", default=True,
    help="Show progress on stderr (a status line on a terminal, timestamped lines otherwise).")
