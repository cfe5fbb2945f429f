"""The lemma file of ``aiospec prove --lemmas``: a certificate a later run starts from.

A proof's expensive part is Houdini's search for the inductive lemmas among tens of
thousands of mined candidates (over an hour on ``default``).  Checking that a given set is
inductive is one pass.  So ``prove --lemmas FILE`` writes what survived, and
``prove --from-lemmas FILE`` starts from it: the named candidates are mined again and
checked again, so a file from an older spec, a mutant or a hand edit can never make a
proof wrong; it can only leave more unproved.
"""

from __future__ import annotations

from .prove import ProveReport

HEADER = "# aiospec prove lemmas, scenario: "
INDUCTIVE = "# inductive"
DROPPED = "# dropped"


class BadLemmaFile(ValueError):
    """The file is not a lemma file, or is one for another scenario."""


def write(rep: ProveReport) -> str:
    return (f"{HEADER}{rep.scenario}\n{INDUCTIVE}\n" + "".join(f"{x}\n" for x in rep.lemmas)
            + f"{DROPPED}\n" + "".join(f"{x}\n" for x in rep.dropped))


def read(text: str, scenario: str) -> frozenset[str]:
    """The names of the inductive lemmas, as ``prove(only=...)`` takes them."""
    lines = text.splitlines()
    if lines and lines[0].startswith(HEADER):
        other = lines[0][len(HEADER):].strip()
        if other != scenario:
            raise BadLemmaFile(f"the lemmas are for scenario {other!r}, not {scenario!r}")
        lines = lines[1:]
    if not lines or lines[0].strip() != INDUCTIVE:
        raise BadLemmaFile(f"not a lemma file of `aiospec prove --lemmas`: it must start with {INDUCTIVE!r}")
    names = []
    for line in lines[1:]:
        if line.strip() == DROPPED:
            break
        if line.strip():
            names.append(line.strip().removeprefix("lemma: "))
    if not names:
        raise BadLemmaFile("the lemma file names no inductive lemma")
    return frozenset(names)
