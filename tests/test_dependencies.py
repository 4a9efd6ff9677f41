"""The floors pyproject.toml declares are the versions CI's oldest run installs (.ci/oldest.txt)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]


def floors() -> dict[str, str]:
    """Each dependency of pyproject.toml (run-time and the test extra) with its `>=` floor."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for spec in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec.strip()).groups()
        out[name.lower()] = floor
    return out


def pins() -> dict[str, str]:
    """The `name==version` lines of .ci/oldest.txt (comments and blanks left out)."""
    out = {}
    for line in (ROOT / ".ci" / "oldest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9.]+)", line).groups()
            out[name.lower()] = version
    return out


def _release(version: str) -> tuple[int, ...]:
    """'1.26' as (1, 26, 0): a floor and a pin compare with missing parts taken as 0."""
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_every_dependency_is_pinned_at_its_floor() -> None:
    declared, pinned = floors(), pins()
    assert set(declared) == set(pinned), "pyproject.toml and .ci/oldest.txt name different packages"
    wrong = {n: (declared[n], pinned[n]) for n in declared if _release(declared[n]) != _release(pinned[n])}
    assert not wrong, f"floor in pyproject.toml vs pin in .ci/oldest.txt: {wrong}"


def test_release_pads_missing_parts() -> None:
    assert _release("1.26") == _release("1.26.0") != _release("1.26.4")
