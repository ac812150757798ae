"""The declared dependencies: one set of version ranges, in requirements.txt and pyproject.toml alike."""

from __future__ import annotations

import pathlib
import re
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_pyproject_dependencies_are_the_requirements_ranges():
    """CI installs requirements.txt's lower bounds; pip installs nnkit by pyproject's: they must agree."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    requirements = {line.split("#")[0].strip() for line in lines}
    missing = [dependency for dependency in declared if dependency not in requirements]
    assert not missing, f"pyproject.toml declares {missing}; requirements.txt must say the same"


def test_every_requirement_has_a_lower_bound_ci_can_install():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    packages = [line for line in lines if line and not line.startswith("-")]
    unbounded = [line for line in packages if not re.match(r"^[A-Za-z0-9_.\[\]-]+>=[^,]+,<", line)]
    assert not unbounded, f"give each a range `name>=low,<high` (.ci/run tests the lows): {unbounded}"
