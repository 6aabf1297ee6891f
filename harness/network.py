"""A small client of Toxiproxy's HTTP API: the network between the platform and its infrastructure.

In profile `faultable` each link (kafka, schema-registry, object-store) is a toxiproxy proxy of
that name. A link is degraded by toxics (latency, resets, timeouts, bandwidth) and cut by
disabling its proxy: toxiproxy then closes every connection and refuses new ones, a partition
the platform sees at once rather than after a TCP timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import httpx

Link = Literal["kafka", "schema-registry", "object-store"]
LINKS: tuple[Link, ...] = get_args(Link)
Stream = Literal["upstream", "downstream"]
"""upstream: client -> service; downstream: service -> client (the answers)."""


class ToxiproxyError(RuntimeError):
    """Toxiproxy refused a request; the message has its method, path, status and answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, int]

    @staticmethod
    def from_json(data: dict[str, Any]) -> Toxic:
        return Toxic(
            name=data["name"],
            type=data["type"],
            stream=data["stream"],
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...]

    @staticmethod
    def from_json(data: dict[str, Any]) -> Proxy:
        return Proxy(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or ()),
        )


def check_link(link: str) -> Link:
    if link not in LINKS:
        raise ValueError(f"unknown link {link!r}; the links through toxiproxy are {', '.join(LINKS)}")
    return link


class Toxiproxy:
    def __init__(self, url: str, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, transport=transport)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            r = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"toxiproxy {method} {path}: {type(exc).__name__}: {exc}") from exc
        if r.status_code >= 300:
            raise ToxiproxyError(
                f"toxiproxy {method} {path} answered {r.status_code}: {r.text.strip()[:300]}", r.status_code
            )
        return r.json() if r.content else None

    def version(self) -> str:
        r = self.http.get("/version")
        r.raise_for_status()
        return r.text.strip()

    def proxies(self) -> dict[str, Proxy]:
        return {name: Proxy.from_json(p) for name, p in self._call("GET", "/proxies").items()}

    def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(self._call("GET", f"/proxies/{name}"))

    def add_toxic(
        self,
        proxy: str,
        type: str,
        attributes: dict[str, int],
        name: str | None = None,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
    ) -> Toxic:
        """A toxic on one direction of the proxy; `toxicity` is the share of connections it hits."""
        body = {
            "name": name or f"{type}_{stream}",
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        return Toxic.from_json(self._call("POST", f"/proxies/{proxy}/toxics", body))

    def latency(
        self, proxy: str, ms: int, jitter_ms: int = 0, name: str | None = None, stream: Stream = "downstream"
    ) -> Toxic:
        """Every chunk of data waits `ms` ± `jitter_ms` before it passes."""
        return self.add_toxic(proxy, "latency", {"latency": ms, "jitter": jitter_ms}, name, stream)

    def reset_peer(
        self, proxy: str, after_ms: int = 0, name: str | None = None, stream: Stream = "downstream"
    ) -> Toxic:
        """Connections are reset (TCP RST) when data arrives, after `after_ms`."""
        return self.add_toxic(proxy, "reset_peer", {"timeout": after_ms}, name, stream)

    def timeout(self, proxy: str, ms: int = 0, name: str | None = None, stream: Stream = "downstream") -> Toxic:
        """Data stops passing; connections close after `ms` (0: never, a black hole)."""
        return self.add_toxic(proxy, "timeout", {"timeout": ms}, name, stream)

    def bandwidth(self, proxy: str, kb_per_s: int, name: str | None = None, stream: Stream = "downstream") -> Toxic:
        return self.add_toxic(proxy, "bandwidth", {"rate": kb_per_s}, name, stream)

    def remove_toxic(self, proxy: str, name: str, missing_ok: bool = True) -> None:
        """Remove a toxic; one that is not there (toxiproxy was reset meanwhile) is no error unless
        `missing_ok` is false. A missing proxy always is."""
        try:
            self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")
        except ToxiproxyError as exc:
            if exc.status is None:  # no answer: the removal hangs (below)
                self._remove_stuck_toxic(proxy, name, exc)
            elif not (missing_ok and exc.status == 404 and "toxic not found" in str(exc)):
                raise

    def _remove_stuck_toxic(self, proxy: str, name: str, first: ToxiproxyError) -> None:
        """Toxiproxy can hang removing a latency toxic from a link whose client died mid-stream
        (Shopify/toxiproxy#558, open in 2.12): the removal waits on that link. Cutting the proxy's
        connections ends the link, and the removal goes through; clients reconnect as after any
        dropped connection. The toxic must be gone afterwards, or the first error stands."""
        self.disable(proxy)
        self.enable(proxy)
        if any(t.name == name for t in self.proxy(proxy).toxics):
            try:
                self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")
            except ToxiproxyError as exc:
                raise ToxiproxyError(f"{first}; and again after cutting the proxy's connections: {exc}") from exc

    def set_enabled(self, proxy: str, enabled: bool) -> Proxy:
        return Proxy.from_json(self._call("PATCH", f"/proxies/{proxy}", {"enabled": enabled}))

    def disable(self, proxy: str) -> Proxy:
        """Cut the link: every connection closes and the listen port refuses new ones."""
        return self.set_enabled(proxy, False)

    def enable(self, proxy: str) -> Proxy:
        return self.set_enabled(proxy, True)

    def reset(self) -> None:
        """Every proxy enabled, every toxic removed."""
        self._call("POST", "/reset")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Toxiproxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
