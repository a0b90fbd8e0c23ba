"""``fedchain devnet up / fund / down``: a detached Anvil that outlives the command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedchain.chain import DEFAULT_MNEMONIC, connect, derive_accounts, find_anvil_binary
from fedchain.chain.anvil import AnvilNode
from fedchain.chain.deploy import Deployment
from fedchain.chain.errors import AnvilError, ChainConfigError
from fedchain.cli import main

pytestmark = pytest.mark.anvil


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _fedchain(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDCHAIN_")}
    return subprocess.run(
        [sys.executable, "-m", "fedchain.cli", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``fedchain ARGV`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def _last_json(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return parsed


@pytest.fixture(autouse=True)
def _anvil_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [k for k in os.environ if k.startswith("FEDCHAIN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))


def test_up_fund_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    up = _fedchain("devnet", "up", "--dir", "dn", "--accounts", "3", "--json", cwd=tmp_path)
    info = _last_json(up.stdout) if up.returncode == 0 else {}
    pid = int(info.get("pid", 0))
    try:
        assert up.returncode == 0, up.stderr
        assert pid and _alive(pid)  # it outlived the command that started it
        assert (tmp_path / "dn" / "devnet.json").is_file()
        dev = [a.address for a in derive_accounts(DEFAULT_MNEMONIC, 3)]
        assert info["dev_accounts"] == dev and info["deployer"] == dev[0]
        assert derive_accounts(DEFAULT_MNEMONIC, 1)[0].key.hex()[-64:] not in up.stdout + up.stderr

        document = json.loads((tmp_path / "dn" / "deployment.json").read_text())
        assert document["rpc_url"] == info["rpc_url"]
        with connect(document["rpc_url"]) as chain:
            deployment = Deployment.from_json(chain, document)
            assert int(deployment.tasks.taskCount()) == 0
            assert deployment.params["threshold"] == 5

        code, _, err = run(["devnet", "up", "--dir", "dn"], capsys)
        assert code == 1
        assert err.strip().startswith("error: a devnet is already running in dn")

        target = "0x000000000000000000000000000000000000dEaD"
        code, out, err = run(["devnet", "fund", target, "--amount", "1.5 ether", "--dir", "dn",
                              "--json"], capsys)  # fmt: skip
        assert code == 0, err
        assert _last_json(out)["balance"] == 15 * 10**17

        code, out, err = run(["devnet", "down", "--dir", "dn", "--json"], capsys)
        assert code == 0, err
        assert _last_json(out) == {"pid": pid, "rpc_url": info["rpc_url"], "stopped": True,
                                   "reset": False}  # fmt: skip
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
        assert not (tmp_path / "dn" / "devnet.json").exists()

        code, out, err = run(["devnet", "down", "--dir", "dn"], capsys)  # a second 'down'
        assert code == 0 and "no devnet is running from dn (already stopped)" in out, err
        code, _, err = run(["devnet", "down", "--dir", "nowhere"], capsys)
        assert code == 1 and "no devnet file nowhere/devnet.json" in err
    finally:
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_down_leaves_a_reused_pid_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A devnet.json whose PID is no Anvil (here: the test process) is not signalled."""
    directory = tmp_path / "dn"
    directory.mkdir()
    stale = {"format": "fedchain-devnet/1", "pid": os.getpid(), "rpc_url": "http://127.0.0.1:9",
             "port": 9}  # fmt: skip
    (directory / "devnet.json").write_text(json.dumps(stale))
    code, out, err = run(["devnet", "down", "--dir", "dn", "--json"], capsys)
    assert code == 0, err
    assert _last_json(out)["stopped"] is False
    assert not (directory / "devnet.json").exists()


def test_only_a_detached_node_takes_a_log_path(tmp_path: Path) -> None:
    with pytest.raises(ChainConfigError, match="detached"):
        AnvilNode(log_path=tmp_path / "anvil.log")
    node = AnvilNode(detached=True, log_path=tmp_path / "logs" / "anvil.log")
    assert node.log_path == tmp_path / "logs" / "anvil.log" and not node.running


def _kill(pid: int) -> None:
    if pid and _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _up(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    up = _fedchain("devnet", "up", "--dir", "dn", "--accounts", "2", "--json", *args, cwd=tmp_path)
    return up, (_last_json(up.stdout) if up.returncode == 0 else {})


def test_the_chain_survives_down_up_and_a_sigkill(tmp_path: Path) -> None:
    """A devnet resumes its chain and deployment: after 'devnet down' (SIGTERM: Anvil writes its
    state) and after a SIGKILL (the last periodic dump), never a fresh chain under the old file."""
    pids: list[int] = []
    try:
        up, info = _up(tmp_path)
        assert up.returncode == 0, up.stderr
        pids.append(int(info["pid"]))
        document = json.loads((tmp_path / "dn" / "deployment.json").read_text())
        with connect(info["rpc_url"], mnemonic=DEFAULT_MNEMONIC, accounts=2) as chain:
            deployment = Deployment.from_json(chain, document)
            member = chain.dev_accounts(2)[1]
            deployment.registry.registerClient(sender=member)
            deployment.tasks.deposit(sender=member, value=12345)
            height = chain.block_number()

        # A participant's keep-alive connection is open when the node stops: the node closes
        # it first, so its port lingers in TIME_WAIT; the devnet must come back on it anyway.
        first_url = info["rpc_url"]
        participant = httpx.Client()
        ask = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
        assert participant.post(first_url, json=ask).status_code == 200
        down = _fedchain("devnet", "down", "--dir", "dn", cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert "resumes it" in down.stdout
        participant.close()
        up, info = _up(tmp_path)
        assert up.returncode == 0, up.stderr
        pids.append(int(info["pid"]))
        assert info["resumed"] is True and "resumed the chain" in up.stderr
        assert info["rpc_url"] == first_url and "WARNING" not in up.stderr
        again = json.loads((tmp_path / "dn" / "deployment.json").read_text())
        assert {k: again[k] for k in document if k != "rpc_url"} == {
            k: document[k] for k in document if k != "rpc_url"
        }
        with connect(info["rpc_url"], mnemonic=DEFAULT_MNEMONIC, accounts=2) as chain:
            deployment = Deployment.from_json(chain, again)
            assert chain.block_number() >= height
            assert int(deployment.registry.accountOf(member.address).roles) == 1
            assert int(deployment.tasks.balanceOf(member.address)) == 12345
            deployment.tasks.deposit(sender=member, value=1)
        time.sleep(3.5)  # past a periodic state dump (every 2 s)
        os.kill(pids[-1], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pids[-1]) and time.monotonic() < deadline:
            time.sleep(0.05)

        up, info = _up(tmp_path)
        assert up.returncode == 0, up.stderr
        pids.append(int(info["pid"]))
        with connect(info["rpc_url"], mnemonic=DEFAULT_MNEMONIC, accounts=2) as chain:
            deployment = Deployment.from_json(chain, again)
            assert int(deployment.tasks.balanceOf(member.address)) == 12346
    finally:
        for pid in pids:
            _kill(pid)


def test_up_refuses_a_deployment_file_of_another_chain(tmp_path: Path) -> None:
    """Another devnet's deployment file (the same addresses: the same deployer and nonces) is
    refused, as is one without its chain or for another chain id; --force deploys afresh."""
    pids: list[int] = []
    try:
        for name in ("a", "b"):
            up = _fedchain("devnet", "up", "--dir", name, "--accounts", "1", "--json",
                           cwd=tmp_path)  # fmt: skip
            assert up.returncode == 0, up.stderr
            pids.append(int(_last_json(up.stdout)["pid"]))
            time.sleep(1.1)  # another second: another genesis block
            down = _fedchain("devnet", "down", "--dir", name, cwd=tmp_path)
            assert down.returncode == 0, down.stderr
        other = (tmp_path / "a" / "deployment.json").read_text()
        (tmp_path / "b" / "deployment.json").write_text(other)
        up = _fedchain("devnet", "up", "--dir", "b", "--accounts", "1", cwd=tmp_path)
        assert up.returncode == 1
        (line,) = up.stderr.strip().splitlines()
        assert line.startswith("error: b/deployment.json does not belong to the chain in")
        assert "--force" in line

        wrong_id = _fedchain("devnet", "up", "--dir", "b", "--chain-id", "999", cwd=tmp_path)
        assert wrong_id.returncode == 1 and "is for chain id 31337" in wrong_id.stderr
        (tmp_path / "c").mkdir()
        (tmp_path / "c" / "deployment.json").write_text(other)
        orphan = _fedchain("devnet", "up", "--dir", "c", cwd=tmp_path)
        assert orphan.returncode == 1 and "the chain it was deployed on is gone" in orphan.stderr

        up = _fedchain("devnet", "up", "--dir", "b", "--accounts", "1", "--force", "--json",
                       cwd=tmp_path)  # fmt: skip
        assert up.returncode == 0, up.stderr
        info = _last_json(up.stdout)
        pids.append(int(info["pid"]))
        assert info["resumed"] is False
        fresh = json.loads((tmp_path / "b" / "deployment.json").read_text())
        assert fresh["deployed_block"] != json.loads(other)["deployed_block"]
    finally:
        for pid in pids:
            _kill(pid)


def test_fund_reads_the_deployment_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    up, info = _up(tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)  # no .fedchain-devnet here
        monkeypatch.setenv("FEDCHAIN_DEPLOYMENT", str(tmp_path / "dn" / "deployment.json"))
        target = "0x000000000000000000000000000000000000bEEF"
        code, out, err = run(["devnet", "fund", target, "--amount", "2 ether", "--json"], capsys)
        assert code == 0, err
        assert _last_json(out)["balance"] == 2 * 10**18
    finally:
        _kill(int(info.get("pid", 0)))
