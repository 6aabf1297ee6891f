import json
from pathlib import Path

import pytest

from harness.stack.settings import REPO_ROOT
from harness.targets import Target, TargetError


def test_the_local_target_holds_the_contract_names() -> None:
    t = Target.load()
    assert t.topic == "market.crypto.trades.binance"
    assert t.subject == "market.crypto.trades.binance-value"
    assert t.table == "market_data.trades"
    assert t.api["key_header"] == "X-API-Key"
    assert t.symbols == ("BTCUSDT", "ETHUSDT", "BNBUSDT")


def test_a_missing_or_incomplete_target_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        Target.load(tmp_path / "nope.yaml")
    (tmp_path / "half.yaml").write_text("name: half\nexchange: BINANCE\nsymbols: [X]\n")
    with pytest.raises(TargetError, match="has 4 problems") as half:
        Target.load(tmp_path / "half.yaml")
    for section in ("kafka", "registry", "iceberg", "api"):  # every problem at once, not the first
        assert f"  {section}: Field required" in str(half.value)


def test_unknown_keys_wrong_types_and_bad_names_are_all_named(tmp_path: Path) -> None:
    text = (REPO_ROOT / "targets" / "k2-local.yaml").read_text()
    text = text.replace("  topic: market", "  topik: market").replace("max_limit: 10000", "max_limit: many")
    text = text.replace("table: market_data.trades", "table: trades").replace("trades: /v1/trades", "trades: v1/trades")
    (tmp_path / "TradeV2.avsc").write_text("{}")
    (tmp_path / "odd.yaml").write_text(text)
    with pytest.raises(TargetError) as odd:
        Target.load(tmp_path / "odd.yaml")
    said = str(odd.value)
    assert "kafka.topic: Field required" in said and "kafka.topik: Extra inputs are not permitted" in said
    assert "api.max_limit: Input should be a valid integer" in said
    assert "iceberg.table: String should match pattern" in said and "api.trades: String should match" in said


def test_a_profile_whose_schema_file_is_missing_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text((REPO_ROOT / "targets" / "k2-local.yaml").read_text())
    with pytest.raises(TargetError, match=r"registry.schema: .*TradeV2.avsc does not exist"):
        Target.load(tmp_path / "p.yaml")


def test_the_target_carries_the_contract_schema_and_columns() -> None:
    t = Target.load()
    assert t.columns["price"] == "decimal(18,8)!" and t.columns["vendor_data"] == "string"
    assert list(t.columns)[:2] == ["message_id", "trade_id"] and len(t.columns) == 15
    assert json.loads(t.record_schema())["name"] == "TradeV2"


def test_the_suite_copy_of_the_contract_schema_matches_the_reference_platform() -> None:
    # The suite keeps its own copy (it never imports k2); this catches the two drifting apart.
    suite = json.loads(Target.load().record_schema())
    platform = json.loads((REPO_ROOT / "k2" / "schemas" / "TradeV2.avsc").read_text())
    assert suite == platform
