"""Reports: JUnit XML for CI dashboards, Markdown for docs and reviews."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from .runner import summary
from .verdict import RELAXATIONS, Verdict

_FAIL = ("deviation", "flaky", "timeout", "crash")


def junit_xml(verdicts: list[Verdict], impl: str, profile: str) -> str:
    """One testsuite, one testcase per scenario: deviation / flaky / timeout / crash are
    failures (the implementation's), "error" is an error (the harness's), "skipped" skipped."""
    suite = ET.Element("testsuite", name=f"aiospec-conform.{impl}.{profile}", tests=str(len(verdicts)),
                       failures=str(sum(v.kind in _FAIL for v in verdicts)),
                       errors=str(sum(v.kind == "error" for v in verdicts)),
                       skipped=str(sum(v.kind == "skipped" for v in verdicts)),
                       time=f"{sum(v.seconds for v in verdicts):.3f}")
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"conform.{impl}.{profile}", name=v.scenario,
                             time=f"{v.seconds:.3f}")
        if v.kind in _FAIL:
            ET.SubElement(case, "failure", type=v.kind, message=v.detail).text = v.explanation or v.detail
        elif v.kind == "error":
            ET.SubElement(case, "error", type="error", message=v.detail).text = v.explanation or v.detail
        elif v.kind == "skipped":
            ET.SubElement(case, "skipped", message=v.detail)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(verdicts: list[Verdict], impl: str, profile: str, runs: int = 1) -> str:
    """A results table and, for every scenario that did not pass, the explanation."""
    counts = ", ".join(f"{n} {k}" for k, n in summary(verdicts).items())
    lines = [f"## `{impl}` under the `{profile}` profile", "",
             f"{len(verdicts)} scenarios, {runs} run(s) each: {counts}.", "",
             "| scenario | verdict | detail |", "|---|---|---|"]
    lines += [f"| `{v.scenario}` | {v.kind} | {_cell(v.detail)} |" for v in verdicts]
    bad = [v for v in verdicts if v.kind not in ("pass", "skipped")]
    if bad:
        lines += ["", "### Details", ""]
        for v in bad:
            lines += [f"**`{v.scenario}`** ({v.kind})", "", "```", v.explanation or v.detail, "```", ""]
    if profile != "freebsd":
        lines += ["", "Relaxations of this profile:", ""] + [f"- `{k}`: {d}" for k, d in RELAXATIONS.items()]
    return "\n".join(lines).rstrip() + "\n"
