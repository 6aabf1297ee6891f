"""The correlation id of the request being served, readable from any layer (logs, envelopes).

A context variable, not request.state: sync endpoints run in a worker thread and exception
handlers outside the route, and Starlette copies the context into both.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Correlation-ID"
# What we accept from a client: echoing arbitrary bytes into headers and logs invites injection.
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="-")


def accept_or_generate(given: str | None) -> str:
    """The client's id when it is a sane token, else a fresh UUID."""
    if given is not None and _SAFE.match(given):
        return given
    return str(uuid.uuid4())
