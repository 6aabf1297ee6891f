from types import SimpleNamespace

import pytest

from harness.faults import Faults
from harness.history import History


class RecordingDriver:
    """A plain fake: records calls; `fail` names operations that raise."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def __getattr__(self, op: str):  # type: ignore[no-untyped-def]
        def call(*args: object) -> None:
            self.calls.append(" ".join([op, *map(str, args)]))
            if op in self.fail:
                raise RuntimeError(f"{op} refused")

        return call


def faults(driver: RecordingDriver) -> Faults:
    return Faults(driver, History())


def test_every_open_fault_is_healed_newest_first() -> None:
    d = RecordingDriver()
    f = faults(d)
    f.stop("kafka")
    f.pause("api")
    assert f.heal_all() == []
    assert d.calls == ["stop kafka", "pause api", "resume api", "start kafka"]
    assert f.history.unhealed() == []


def test_a_fault_healed_by_a_step_is_not_healed_twice() -> None:
    d = RecordingDriver()
    f = faults(d)
    f.stop("object-store")
    f.heal("object-store stopped")
    f.heal_all()
    assert d.calls.count("start object-store") == 1


def test_a_fault_whose_injection_failed_is_still_healed() -> None:
    d = RecordingDriver(fail=("stop",))
    f = faults(d)
    with pytest.raises(RuntimeError):
        f.stop("kafka")
    f.heal_all()
    assert d.calls[-1] == "start kafka"


def test_a_failing_heal_is_reported_and_the_others_still_run() -> None:
    d = RecordingDriver(fail=("resume",))
    f = faults(d)
    f.stop("kafka")
    f.pause("api")
    errors = f.heal_all()
    assert errors == ["healing 'api paused' failed: resume refused"]
    assert d.calls[-1] == "start kafka"


def test_a_crash_is_remembered_so_its_restart_is_expected() -> None:
    f = faults(RecordingDriver())
    f.crash("consumer")
    assert f.crashed == {"consumer"}


def test_a_restart_is_recorded_as_a_fault_and_its_heal() -> None:
    f = faults(RecordingDriver())
    f.restart("kafka")
    assert [(e.kind, e.name) for e in f.history.events] == [("fault", "kafka restarted"), ("heal", "kafka restarted")]
    assert f.pending == {}


def test_ending_a_services_faults_heals_only_that_service() -> None:
    d = RecordingDriver()
    f = faults(d)
    f.crash("kafka")
    f.stop("api")
    f.heal_service("kafka")
    assert list(f.pending) == ["api stopped"]
    with pytest.raises(KeyError, match="no open fault of consumer"):
        f.heal_service("consumer")


class ProfileDriver(RecordingDriver):
    def __init__(self, running: str | None) -> None:
        super().__init__()
        self.running = running

    def status(self, resources: bool = True) -> SimpleNamespace:
        return SimpleNamespace(profile=self.running)


@pytest.mark.parametrize(("running", "brought_back"), [("faultable", "faultable"), ("infra", "infra"), (None, "full")])
def test_a_stopped_stack_comes_back_with_the_profile_it_ran(running: str | None, brought_back: str) -> None:
    d = ProfileDriver(running)
    f = faults(d)
    f.stop_stack()
    f.heal_all()
    assert d.calls == ["down", f"up {brought_back}"]
    assert f.history.events[0].detail["profile"] == brought_back
