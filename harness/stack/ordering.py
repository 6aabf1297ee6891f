"""Dependencies first: the start order of services, by graphlib's topological sort."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from graphlib import CycleError, TopologicalSorter


def dependencies_first(names: Sequence[str], needs: Callable[[str], Iterable[str]]) -> list[str]:
    """`names` and everything they need, each after what it needs; otherwise in the order given,
    a name's dependencies just before it (so a status lists postgres beside the registry that
    needs it). A cycle raises ValueError naming it."""
    graph: dict[str, tuple[str, ...]] = {}
    group: dict[str, int] = {}  # the first of `names` that pulls each service in
    for i, top in enumerate(names):
        pending = [top]
        while pending:
            name = pending.pop(0)
            group.setdefault(name, i)
            if name not in graph:
                graph[name] = tuple(needs(name))
                pending.extend(graph[name])
    found = {n: i for i, n in enumerate(graph)}
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ValueError(f"dependency cycle: {' -> '.join(exc.args[1])}") from None
    order: list[str] = []
    ready: set[str] = set()
    while sorter.is_active():
        ready.update(sorter.get_ready())
        first = min(ready, key=lambda n: (group[n], found[n]))  # one at a time: the earliest group first
        ready.discard(first)
        order.append(first)
        sorter.done(first)
    return order
