"""AnvilNode: a real Anvil process, started on a free loopback port and stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fedchain.chain import AnvilNode, find_anvil_binary
from fedchain.chain.errors import AnvilError, ChainConnectionError


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _chain_id(url: str) -> int:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    return int(httpx.post(url, json=payload, timeout=5).json()["result"], 16)


@pytest.mark.anvil
def test_start_and_stop_by_pid(anvil_available: None) -> None:
    node = AnvilNode(chain_id=4242, accounts=3, block_time=None)
    with node:
        pid = node.pid
        assert pid is not None and _alive(pid) and node.running
        assert node.url.startswith("http://127.0.0.1:")
        assert _chain_id(node.url) == 4242
        assert "4242" in repr(node)
    assert not node.running and node.pid is None
    assert _wait_gone(pid)
    node.stop()  # idempotent
    with pytest.raises(AnvilError, match="not started"):
        node.url  # noqa: B018


@pytest.mark.anvil
def test_no_orphan_when_the_parent_is_killed(anvil_available: None) -> None:
    script = (
        "import sys, time\n"
        "from fedchain.chain import AnvilNode\n"
        "node = AnvilNode().start()\n"
        "print(node.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert parent.stdout is not None
        anvil_pid = int(parent.stdout.readline())
        assert _alive(anvil_pid)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        parent.stdout.close()  # type: ignore[union-attr]
    gone = _wait_gone(anvil_pid)
    if not gone:  # clean up before failing
        os.kill(anvil_pid, signal.SIGKILL)
    assert gone, "Anvil outlived the SIGKILLed process that started it"


@pytest.mark.anvil
def test_startup_failure_surfaces_anvil_output(anvil_available: None) -> None:
    node = AnvilNode(extra_args=("--no-such-flag",), startup_timeout=10)
    with pytest.raises(AnvilError) as caught:
        node.start()
    assert "no-such-flag" in str(caught.value)
    assert isinstance(caught.value, ChainConnectionError)
    assert not node.running


def test_missing_binary_has_an_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FEDCHAIN_ANVIL_BIN", str(tmp_path / "nope"))
    with pytest.raises(AnvilError, match="FEDCHAIN_ANVIL_BIN"):
        find_anvil_binary()
    monkeypatch.delenv("FEDCHAIN_ANVIL_BIN")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("fedchain.chain.anvil.__file__", str(tmp_path / "anvil.py"))
    with pytest.raises(AnvilError, match="npm ci"):
        find_anvil_binary()
