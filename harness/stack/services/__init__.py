"""Every service the stack can run, and the profiles that group them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.stack.ordering import dependencies_first
from harness.stack.service import ServiceSpec
from harness.stack.services import kafka, object_store, platform, postgres, schema_registry, toxiproxy

_CLUSTER_PLATFORM = {s.name: s for s in platform.specs(topology=platform.CLUSTERED)}
SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        postgres.SPEC,
        object_store.SPEC,
        kafka.SPEC,
        schema_registry.SPEC,
        toxiproxy.SPEC,
        *platform.SPECS,
        *kafka.CLUSTER_SPECS,
        *(_CLUSTER_PLATFORM[c] for c in platform.CONSUMERS if c in _CLUSTER_PLATFORM),
    )
}
"""Each service as it runs outside `faultable` and `cluster` (and the names `stack logs`, `stack kill` know)."""

CLUSTER_ONLY = (*kafka.CLUSTER, *platform.CONSUMERS)
"""Services only profile `cluster` runs (the local driver's alone; compose has no such profile)."""

INFRA = ("kafka", "schema-registry", "object-store", "postgres")
FULL = (*INFRA, "exchange", "ingest", "consumer", "api")
PROFILES: dict[str, tuple[str, ...]] = {
    "infra": INFRA,
    "full": FULL,
    "faultable": (*INFRA, toxiproxy.NAME, *FULL[len(INFRA) :]),
    # three Kafka nodes in one quorum, two consumers in one group; the rest as in `full`
    "cluster": (toxiproxy.NAME, *kafka.CLUSTER, *INFRA[1:], "exchange", "ingest", *platform.CONSUMERS, "api"),
}

# Profiles named before they are built, so that `--profile X` can say so (none at present).
PLANNED_PROFILES: dict[str, str] = {}

# In `faultable` the platform's services reach kafka, the registry and the object store through
# toxiproxy: the same services with other endpoints, and toxiproxy as one more dependency.
_FAULTABLE_SERVICES: dict[str, ServiceSpec] = {**SERVICES, **{s.name: s for s in platform.specs(via_proxy=True)}}


class ProfileError(ValueError):
    pass


def profile_services(profile: str) -> tuple[str, ...]:
    if profile in PROFILES:
        return PROFILES[profile]
    if profile in PLANNED_PROFILES:
        raise ProfileError(
            f"profile {profile!r} is not available yet: {PLANNED_PROFILES[profile]}; use one of {', '.join(PROFILES)}"
        )
    raise ProfileError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")


# In `cluster` the platform bootstraps on every node and creates its topics with three replicas.
_CLUSTER_SERVICES: dict[str, ServiceSpec] = {**SERVICES, **_CLUSTER_PLATFORM, toxiproxy.NAME: toxiproxy.CLUSTER_SPEC}


def services_for(profile: str | None) -> Mapping[str, ServiceSpec]:
    """The specs a stack of this profile runs (its services' endpoints and dependencies)."""
    if profile == "cluster":
        return _CLUSTER_SERVICES
    return _FAULTABLE_SERVICES if profile is not None and toxiproxy.NAME in PROFILES.get(profile, ()) else SERVICES


def kafka_nodes(profile: str | None) -> tuple[str, ...]:
    """The Kafka nodes a stack of this profile runs (clients bootstrap on all of them)."""
    return kafka.CLUSTER if profile == "cluster" else (kafka.NAME,)


def start_order(names: Sequence[str], specs: Mapping[str, ServiceSpec] = SERVICES) -> list[str]:
    """Dependencies first (a topological order); a cycle or an unknown service is an error."""

    def needs(name: str) -> tuple[str, ...]:
        if name not in specs:
            raise ValueError(f"unknown service {name!r}")
        return specs[name].depends_on

    return dependencies_first(names, needs)
