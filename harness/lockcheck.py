"""`python -m harness.lockcheck`: pyproject.toml's dependency groups and requirements.txt's pins agree.

pyproject.toml says which packages each use needs and which versions the code is written against;
requirements.txt pins the versions CI runs. Every package of a group must be pinned, at a version
inside its range, so that `pip install .[suite]` and `make setup` cannot drift apart unseen.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def pins(text: str) -> dict[str, Version]:
    """name -> version of every `name==version` line (extras and comments ignored)."""
    out: dict[str, Version] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line.split(";", 1)[0].rstrip("\\").strip())
        exact = [s for s in req.specifier if s.operator == "=="]
        if exact:
            out[canonicalize_name(req.name)] = Version(exact[0].version)
    return out


def problems(groups: Mapping[str, list[str]], project: str, pinned: Mapping[str, Version]) -> list[str]:
    found = []
    for group, requirements in groups.items():
        for raw in requirements:
            req = Requirement(raw)
            name = canonicalize_name(req.name)
            if name == canonicalize_name(project):
                continue  # a group that includes another
            if name not in pinned:
                found.append(f"[{group}] {req.name}: not pinned in requirements.txt")
            elif req.specifier and pinned[name] not in req.specifier:
                found.append(f"[{group}] {req.name}{req.specifier}: requirements.txt pins {pinned[name]}")
    return found


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m harness.lockcheck", description=__doc__).parse_args(argv)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = problems(
        project.get("optional-dependencies", {}), project["name"], pins((REPO / "requirements.txt").read_text())
    )
    for line in found:
        print(f"lockcheck: {line}", file=sys.stderr)
    if not found:
        print("lockcheck: every package of pyproject.toml's groups is pinned in requirements.txt, inside its range")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
