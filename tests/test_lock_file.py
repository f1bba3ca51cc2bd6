"""The lock files pin every dependency pyproject.toml declares, at a version its bounds allow, so CI
and the Docker image install what the bounds promise. Regenerate with scripts/lock-deps.sh."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def pins(lock: str) -> dict[str, str]:
    out = {}
    for line in (ROOT / lock).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            out[canonicalize_name(name.strip())] = version.split(";")[0].strip()
    return out


def declared(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", ("teams",)),
                                              ("requirements-test.lock", ("teams", "test"))])
def test_every_declared_dependency_is_pinned_within_its_bounds(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    problems = []
    for requirement in declared(*extras):
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    assert not problems, f"{lock} is stale ({'; '.join(problems)}): run scripts/lock-deps.sh"
