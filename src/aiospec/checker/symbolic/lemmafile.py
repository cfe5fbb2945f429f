"""The lemma file of ``aiospec prove --lemmas``: a certificate a later run starts from.

A proof's expensive part is Houdini's search for the inductive lemmas among tens of
thousands of mined candidates (over an hour on ``default``).  Checking that a given set is
inductive is one pass.  So ``prove --lemmas FILE`` writes what survived, and
``prove --from-lemmas FILE`` starts from it: the named candidates are checked again, so a
file from an older spec, a mutant or a hand edit can never make a proof wrong; it can only
leave more unproved.

Each mined lemma's line also carries its formula, after a tab (SMT-LIB, ``formulas.py``):
then a proof from the file need not explore and mine the scenario to rebuild them.  A file
without formulas (written before they were) still reads; its lemmas are mined again by name.
"""

from __future__ import annotations

import gzip
from importlib import resources

from ...spec.scenario import builtin_names
from .formulas import to_text
from .prove import ProveReport

HEADER = "# aiospec prove lemmas, scenario: "
INDUCTIVE = "# inductive"
DROPPED = "# dropped"


class BadLemmaFile(ValueError):
    """The file is not a lemma file, or is one for another scenario."""


def write(rep: ProveReport, dropped: bool = True, minimal: bool = False) -> str:
    """The file's text; ``minimal``: only the lemmas the proof uses (``rep.needed``), when found."""
    names = rep.needed if minimal and rep.needed is not None else rep.lemmas
    return (f"{HEADER}{rep.scenario}\n{INDUCTIVE}\n" + "".join(f"{_line(rep, x)}\n" for x in dict.fromkeys(names))
            + (f"{DROPPED}\n" + "".join(f"{x}\n" for x in rep.dropped) if dropped else ""))


def _line(rep: ProveReport, name: str) -> str:
    f = rep.formulas.get(name.removeprefix("lemma: ")) if name.startswith("lemma: ") else None
    return name if f is None else f"{name}\t{to_text(f)}"


def decode(raw: bytes) -> str:
    """A lemma file's text, gzip-compressed or not (``--lemmas F.gz`` writes it compressed)."""
    if raw[:2] != b"\x1f\x8b":
        return raw.decode(errors="replace")
    try:
        return gzip.decompress(raw).decode(errors="replace")
    except (OSError, EOFError) as e:
        raise BadLemmaFile(f"not a readable gzip file: {e}") from None


def encoded(text: str, name: str) -> str | bytes:
    """What to write for a file called ``name``: compressed when it ends in ``.gz``."""
    return gzip.compress(text.encode(), mtime=0) if name.endswith(".gz") else text


def read(text: str, scenario: str) -> frozenset[str]:
    """The names of the inductive lemmas, as ``prove(only=...)`` takes them."""
    return frozenset(_entries(text, scenario))


def formulas(text: str, scenario: str) -> dict[str, str]:
    """The formulas the file gives, by lemma name, as ``prove(formulas=...)`` takes them
    (empty for a file written before lemma files carried them)."""
    return {n: f for n, f in _entries(text, scenario).items() if f}


def _entries(text: str, scenario: str) -> dict[str, str]:
    lines = text.splitlines()
    if lines and lines[0].startswith(HEADER):
        other = lines[0][len(HEADER):].strip()
        if other != scenario:
            raise BadLemmaFile(f"the lemmas are for scenario {other!r}, not {scenario!r}")
        lines = lines[1:]
    if not lines or lines[0].strip() != INDUCTIVE:
        raise BadLemmaFile(f"not a lemma file of `aiospec prove --lemmas`: it must start with {INDUCTIVE!r}")
    names: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == DROPPED:
            break
        name, _, formula = line.partition("\t")
        if name.strip():
            names[name.strip().removeprefix("lemma: ")] = formula.strip()
    if not names:
        raise BadLemmaFile("the lemma file names no inductive lemma")
    return names


def shipped(scenario: str) -> str | None:
    """The lemma file shipped with a built-in scenario (``scenarios/lemmas/NAME.lemmas.gz``),
    if there is one: where the search takes long, ``aiospec prove NAME`` checks it instead.
    Written by ``python -m aiospec.checker.symbolic.lemmafile NAME``."""
    if scenario not in builtin_names():
        return None
    res = resources.files("aiospec") / "scenarios" / "lemmas" / f"{scenario}.lemmas.gz"
    return decode(res.read_bytes()) if res.is_file() else None


def main(argv: list[str] | None = None) -> None:
    """Search the lemmas of built-in scenarios and ship the ones the proof uses (a maintainer's
    command: run it after a change to the spec makes a shipped file stale).  ``--from-shipped``
    starts from the file shipped now instead of searching (to make an existing file smaller).
    The smaller set is proved again from scratch, and shipped only if it proves every target
    the search proved."""
    import argparse
    from pathlib import Path

    from ...spec.model import Model
    from ...spec.scenario import ScenarioError, load
    from .houdini import default_jobs
    from .prove import prove

    ap = argparse.ArgumentParser(prog="python -m aiospec.checker.symbolic.lemmafile")
    ap.add_argument("names", nargs="+", metavar="SCENARIO")
    ap.add_argument("--from-shipped", action="store_true")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "scenarios" / "lemmas",
                    help="the folder to write NAME.lemmas.gz to (default: the package's, where they ship)")
    args = ap.parse_args(argv)
    try:
        jobs = default_jobs()
    except ValueError as e:
        ap.error(str(e))
    for name in args.names:
        try:
            model = Model(load(name))
        except ScenarioError as e:
            ap.error(str(e))
        say = (lambda m, n=name: print(f"{n}: {m}", flush=True))
        text = shipped(name) if args.from_shipped else None
        rep = prove(model, progress=say, minimize=True, only=read(text, name) if text else None,
                    formulas=formulas(text, name) if text else None, jobs=jobs)
        print(f"{name}: {rep.needed_note}", flush=True)
        out = write(rep, dropped=False, minimal=True)
        if rep.needed is not None:  # checked again from scratch, as a later run will: from the file's text
            again = prove(model, progress=say, only=read(out, name), formulas=formulas(out, name), jobs=jobs)
            verdicts = [(r.prop, r.result) for r in rep.results]
            if again.dropped or [(r.prop, r.result) for r in again.results] != verdicts:
                raise SystemExit(f"{name}: the smaller set does not prove what the whole did; nothing written")
        (args.out / f"{name}.lemmas.gz").write_bytes(gzip.compress(out.encode(), mtime=0))
        print(f"{name}: {len(rep.needed or rep.lemmas):,} lemmas shipped; "
              + ", ".join(f"{r.prop} {r.result}" for r in rep.results), flush=True)


if __name__ == "__main__":
    main()
