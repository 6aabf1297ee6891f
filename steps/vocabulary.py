"""The words features use for services and faults, as parse types for step patterns.

Imported by the step modules that use them (behave loads step files alphabetically, so a type
registered in one step file is not there yet for an earlier one).
"""

import re

import parse
from behave import register_type

# How the features name services (business words) -> the stack's service names
SERVICE_WORDS = {
    "object store": "object-store",
    "database": "postgres",
    "message broker": "kafka",
    "schema registry": "schema-registry",
    "query API": "api",
    "consumer": "consumer",
    "ingest service": "ingest",
    "exchange": "exchange",
}


@parse.with_pattern("|".join(re.escape(w) for w in sorted(SERVICE_WORDS, key=len, reverse=True)))
def parse_service(words: str) -> str:
    return SERVICE_WORDS[words]


register_type(Service=parse_service)

ACTIONS = ("restarts", "crashes and starts again", "crashes", "stops")


@parse.with_pattern("|".join(ACTIONS))
def parse_action(words: str) -> str:
    return words


register_type(Action=parse_action)
