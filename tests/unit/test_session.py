from pathlib import Path

from harness.config import RunConfig
from harness.session import write_report_environment
from harness.targets import Target


def test_the_report_front_page_carries_seed_commit_and_versions(tmp_path: Path) -> None:
    write_report_environment(RunConfig(seed=4242), Target.load(), {"kafka": "4.1.1"}, results=tmp_path)
    props = dict(line.split("=", 1) for line in (tmp_path / "environment.properties").read_text().splitlines())
    assert props["seed"] == "4242"
    assert props["version.kafka"] == "4.1.1"
    assert props["target"] == "k2-local"
    assert props["git.sha"] != ""
