"""Mined lemmas as text: a lemma file carries each lemma's formula, so a proof from the file
need not explore and mine the scenario again to rebuild them.

A formula is SMT-LIB 2 over the layout's frame ``x`` (``Layout.frame``), one line each.
Nothing read here is trusted: Houdini checks every lemma from the initial state and across
every step, so a formula that is false, or means something else after a change to the spec,
is dropped and can only leave a target unproved.  A formula that does not parse against
this scenario's layout (a variable it lacks, another width) makes the whole set unusable,
and ``prove`` then mines as before.
"""

from __future__ import annotations

from collections.abc import Mapping

import z3

from ...spec.model import Model
from .layout import Layout


class BadFormulas(ValueError):
    """The formulas do not fit this scenario's layout."""


def to_text(f: z3.BoolRef) -> str:
    """``f`` in SMT-LIB on one line (z3 breaks long terms over lines; no symbol here holds a newline)."""
    return " ".join(part.strip() for part in f.sexpr().splitlines())


def parse(model: Model, texts: Mapping[str, str]) -> list[tuple[str, z3.BoolRef]]:
    """``(name, formula)`` for each text, over the variables ``Layout(model).frame("x")``
    (the ones ``lemmas.mine`` writes its lemmas over), in the order given."""
    xs = Layout(model).frame("x")
    names = list(texts)
    script = "".join(f"(assert {texts[n]})\n" for n in names)
    try:
        got = z3.parse_smt2_string(script, decls={str(x): x for x in xs})
    except z3.Z3Exception as e:
        msg = e.value.decode(errors="replace") if isinstance(e.value, bytes) else str(e.value)
        raise BadFormulas(f"a lemma's formula does not fit this scenario: {' '.join(msg.split())[:200]}") from None
    if len(got) != len(names):  # one text held two assertions, or closed its own
        raise BadFormulas(f"{len(names):,} formulas read as {len(got):,} assertions")
    return [(n, f) for n, f in zip(names, got)]
