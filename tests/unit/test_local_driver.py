import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.stack.components import Components
from harness.stack.driver import StackError
from harness.stack.local import LocalDriver
from harness.stack.settings import StackSettings, resolve_ports

FAKE = Components(
    java=Path("/j"), kafka_lib=Path("/k"), apicurio_jar=Path("/a"), weed=Path("/w"), postgres_bin=Path("/p")
)


def test_parallel_starts_share_one_set_of_generated_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: up() starts services from parallel threads; each once made its own context,
    # so initdb got one generated password and the registry another.
    def slow_locate(settings: StackSettings) -> Components:
        time.sleep(0.01)  # widens the race window the way a real filesystem search does
        return FAKE

    monkeypatch.setattr(Components, "locate", staticmethod(slow_locate))
    driver = LocalDriver(StackSettings(root=tmp_path, cache=tmp_path, ports=resolve_ports({})))
    with ThreadPoolExecutor(8) as pool:
        passwords = set(pool.map(lambda _: driver.ctx.credentials.postgres_password, range(32)))
    assert len(passwords) == 1
    again = LocalDriver(StackSettings(root=tmp_path, cache=tmp_path, ports=resolve_ports({})))
    assert again.ctx.credentials.postgres_password in passwords


def test_an_unknown_service_is_named(tmp_path: Path) -> None:
    driver = LocalDriver(StackSettings(root=tmp_path, cache=tmp_path, ports=resolve_ports({})))
    with pytest.raises(StackError, match="unknown service 'zookeeper'; the stack has"):
        driver.logs("zookeeper")


def test_services_left_stopped_by_a_bigger_profile_do_not_count(tmp_path: Path) -> None:
    # Regression: after `up --profile full`, `down` and `up --profile infra`, the stopped platform
    # services stayed in status, so the infra stack never reported ready and acceptance stopped.
    driver = LocalDriver(StackSettings(root=tmp_path, cache=tmp_path, ports=resolve_ports({})))
    driver._write_state(
        {
            "profile": "infra",
            "services": {
                "exchange": {"pid": 2**22 + 7, "create_time": 1.0, "wanted": "stopped"},
                "kafka": {"pid": None, "wanted": "stopped"},
            },
        }
    )
    assert driver._known() == ["kafka", "postgres", "schema-registry", "object-store"]
