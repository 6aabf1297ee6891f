"""docs/settings.md, generated from the services' settings models (`make lint` checks it is current).

python -m k2.settings_doc            print the document
python -m k2.settings_doc --write    write docs/settings.md
python -m k2.settings_doc --check    exit 1 if docs/settings.md differs from the models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from k2.api.settings import ApiSettings
from k2.catalog import CatalogSettings
from k2.consumer.settings import Settings as ConsumerSettings
from k2.exchange.settings import ExchangeSettings
from k2.ingest.settings import Settings as IngestSettings
from k2.settings import K2Settings, KafkaSettings, bounds_text, default_text, is_secret

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"

SECTIONS: tuple[tuple[str, str, type[K2Settings]], ...] = (
    ("exchange simulator", "`k2-exchange`, `python -m k2.exchange`", ExchangeSettings),
    ("ingest", "`k2-ingest`, `python -m k2.ingest`; and Kafka's, below", IngestSettings),
    ("consumer", "`k2-consumer`, `python -m k2.consumer`; and Kafka's and the catalog's, below", ConsumerSettings),
    ("query API", "`k2-api`, `python -m k2.api`; and the catalog's, below", ApiSettings),
    ("Kafka and the schema registry", "read by the ingest and the consumer", KafkaSettings),
    ("Iceberg catalog and object store", "read by the consumer and the query API", CatalogSettings),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(model: type[K2Settings], own_only: bool) -> list[str]:
    own = model.__annotations__
    rows = ["| variable | meaning | default | bounds |", "|---|---|---|---|"]
    for name, info in model.variables():
        field_name = next(k for k, v in model.model_fields.items() if v is info)
        if own_only and field_name not in own:
            continue
        meaning = (info.description or "") + (" **Secret**: never logged or shown." if is_secret(info) else "")
        default = default_text(info)
        rows.append(
            f"| `{name}` | {_cell(meaning)} | {default if default in ('required', 'none') else f'`{default}`'} "
            f"| {bounds_text(info)} |"
        )
    return rows


def document() -> str:
    lines = [
        "# Platform settings",
        "",
        "Every setting of the reference platform's services, generated from their settings models",
        "(`k2/*/settings.py`, `k2/catalog.py`) by `python -m k2.settings_doc --write`; `make lint` fails",
        "when this page and the models disagree. The same text is each service's `--help`.",
        "",
        "An empty value is unset (the default applies). A bad value stops the service at start with",
        "exit code 2 and one `error:` line per problem, naming the variable and an example.",
    ]
    for title, how, model in SECTIONS:
        shared = model in (KafkaSettings, CatalogSettings)
        lines += ["", f"## {title}", "", f"{how}.", "", *table(model, own_only=not shared)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k2.settings_doc", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {DOC.name}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 if {DOC.name} is not current")
    args = parser.parse_args(argv)
    text = document()
    if args.write:
        DOC.write_text(text)
        print(f"[settings] wrote {DOC}")
    elif args.check:
        current = DOC.read_text() if DOC.exists() else ""
        if current != text:
            print(f"[settings] {DOC} is out of date: run `python -m k2.settings_doc --write`", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
