"""Class data sharing options for the stack's JVMs: write an archive once, then use it; never
take one a JVM may still be writing."""

from pathlib import Path

from harness.stack.services.jvm import WRITE, archive_options


def options(cache: Path, writing: bool = False) -> list[str]:
    return archive_options(cache, "kafka", Path("/usr/bin/java"), "/opt/kafka/libs/*", writing=lambda _: writing)


def pending_of(opts: list[str]) -> Path:
    [opt] = [o for o in opts if o.startswith("-XX:")]
    assert opt.startswith(WRITE)
    return Path(opt[len(WRITE) :])


def test_without_an_archive_the_jvm_writes_a_pending_one_of_its_own(tmp_path: Path) -> None:
    first, second = pending_of(options(tmp_path)), pending_of(options(tmp_path))
    assert first != second and first.parent == tmp_path / "cds"


def test_a_finished_pending_archive_is_promoted_and_used(tmp_path: Path) -> None:
    pending = pending_of(options(tmp_path))
    pending.write_bytes(b"archive")  # what the JVM leaves at exit
    [opt] = [o for o in options(tmp_path) if o.startswith("-XX:")]
    assert opt.startswith("-XX:SharedArchiveFile=")
    assert Path(opt.split("=", 1)[1]).read_bytes() == b"archive" and not pending.exists()


def test_an_archive_still_being_written_is_left_alone(tmp_path: Path) -> None:
    pending = pending_of(options(tmp_path))
    pending.write_bytes(b"half")
    pending_of(options(tmp_path, writing=True))
    assert pending.exists()


def test_empty_and_surplus_pending_archives_are_removed(tmp_path: Path) -> None:
    a, b, c = (pending_of(options(tmp_path)) for _ in range(3))
    a.write_bytes(b"")
    b.write_bytes(b"one")
    c.write_bytes(b"two")
    options(tmp_path)
    assert list((tmp_path / "cds").glob("*.pending")) == []
    assert len(list((tmp_path / "cds").glob("*.jsa"))) == 1


def test_another_jvm_or_classpath_has_an_archive_of_its_own(tmp_path: Path) -> None:
    pending_of(options(tmp_path)).write_bytes(b"kafka 4")
    options(tmp_path)
    other = archive_options(tmp_path, "kafka", Path("/usr/bin/java"), "/opt/kafka-5/libs/*", writing=lambda _: False)
    assert pending_of(other)
