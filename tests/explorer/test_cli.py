"""``fedchain explorer``: serves a run directory until Ctrl-C (exit 0, no traceback), and says
in one line what is wrong with its input."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fedchain.cli import main

# One xdist worker runs the modules that share the simulated task (conftest.finished).
pytestmark = pytest.mark.xdist_group("explorer")


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    _, err = capsys.readouterr()
    return int(info.value.code or 0), err


def _one_line(code: int, err: str) -> str:
    assert code == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.slow
def test_serves_a_run_directory_until_ctrl_c(finished: dict[str, Any], run_dir: Path) -> None:
    argv = [sys.executable, "-m", "fedchain.cli", "explorer", "--run-dir", str(run_dir),
            "--store", f"local:{finished['store_dir']}", "--port", "0"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith("FedChain explorer on http://127.0.0.1:"), line
        url = line.split()[3]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}api/tasks", timeout=10) as response:
                    tasks = json.load(response)["tasks"]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert [t["task_id"] for t in tasks] == [finished["task_id"]]
        with urllib.request.urlopen(f"{url}api/task/{finished['task_id']}", timeout=60) as r:
            assert json.load(r)["ok"] is True
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in rest and rest.strip().splitlines()[-1] == "explorer stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_missing_run_dir_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line(*_cli(["explorer", "--run-dir", str(tmp_path / "nope")], capsys))
    assert "does not exist" in line


def test_nothing_to_read_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--run-dir" in _one_line(*_cli(["explorer"], capsys))


def test_a_busy_port_is_one_line(
    finished: dict[str, Any], run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        argv = ["explorer", "--run-dir", str(run_dir), "--store",
                f"local:{finished['store_dir']}", "--port", str(port)]  # fmt: skip
        line = _one_line(*_cli(argv, capsys))
    assert f"cannot listen on 127.0.0.1:{port}" in line


def test_an_unknown_test_set_is_one_line(
    finished: dict[str, Any], run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["explorer", "--run-dir", str(run_dir), "--store", f"local:{finished['store_dir']}",
            "--port", "0", "--test-data", "bogus"]  # fmt: skip
    assert "unknown data set 'bogus'" in _one_line(*_cli(argv, capsys))
