"""The check that pyproject.toml's groups and requirements.txt's pins agree (pure)."""

from packaging.version import Version

from harness.lockcheck import pins, problems


def test_pins_read_name_and_version_and_skip_the_rest() -> None:
    text = "# a comment\nbehave==1.3.3\nconfluent-kafka[avro]==2.16.1  # why\n-r other.txt\nloose>=1\n"
    assert pins(text) == {"behave": Version("1.3.3"), "confluent-kafka": Version("2.16.1")}


def test_an_unpinned_package_and_a_pin_outside_its_range_are_named() -> None:
    groups = {"platform": ["fastapi>=0.165", "uvicorn>=0.60", "k2-acceptance[suite]"], "dev": ["ruff"]}
    found = problems(groups, "k2-acceptance", {"fastapi": Version("0.165.0"), "uvicorn": Version("0.54.0")})
    assert found == [
        "[platform] uvicorn>=0.60: requirements.txt pins 0.54.0",
        "[dev] ruff: not pinned in requirements.txt",
    ]


def test_the_repository_agrees_with_itself() -> None:
    from harness.lockcheck import main

    assert main([]) == 0
