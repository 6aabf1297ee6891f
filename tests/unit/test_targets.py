from pathlib import Path

import pytest

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
