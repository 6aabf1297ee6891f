"""The query API as a client sees it: authenticated httpx calls."""

from __future__ import annotations

from typing import Any

import httpx

PAGE = 10000  # the contract's largest limit


class ApiProbe:
    def __init__(self, url: str, api_key: str, header: str = "X-API-Key", timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), headers={header: api_key}, timeout=timeout)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={k: v for k, v in params.items() if v is not None})

    def trades(self, symbol: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """Every trade the API serves for the filters, following its pagination."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            r = self.get("/v1/trades", symbol=symbol, limit=PAGE, offset=offset, **params)
            if r.status_code != 200:
                raise AssertionError(f"GET /v1/trades answered {r.status_code}: {r.text[:300]}")
            body = r.json()
            out.extend(body["data"])
            if not body["pagination"]["has_more"] or not body["data"]:
                return out
            offset += len(body["data"])

    def close(self) -> None:
        self.http.close()


# How a client may ask for trades, in the words of the feature files.
REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "without an API key": ("none", {}),
    "with a wrong API key": ("wrong", {}),
    "with a limit of 0": ("right", {"limit": 0}),
    "with a limit of 10001": ("right", {"limit": 10001}),
    "with a malformed start time": ("right", {"start_time": "yesterday-ish"}),
    "with an end time before its start time": ("right", {"start_time": "2026-01-02T00:00:00Z",
                                                         "end_time": "2026-01-01T00:00:00Z"}),
    "with a valid key and limit": ("right", {"limit": 5}),
}


def answer_to(url: str, api_key: str, how: str, header: str = "X-API-Key", path: str = "/v1/trades") -> httpx.Response:
    """The API's answer to a trades request made `how` (a key of REQUESTS)."""
    if how not in REQUESTS:
        raise AssertionError(f"no such request {how!r}; known: {', '.join(REQUESTS)}")
    key, params = REQUESTS[how]
    headers = {} if key == "none" else {header: api_key if key == "right" else api_key + "-wrong"}
    return httpx.get(url.rstrip("/") + path, params=params, headers=headers, timeout=30)


def health(url: str) -> dict[str, Any]:
    """What the API says about itself: /health (code and status), /health/ready and /health/live codes."""
    base = url.rstrip("/")
    with httpx.Client(timeout=10) as http:
        h = http.get(base + "/health")
        return {"health": h.status_code, "status": h.json().get("status"),
                "ready": http.get(base + "/health/ready").status_code,
                "live": http.get(base + "/health/live").status_code}
