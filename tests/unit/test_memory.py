"""k2.memory: the allocator settings a long-running writer starts with."""

from __future__ import annotations

import os

import pytest

from k2 import memory


def test_settle_puts_pyarrow_on_the_system_allocator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(memory.ARROW_POOL_VARIABLE, raising=False)
    memory.settle()
    assert os.environ[memory.ARROW_POOL_VARIABLE] == "system"


def test_an_operators_pool_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(memory.ARROW_POOL_VARIABLE, "mimalloc")
    memory.settle()
    assert os.environ[memory.ARROW_POOL_VARIABLE] == "mimalloc"


def test_settle_warns_when_pyarrow_came_first(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import pyarrow  # noqa: F401  (the test process has it already; make sure)

    monkeypatch.delenv(memory.ARROW_POOL_VARIABLE, raising=False)
    with caplog.at_level("WARNING", logger="k2.memory"):
        memory.settle()
    assert "imported before" in caplog.text


def test_glibc_functions_are_found_on_linux_glibc() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert memory._LIBC is not None
    memory.release()  # returns nothing; must not raise


def test_release_every_trims_on_its_period_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    trims = threading.Semaphore(0)
    monkeypatch.setattr(memory, "release", trims.release)
    stop = memory.release_every(0.01)
    try:
        assert all(trims.acquire(timeout=5) for _ in range(3)), "three trims within 5 s"
    finally:
        stop.set()
    threads = [t for t in threading.enumerate() if t.name == "memory-release"]
    for t in threads:
        t.join(timeout=5)
    assert not any(t.is_alive() for t in threads)
