"""Does the query API answer as its own OpenAPI document says?

The document is fetched from the API (`/openapi.json`), never taken from the platform's code, so
the same check verifies any K2 deployment. Each response is validated against the schema that
the document gives for its operation, status code and media type, with JSON Schema Draft 2020-12
(the dialect of OpenAPI 3.1; a 3.0 document's `nullable` is not understood). `$ref`s resolve
against the whole document, so `#/components/schemas/...` works as it does for any client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any
from urllib.parse import urlencode

import httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from harness.checks import Verdict
from harness.checks.verdict import EXAMPLES
from harness.targets import Target

# The document's name in the registry: every `#/...` inside it resolves against the document itself.
SPEC_URI = "urn:k2:openapi"
LINE_CHARS = 300  # a message quotes the offending value, which can be a whole trade

# A request of `check_routes` is (path, query parameters). This reserved parameter, never sent, asks
# for the request to go without the key (MISSING) or with a wrong one (WRONG): the 401/403 bodies
# belong to the document too. Real query parameter names never start with "@".
KEY_PARAM = "@api-key"
MISSING = "missing"
WRONG = "wrong"


def requests_for(target: Target) -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every GET route the profile names, plus bad requests whose error bodies must match the
    document as well. Times span any plausible trade."""
    api, symbol = target.api, target.symbols[0]
    trades, over = api["trades"], api["max_limit"] + 1
    health: list[tuple[str, dict[str, Any]]] = [(api[k], {}) for k in ("health", "health_live", "health_ready")]
    return (
        *health,
        ("/metrics", {}),
        (trades, {"symbol": symbol, "limit": 10}),
        (trades, {"start_time": "2000-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z", "limit": 10}),
        (api["symbols"], {}),
        (api["symbols"], {"exchange": target.exchange}),
        (api["stats"], {}),
        (api["snapshots"], {"limit": 5}),
        (trades, {KEY_PARAM: MISSING}),
        (api["stats"], {KEY_PARAM: WRONG}),
        (trades, {"limit": 0}),
        (trades, {"limit": over}),
        (trades, {"start_time": "not-a-time"}),
        (trades, {"start_time": "2024-03-02T00:00:00Z", "end_time": "2024-03-01T00:00:00Z"}),
        (api["snapshots"], {"limit": 0}),
    )


def load(api_url: str, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """The API's own OpenAPI document."""
    with httpx.Client(timeout=timeout, transport=transport) as http:
        response = http.get(api_url.rstrip("/") + "/openapi.json")
    if response.status_code != 200:
        raise AssertionError(f"GET /openapi.json answered {response.status_code}: {response.text[:300]}")
    spec = response.json()
    if not isinstance(spec, dict) or not str(spec.get("openapi", "")).startswith("3."):
        raise AssertionError(f"GET /openapi.json is not an OpenAPI 3.x document: {response.text[:300]}")
    return spec


def violations(
    spec: Mapping[str, Any],
    method: str,
    path_template: str,
    status: int,
    body: Any,
    media_type: str = "application/json",
) -> list[str]:
    """Where `body` breaks the document's response schema, one line each, at most EXAMPLES lines.

    An operation, status code or media type the document does not declare is itself a violation.
    """
    prefix = f"{method.upper()} {path_template} {status}: "
    _, problems = _problems(spec, method, path_template, status, body, media_type)
    return [prefix + p for p in islice(problems, EXAMPLES)]


def check_routes(
    api_url: str,
    api_key: str,
    header: str,
    requests: Sequence[tuple[str, Mapping[str, Any]]],
    transport: httpx.BaseTransport | None = None,
) -> Verdict:
    """GET each (path, params) with the key and validate status and body against the API's document.

    `transport` lets tests answer in place of a server (httpx.MockTransport).
    """
    spec = load(api_url, transport=transport)
    lines: list[str] = []
    validated = 0
    with httpx.Client(base_url=api_url.rstrip("/"), timeout=30.0, transport=transport) as http:
        for path, params in requests:
            checked, problems = _check_request(http, spec, api_key, header, path, params)
            validated += checked
            lines += problems
    # nothing asked or nothing checked proves nothing
    valid = bool(requests) and validated > 0 and not lines
    return Verdict(
        "responses match the OpenAPI document",
        valid,
        counts={"requests": len(requests), "validated": validated, "violations": len(lines)},
        mismatched=lines[:EXAMPLES],
    )


# ------------------------------------------------------------------ one request
def _check_request(
    http: httpx.Client, spec: Mapping[str, Any], api_key: str, header: str, path: str, params: Mapping[str, Any]
) -> tuple[bool, list[str]]:
    query = {k: v for k, v in params.items() if k != KEY_PARAM}
    label = f"GET {path}" + (f"?{urlencode(query)}" if query else "")
    try:
        response = http.get(path, params=query, headers=_key_header(api_key, header, params.get(KEY_PARAM)))
    except httpx.HTTPError as exc:
        return False, [f"{label}: no answer: {type(exc).__name__}: {exc}"]
    prefix = f"{label} {response.status_code}: "
    template = _template(spec, path)
    if template is None:
        return False, [f"{prefix}path {path} is not in the document"]
    media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        body = _body(response, media_type)
    except ValueError as exc:
        return False, [f"{prefix}{media_type} body does not parse: {exc}"]
    checked, problems = _problems(spec, "get", template, response.status_code, body, media_type)
    return checked, [prefix + p for p in problems]


def _key_header(api_key: str, header: str, how: str | None) -> dict[str, str]:
    if how is None:
        return {header: api_key}
    if how == MISSING:
        return {}
    if how == WRONG:
        return {header: api_key + "-wrong"}
    raise ValueError(f"{KEY_PARAM}={how!r}; use {MISSING!r} or {WRONG!r}")


def _body(response: httpx.Response, media_type: str) -> Any:
    if not response.content:
        return None
    if media_type == "application/json" or media_type.endswith("+json"):
        return response.json()
    return response.text


def _template(spec: Mapping[str, Any], path: str) -> str | None:
    """The document's path template that `path` fills (`/v1/items/{id}` for `/v1/items/7`)."""
    paths = spec.get("paths", {})
    if path in paths:
        return path
    for template in paths:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return str(template)
    return None


# ------------------------------------------------------------------ the document
def _problems(
    spec: Mapping[str, Any], method: str, template: str, status: int, body: Any, media_type: str
) -> tuple[bool, Iterator[str]]:
    """(whether a documented response was found to check against, what breaks it)."""
    located = _response_pointer(spec, method.lower(), template, status)
    if isinstance(located, str):
        return False, iter([located])
    pointer, declared = located
    content = declared.get("content")
    if not content:
        # a response declared without content (e.g. 204) must come without one
        return True, iter([] if body in (None, "") else ["the document declares no body, but one came"])
    key = _media_key(content, media_type)
    if key is None:
        return False, iter(
            [f"media type {media_type or '(none)'} is not documented (documented: {', '.join(content)})"]
        )
    if "schema" not in content[key]:
        return True, iter([])  # the document allows any body of this media type
    schema_pointer = f"{pointer}/content/{_escape(key)}/schema"
    return True, _schema_errors(spec, schema_pointer, body)


def _response_pointer(
    spec: Mapping[str, Any], method: str, template: str, status: int
) -> tuple[str, Mapping[str, Any]] | str:
    """JSON pointer and object of the declared response, or why there is none."""
    operation = spec.get("paths", {}).get(template, {}).get(method)
    if not isinstance(operation, Mapping):
        return f"{method.upper()} {template} is not in the document"
    responses = operation.get("responses", {})
    # OpenAPI: an exact code wins over a range (2XX), which wins over "default"
    for code in (str(status), f"{str(status)[0]}XX", "default"):
        if code in responses:
            pointer = f"/paths/{_escape(template)}/{method}/responses/{_escape(code)}"
            return _follow_refs(spec, pointer, responses[code])
    return f"status {status} is not documented (documented: {', '.join(map(str, responses)) or 'none'})"


def _follow_refs(spec: Mapping[str, Any], pointer: str, declared: Any) -> tuple[str, Mapping[str, Any]] | str:
    # a response may itself be a `$ref` to #/components/responses/...; the schema pointer must then
    # start from the component, or the refs inside it would resolve from the wrong place
    for _ in range(10):
        if not isinstance(declared, Mapping):
            return f"the document's response at #{pointer} is not an object"
        ref = declared.get("$ref")
        if not isinstance(ref, str):
            return pointer, declared
        if not ref.startswith("#/"):
            return f"the document's response refers outside itself: {ref}"
        pointer = ref[1:]
        declared = _resolve(spec, pointer)
    return f"the document's response refs loop at #{pointer}"


def _resolve(spec: Mapping[str, Any], pointer: str) -> Any:
    node: Any = spec
    for raw in pointer.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _media_key(content: Mapping[str, Any], media_type: str) -> str | None:
    main = media_type.split("/")[0]
    for candidate in (media_type, f"{main}/*", "*/*"):
        if candidate in content:
            return candidate
    return None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _schema_errors(spec: Mapping[str, Any], schema_pointer: str, body: Any) -> Iterator[str]:
    resource: Resource[Any] = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    validator = Draft202012Validator({"$ref": f"{SPEC_URI}#{schema_pointer}"}, registry=registry)
    return (_line(error) for error in validator.iter_errors(body))


def _line(error: ValidationError) -> str:
    text = f"{_json_path(error.absolute_path)}: {error.message}"
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 3] + "..."


def _json_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += f"[{part!r}]"
    return out


def item_schema(spec: Mapping[str, Any], path: str, field: str) -> Mapping[str, Any] | str:
    """The schema of one item of `field` (a dotted path, the profile's envelope rows) in GET
    `path`'s 200 answer (the API's published Trade), refs resolved; or why the document does not say."""
    located = _response_pointer(spec, "get", path, 200)
    if isinstance(located, str):
        return located
    _, declared = located
    media: list[Any] = list((declared.get("content") or {}).values())
    node: Any = media[0].get("schema") if media and isinstance(media[0], Mapping) else None
    steps = [s for part in field.split(".") for s in ("properties", part)]
    for step in ("", *steps, "items"):
        node = _deref(spec, node)
        if step:
            node = node.get(step) if isinstance(node, Mapping) else None
        if node is None:
            return f"GET {path}'s 200 answer has no schema for the items of `{field}`"
    found = _deref(spec, node)
    return found if isinstance(found, Mapping) else f"GET {path}'s `{field}` items are not an object schema"


def _deref(spec: Mapping[str, Any], node: Any) -> Any:
    for _ in range(10):
        if isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            node = _resolve(spec, node["$ref"][1:])
        else:
            return node
    return node
