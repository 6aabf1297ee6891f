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
    with pytest.raises(TargetError, match="lacks 'kafka'"):
        Target.load(tmp_path / "half.yaml")


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
