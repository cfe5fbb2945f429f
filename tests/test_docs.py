"""The generated parts of the documentation match the spec definition."""

from pathlib import Path

from aiospec.spec.actions import LABELS
from aiospec.spec.doc import BEGIN, END, spec_markdown, update_doc
from aiospec.spec.properties import PROPERTIES
from aiospec.spec.variables import ALL_VARS

ROOT = Path(__file__).resolve().parents[1]


def test_spec_md_tables_are_current():
    text = (ROOT / "docs" / "spec.md").read_text()
    assert BEGIN in text and END in text
    assert update_doc(text) == text, "run: aiospec spec --update docs/spec.md"


def test_generated_tables_cover_every_label_variable_and_property():
    md = spec_markdown()
    for lb in LABELS:
        assert f"| `{lb.name}` |" in md
        assert lb.c_function in md
    for v in ALL_VARS:
        assert f"| `{v.attr}` |" in md
    for p in PROPERTIES:
        assert f"| `{p.name}` |" in md


def test_every_label_names_its_c_function_and_lines():
    for lb in LABELS:
        assert lb.c_function and lb.lines.startswith("L"), lb.name
        assert lb.guard and lb.effect, lb.name


def test_property_findings_name_entries_of_findings_md():
    """A property tagged as violated by the seed points at findings that docs/findings.md explains."""
    import re
    from pathlib import Path

    from aiospec.reference.tracecheck import SEED_FINDINGS
    from aiospec.spec.properties import PROPERTIES

    text = (Path(__file__).parent.parent / "docs" / "findings.md").read_text()
    headings = set(re.findall(r"^## (F\d+)\.", text, re.M))
    tagged = [p for p in PROPERTIES if p.findings]
    assert tagged and {p.name for p in tagged} == SEED_FINDINGS
    for p in tagged:
        for f in p.findings:
            assert f in headings, (p.name, f)
