"""Faults a scenario injects into the stack: each one recorded in the history, each one healed.

A fault registers its heal when it is injected, so the heal runs even when a later step fails:
`heal_all()` runs after every scenario (see harness.session). A step that ends a fault on
purpose ("the object store starts again") calls `heal(...)` for it.

Network faults (delay, reset_connections, partition) act on the platform's links to kafka, the
schema registry and the object store, through toxiproxy (profile `faultable`); the suite's own
probes reach the services directly and are not affected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.history import History
from harness.network import Toxiproxy, check_link
from harness.stack.driver import StackDriver

# toxics the suite adds, one of a kind per link, so that a heal removes exactly its own
DELAY_TOXIC = "k2-delay"
DELAY_TOXIC_UPSTREAM = "k2-delay-upstream"
RESET_TOXIC = "k2-reset"


class FaultError(RuntimeError):
    """A fault cannot be injected here; the message says why and what would allow it."""


@dataclass
class Faults:
    driver: StackDriver
    history: History
    default_profile: str = "full"
    """What a stopped stack comes back as when the driver cannot say which profile ran."""
    pending: dict[str, Callable[[], object]] = field(default_factory=dict)
    crashed: set[str] = field(default_factory=set)
    """Services this scenario crashed on purpose: their restart by the supervisor is expected."""
    network: Toxiproxy | None = None
    """Toxiproxy's API, found through the driver's endpoints on the first network fault."""

    def _inject(self, name: str, act: Callable[[], object], heal: Callable[[], object], **detail: object) -> None:
        self.pending[name] = heal  # first: if `act` fails halfway, the heal still runs
        self.history.fault(name, **detail)
        act()

    def stop(self, service: str) -> None:
        self._inject(
            f"{service} stopped", lambda: self.driver.stop(service), lambda: self.driver.start(service), service=service
        )

    def crash(self, service: str) -> None:
        """SIGKILL, like a crash. The heal makes sure it runs again (the supervisor may have
        restarted it already; starting a running service is a no-op)."""
        self.crashed.add(service)
        self._inject(
            f"{service} crashed", lambda: self.driver.kill(service), lambda: self.driver.start(service), service=service
        )

    def crash_and_stay_down(self, service: str) -> None:
        """SIGKILL, and nothing starts it again until the heal: a machine that is gone."""
        self._inject(
            f"{service} crashed",
            lambda: self.driver.kill(service, stay_down=True),
            lambda: self.driver.start(service),
            service=service,
        )

    def pause(self, service: str) -> None:
        self._inject(
            f"{service} paused",
            lambda: self.driver.pause(service),
            lambda: self.driver.resume(service),
            service=service,
        )

    def restart(self, service: str) -> None:
        """Stop and start: the fault heals itself; recorded as both, in order."""
        self._inject(
            f"{service} restarted",
            lambda: self.driver.restart(service),
            lambda: self.driver.start(service),
            service=service,
        )
        self.heal(f"{service} restarted")

    def stop_stack(self) -> None:
        """The whole stack down; the heal brings back the profile that ran (faultable stays faultable)."""
        running = self.driver.status(resources=False).profile or self.default_profile
        self._inject("stack stopped", self.driver.down, lambda: self.driver.up(running), profile=running)

    def _toxiproxy(self) -> Toxiproxy:
        if self.network is None:
            endpoints = self.driver.endpoints()
            if not endpoints.has("toxiproxy"):
                raise FaultError(
                    f"network faults need the links through toxiproxy of profile faultable; "
                    f"this stack runs profile {self.driver.status(resources=False).profile or 'unknown'}"
                )
            self.network = Toxiproxy(endpoints.toxiproxy.url)
        return self.network

    def _inject_network(
        self, name: str, act: Callable[[Toxiproxy], object], heal: Callable[[Toxiproxy], object], **detail: object
    ) -> None:
        if name in self.pending:  # a second one would replace the first's heal, and toxiproxy refuses it
            raise FaultError(f"'{name}' is already in force; heal it first")
        toxiproxy = self._toxiproxy()
        self._inject(name, lambda: act(toxiproxy), lambda: heal(toxiproxy), **detail)

    def delay(self, link: str, ms: int, jitter_ms: int = 0) -> None:
        """Data on the link takes `ms` (± `jitter_ms`) longer each way: a slow network, nothing lost.
        Both ways, because a request delayed only on its way back has already taken effect: a
        consumer's offset commit would land at once and only its answer be late."""
        check_link(link)

        def act(t: Toxiproxy) -> None:
            t.latency(link, ms, jitter_ms, name=DELAY_TOXIC, stream="downstream")
            t.latency(link, ms, jitter_ms, name=DELAY_TOXIC_UPSTREAM, stream="upstream")

        def heal(t: Toxiproxy) -> None:
            t.remove_toxic(link, DELAY_TOXIC_UPSTREAM)
            t.remove_toxic(link, DELAY_TOXIC)

        self._inject_network(f"link to {link} delayed", act, heal, link=link, ms=ms, jitter_ms=jitter_ms)

    def reset_connections(self, link: str) -> None:
        """Every connection on the link is reset (TCP RST) as soon as the service answers: the
        request may have been done, its answer never arrives."""
        check_link(link)
        self._inject_network(
            f"link to {link} resets connections",
            lambda t: t.reset_peer(link, name=RESET_TOXIC),
            lambda t: t.remove_toxic(link, RESET_TOXIC),
            link=link,
        )

    def partition(self, link: str) -> None:
        """The link is cut: open connections close and new ones are refused, until healed."""
        check_link(link)
        self._inject_network(
            f"link to {link} partitioned", lambda t: t.disable(link), lambda t: t.enable(link), link=link
        )

    def isolate(self, broker: str, proxies: list[str]) -> None:
        """A node of the cluster cut off from the others: every direction between it and them
        (`proxies`) is cut, while clients still reach it."""

        def act(t: Toxiproxy) -> None:
            for name in proxies:
                t.disable(name)

        def heal(t: Toxiproxy) -> None:
            for name in proxies:
                t.enable(name)

        self._inject_network(f"{broker} cut off from the other brokers", act, heal, broker=broker, links=len(proxies))

    def heal_link(self, link: str) -> None:
        """End every open network fault of one link ("the network to the message broker recovers")."""
        self._heal_named(f"link to {check_link(link)} ", f"the link to {link}")

    def heal(self, name: str) -> None:
        heal = self.pending.pop(name)
        heal()
        self.history.heal(name)

    def heal_service(self, service: str) -> None:
        """End every open fault of one service ("the message broker starts again")."""
        self._heal_named(f"{service} ", f"{service} to end")

    def _heal_named(self, prefix: str, what: str) -> None:
        """Heal every open fault whose name starts with `prefix`, newest first."""
        names = [n for n in self.pending if n.startswith(prefix)]
        if not names:
            raise KeyError(f"no open fault of {what}; open: {', '.join(self.pending) or 'none'}")
        for name in reversed(names):
            self.heal(name)

    def heal_all(self) -> list[str]:
        """Heal every fault still open, newest first; returns the heals that failed (and why)."""
        errors = []
        for name in reversed(list(self.pending)):
            try:
                self.heal(name)
            except Exception as exc:  # every heal is tried; the errors are reported
                self.pending.pop(name, None)
                errors.append(f"healing '{name}' failed: {exc}")
        return errors
