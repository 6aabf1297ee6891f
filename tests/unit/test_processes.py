import os
import socket
import subprocess
import sys
from pathlib import Path

from harness.stack import processes


def test_a_listening_port_is_not_free_and_a_closed_one_is() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not processes.port_free("127.0.0.1", port)
        assert "python" in processes.port_owner(port) or processes.port_owner(port).startswith("pid ")
    assert processes.port_free("127.0.0.1", port)


def test_processes_under_the_stack_dir_are_found_without_any_state(tmp_path: Path) -> None:
    run = tmp_path / "run" / "svc"
    run.mkdir(parents=True)
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], cwd=run, stdin=subprocess.PIPE, start_new_session=True
    )
    try:
        found = [p.pid for p in processes.processes_under(tmp_path)]
        assert child.pid in found
        assert os.getpid() not in found
    finally:
        child.kill()
        child.wait()
    assert child.pid not in [p.pid for p in processes.processes_under(tmp_path)]


def test_a_recycled_pid_is_not_mistaken_for_ours() -> None:
    me = processes.process(os.getpid(), None)
    assert me is not None
    assert processes.process(os.getpid(), me.create_time() - 100) is None
    assert processes.process(None, None) is None
