"""Every service the stack can run, and the profiles that group them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.stack.service import ServiceSpec
from harness.stack.services import kafka, object_store, platform, postgres, schema_registry

SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec for spec in (postgres.SPEC, object_store.SPEC, kafka.SPEC, schema_registry.SPEC, *platform.SPECS)
}

INFRA = ("kafka", "schema-registry", "object-store", "postgres")
PROFILES: dict[str, tuple[str, ...]] = {
    "infra": INFRA,
    "full": (*INFRA, "exchange", "ingest", "consumer", "api"),
}

# Declared so that `--profile faultable` gives a clear answer instead of "unknown profile".
PLANNED_PROFILES = {
    "faultable": "full behind toxiproxy (not built yet)",
}


class ProfileError(ValueError):
    pass


def profile_services(profile: str) -> tuple[str, ...]:
    if profile in PROFILES:
        return PROFILES[profile]
    if profile in PLANNED_PROFILES:
        raise ProfileError(f"profile {profile!r} is not available yet: {PLANNED_PROFILES[profile]}; "
                           f"use one of {', '.join(PROFILES)}")
    raise ProfileError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")


def start_order(names: Sequence[str], specs: Mapping[str, ServiceSpec] = SERVICES) -> list[str]:
    """Dependencies first (a topological order); a cycle or an unknown service is an error."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"dependency cycle: {' -> '.join((*path, name))}")
        if name not in specs:
            raise ValueError(f"unknown service {name!r}")
        visiting.add(name)
        for dep in specs[name].depends_on:
            visit(dep, (*path, name))
        visiting.discard(name)
        order.append(name)

    for n in names:  # in the order given (profiles list infrastructure first), dependencies before each
        visit(n, ())
    return order
