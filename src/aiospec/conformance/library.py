"""The conformance scenarios: small named scenarios in the spec's TOML format.

They live in ``aiospec/conformance/scenarios/`` and are kept small on purpose: the spec enumerates
every observation of each one (``allowed_observations``) in well under a second, so a whole
suite is judged in seconds.  ``load_scenario`` also accepts a built-in checker scenario name or a
TOML file, so any scenario can be run as a conformance test.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..spec.scenario import Scenario, ScenarioError, builtin_names, load, load_text


def _dir():
    return resources.files("aiospec.conformance") / "scenarios"


def scenario_names() -> list[str]:
    """Every conformance scenario, by name (the file name without ``.toml``)."""
    return sorted(f.name[:-5] for f in _dir().iterdir() if f.name.endswith(".toml"))


def load_scenario(name: str) -> Scenario:
    """A conformance scenario by name, else a checker built-in, else a TOML file path.

    Raises ``ScenarioError`` naming the known conformance scenarios for anything else.
    """
    if name in scenario_names():
        return load_text((_dir() / f"{name}.toml").read_text(), f"{name}.toml")
    if name in builtin_names() or Path(name).exists():
        return load(name)
    raise ScenarioError(name, None, "no such conformance scenario, built-in scenario or file; conformance "
                                    f"scenarios: {', '.join(scenario_names())}")
