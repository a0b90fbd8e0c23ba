"""``fedchain deploy | task | client | miner | claim``: error paths in-process, and one whole task
with every participant in its own process on a real Anvil node."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fedchain.chain import DEFAULT_MNEMONIC, AnvilNode, connect, derive_accounts, find_anvil_binary
from fedchain.chain.errors import AnvilError
from fedchain.chain.keys import LIGHT_SCRYPT_N, create_keystore
from fedchain.cli import main
from fedchain.cli.common import jsonable, relative_time
from fedchain.cli.participants import FAULT_NAMES

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = derive_accounts(DEFAULT_MNEMONIC, 6)
KEYS = ["0x" + a.key.hex() for a in ACCOUNTS]  # the public Anvil test keys
ENV_VARS = (
    "FEDCHAIN_PRIVATE_KEY", "FEDCHAIN_KEYSTORE_PASSWORD", "FEDCHAIN_DEPLOYMENT",
    "FEDCHAIN_RPC_URL", "FEDCHAIN_STORE", "FEDCHAIN_KUBO_API",
)  # fmt: skip
TASK_TOML = """\
[task]
name = "cli-test"
rounds = 1
max_clients = 2
committee_size = 1
byzantine_f = 0
join_window = {join_window}
submit_window = 30
verdict_window = 30

[rewards]
client_mortgage = "0.001 ether"
min_miner_stake = "0.001 ether"

[model]
name = "cnn_digits"

[training]
epochs = 1

[privacy]
mechanism = "none"

[verification]
rule = "none"
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``fedchain ARGV`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def assert_one_error_line(code: int, err: str, *fragments: str) -> None:
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedchain.cli", *args]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEDCHAIN_STORE", f"local:{tmp_path / 'default-store'}")
    monkeypatch.chdir(tmp_path)


# -- small helpers ----------------------------------------------------------------------------


def test_fault_names_match_the_miner_role() -> None:
    from fedchain.roles.miner import FAULTS

    assert FAULT_NAMES == FAULTS


def test_relative_time_and_jsonable() -> None:
    assert relative_time(80) == "in 1m 20s"
    assert relative_time(-5) == "5s ago"
    assert relative_time(0) == "now"
    assert relative_time(3 * 3600 + 60) == "in 3h 01m"
    assert jsonable({"a": float("nan"), "b": (b"\x01", float("inf")), 3: 1.5}) == {
        "a": None, "b": ["0x01", None], "3": 1.5,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("script", "command"),
    [("deploy", "deploy"), ("publish_task", "task create"), ("run_client", "client run"),
     ("run_miner", "miner run")],
)  # fmt: skip
def test_scripts_wrap_the_commands(
    script: str, command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ROOT / "scripts" / f"{script}.py"
    assert os.access(path, os.X_OK) and path.read_text().startswith("#!/usr/bin/env python3\n")
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(path), run_name="__main__")
    assert info.value.code == 0
    usage = capsys.readouterr().out.strip().splitlines()[0].split()
    assert usage[:3] == ["Usage:", f"{script}.py", "[OPTIONS]"]  # not "{script}.py {command}"


# -- errors that need no node -----------------------------------------------------------------


def test_missing_and_garbled_deployment_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["task", "status", "1", "--deployment", "nope.json"], capsys)
    assert_one_error_line(code, err, "no deployment file nope.json", "fedchain devnet up")
    (tmp_path / "garbled.json").write_text('{"format": ')
    code, _, err = run(["task", "status", "1", "--deployment", "garbled.json"], capsys)
    assert_one_error_line(code, err, "garbled.json is not JSON")
    (tmp_path / "other.json").write_text('{"format": "something-else"}')
    code, _, err = run(["task", "status", "1", "--deployment", "other.json"], capsys)
    assert_one_error_line(code, err, "not a FedChain deployment file")
    good = {"format": "fedchain-deployment/1", "chain_id": 1, "participant_registry": "0x1"}
    (tmp_path / "partial.json").write_text(json.dumps(good))
    monkeypatch.setenv("FEDCHAIN_DEPLOYMENT", "partial.json")  # the environment names the file
    code, _, err = run(["task", "status", "1"], capsys)
    assert_one_error_line(code, err, "partial.json: participant_registry is not an address")


def test_key_errors_never_echo_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["claim", "--task", "1"], capsys)
    assert_one_error_line(code, err, "no key", "--keystore", "FEDCHAIN_PRIVATE_KEY")
    secret = "ab" * 31 + "zz"
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", secret)
    code, _, err = run(["claim", "--task", "1"], capsys)
    assert_one_error_line(code, err, "FEDCHAIN_PRIVATE_KEY is not a 32-byte hex private key")
    assert secret not in err
    keystore = tmp_path / "key.json"
    create_keystore(keystore, password="right", kdf_iterations=LIGHT_SCRYPT_N)
    monkeypatch.setenv("FEDCHAIN_KEYSTORE_PASSWORD", "wrong-password")
    code, _, err = run(["deploy", "--rpc-url", "http://127.0.0.1:9", "--keystore", str(keystore)],
                       capsys)  # fmt: skip
    assert_one_error_line(code, err, "wrong password")
    assert "wrong-password" not in err


def test_task_file_and_option_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.toml").write_text("[task]\nrounds = 0\n")
    code, _, err = run(["task", "create", "bad.toml"], capsys)
    assert_one_error_line(code, err, "bad.toml", "[task] rounds")
    code, _, err = run(["client", "run", "--task", "1", "--dataset", "digits", "--shard", "5/3"],
                       capsys)  # fmt: skip
    assert_one_error_line(code, err, "--shard '5/3'", "0..2")
    code, _, err = run(["client", "run", "--task", "1", "--dataset", "digits", "--shard", "x"],
                       capsys)  # fmt: skip
    assert_one_error_line(code, err, "use I/N")
    np.savez(tmp_path / "only-x.npz", x=np.zeros((4, 8, 8), np.uint8))
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    code, _, err = run(["client", "run", "--task", "1", "--data-file", "only-x.npz"], capsys)
    assert_one_error_line(code, err, "only-x.npz: no array 'y'")
    code, _, err = run(["miner", "run", "--task", "1", "--fault", "lazy"], capsys)
    assert_one_error_line(code, err, "--fault 'lazy'", "silent_leader")
    code, _, err = run(["deploy", "--out", "d.json"], capsys)
    assert_one_error_line(code, err, "no RPC URL")
    (tmp_path / "d.json").write_text("{}")
    code, _, err = run(["deploy", "--rpc-url", "http://127.0.0.1:9", "--out", "d.json"], capsys)
    assert_one_error_line(code, err, "d.json exists", "--force")
    assert "not a FedChain deployment file" in err


def test_unreachable_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = {
        "format": "fedchain-deployment/1", "chain_id": 31337, "rpc_url": "http://127.0.0.1:9",
        **{k: "0x" + "11" * 20 for k in ("participant_registry", "model_registry",
                                         "task_manager", "task_manager_extension")},
    }  # fmt: skip
    (tmp_path / "deployment.json").write_text(json.dumps(document))
    code, _, err = run(["task", "status", "1"], capsys)
    assert_one_error_line(code, err, "127.0.0.1:9")
    secret_url = "http://user:pw@127.0.0.1:9/v3/SECRETKEY?x=QUERYKEY"
    code, _, err = run(["task", "status", "1", "--rpc-url", secret_url], capsys)
    assert_one_error_line(code, err, "http://***@127.0.0.1:9/***")
    for secret in ("SECRETKEY", "QUERYKEY", "user:pw"):
        assert secret not in err
    (tmp_path / "no-url.json").write_text(json.dumps({**document, "rpc_url": None}))
    code, _, err = run(["task", "status", "1", "--deployment", "no-url.json"], capsys)
    assert_one_error_line(code, err, "no RPC URL", "leaves it out", "--rpc-url")


# -- on a real node ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    """An Anvil node for the module (dies with the test process)."""
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    # A block every second, as 'fedchain devnet up' runs it: a task starts at its join deadline,
    # which passes on chain only once a block is stamped past it.
    with AnvilNode(accounts=len(ACCOUNTS), block_time=1) as started:
        yield started


@pytest.fixture
def deployment(
    node: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    """A fresh deployment on the node, written by ``fedchain deploy``; its path."""
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[0])
    argv = ["deploy", "--rpc-url", node.url, "--out", "dep.json", "--limits", "devnet", "--json"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    document = json.loads(out.strip().splitlines()[-1])
    assert document["rpc_url"] == node.url and document["deployer"] == ACCOUNTS[0].address
    monkeypatch.delenv("FEDCHAIN_PRIVATE_KEY")
    path = tmp_path / "dep.json"
    assert json.loads(path.read_text())["task_manager"] == document["task_manager"]
    return path


def _env(key: str, deployment: Path, store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(FEDCHAIN_PRIVATE_KEY=key, FEDCHAIN_DEPLOYMENT=str(deployment),
               FEDCHAIN_STORE=f"local:{store}", OMP_NUM_THREADS="1")  # fmt: skip
    return env


def _task_count(url: str, deployment: Path) -> int:
    from fedchain.chain.deploy import Deployment

    with connect(url) as chain:
        return int(
            Deployment.from_json(chain, json.loads(deployment.read_text())).tasks.taskCount()
        )


def _last_json(text: str) -> dict[str, Any]:
    last = text.strip().splitlines()[-1]
    parsed: dict[str, Any] = json.loads(last)
    return parsed


@pytest.mark.anvil
def test_errors_against_a_node(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["task", "status", "99", "--deployment", str(deployment)], capsys)
    assert_one_error_line(code, err, "task 99 does not exist")
    wrong = json.loads(deployment.read_text())
    wrong["chain_id"] = 1
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    code, _, err = run(["task", "status", "1", "--deployment", "wrong.json"], capsys)
    assert_one_error_line(code, err, "chain id 1", "31337")
    with AnvilNode() as other:  # the same chain id, but nothing deployed there
        code, _, err = run(["task", "status", "1", "--deployment", str(deployment),
                            "--rpc-url", other.url], capsys)  # fmt: skip
        assert_one_error_line(code, err, "no contract code", "deploy again")
    # A fresh chain with the same deployer deploys at the very same addresses: only the
    # deployment block tells them apart (a devnet restarted without its state).
    moved = json.loads(deployment.read_text())
    assert isinstance(moved["deployed_block"]["number"], int)
    moved["deployed_block"]["hash"] = "0x" + "ab" * 32
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    code, _, err = run(["task", "status", "1", "--deployment", "moved.json"], capsys)
    assert_one_error_line(code, err, "not the one it was deployed in", "deploy again")


@pytest.mark.anvil
def test_deploy_keeps_rpc_credentials_out(
    node: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A URL with a user, a password or a query is never printed nor written to the file."""
    host = node.url.removeprefix("http://").rstrip("/")
    secret_url = f"http://user:pw@{host}/?apikey=SECRETKEY"
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[0])
    code, out, err = run(["deploy", "--rpc-url", secret_url, "--out", "dep.json", "--json"],
                         capsys)  # fmt: skip
    assert code == 0, err
    for secret in ("SECRETKEY", "user:pw"):
        assert secret not in out + err + (tmp_path / "dep.json").read_text()
    assert _last_json(out)["rpc_url"] == f"http://***@{host}/***"
    assert json.loads((tmp_path / "dep.json").read_text())["rpc_url"] is None
    assert "participants must pass --rpc-url or set FEDCHAIN_RPC_URL" in err
    code, _, err = run(["task", "status", "1", "--deployment", "dep.json"], capsys)
    assert_one_error_line(code, err, "no RPC URL", "leaves it out")
    monkeypatch.setenv("FEDCHAIN_RPC_URL", secret_url)  # participants pass the URL themselves
    code, _, err = run(["task", "status", "1", "--deployment", "dep.json"], capsys)
    assert_one_error_line(code, err, "task 1 does not exist")  # connected, contracts found
    assert "SECRETKEY" not in err


@pytest.mark.anvil
def test_a_whole_task_one_process_per_participant(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    (tmp_path / "task.toml").write_text(TASK_TOML.format(join_window=45))
    store = tmp_path / "store"
    first = _task_count(node.url, deployment) + 1
    common = ["--poll", "0.2", "--timeout", "240", "--json"]
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        procs["requester"] = subprocess.Popen(
            cli("task", "create", "task.toml", "--follow", "--settle-after", "2",
                "--evaluate", "digits", *common),
            env=_env(KEYS[0], deployment, store), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while _task_count(node.url, deployment) < first:
            assert procs["requester"].poll() is None, procs["requester"].communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        task = str(first)
        for i in range(2):
            procs[f"client {i}"] = subprocess.Popen(
                cli("client", "run", "--task", task, "--dataset", "digits", "--shard", f"{i}/2",
                    *common),
                env=_env(KEYS[1 + i], deployment, store), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
        procs["miner"] = subprocess.Popen(
            cli("miner", "run", "--task", task, *common), env=_env(KEYS[3], deployment, store),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        outputs = {name: p.communicate(timeout=300) for name, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    for name, p in procs.items():
        assert p.returncode == 0, (name, outputs[name][1])
        assert "Traceback" not in outputs[name][1]
    results = {name: _last_json(out) for name, (out, _) in outputs.items()}

    clients = sorted(a.address for a in ACCOUNTS[1:3])  # on chain: in join order
    requester = results["requester"]
    assert requester["task_id"] == first and requester["status"] == "finished"
    assert sorted(requester["rounds"][0]["accepted"]) == clients
    assert 0.0 <= requester["final_accuracy"] <= 1.0
    assert requester["final_model"] == requester["rounds"][0]["global_model"]
    for i, address in enumerate(a.address for a in ACCOUNTS[1:3]):
        mine = results[f"client {i}"]
        assert mine["address"] == address and mine["status"] == "finished"
        assert [r["round"] for r in mine["rounds"]] == [0] and mine["rounds"][0]["submitted"]
        assert mine["settlement"]["payout"] > 0
        assert mine["withdrawn"] > 0  # what the client's own claim withdrew
        # Who am I, and what became of my update (in words on stderr, in the JSON too).
        err = outputs[f"client {i}"][1]
        assert f"joined task {task} as client {mine['index']} with a mortgage of 0.001 ETH" in err
        assert "local training takes about" in err
        assert "round 0: update accepted" in err
        (verdict,) = mine["verdicts"]
        assert verdict["round"] == 0 and verdict["submitted"] and verdict["accepted"]
    assert sorted(results[f"client {i}"]["index"] for i in range(2)) == [0, 1]
    miner = results["miner"]
    assert miner["index"] == 0 and f"taking part in task {task} as miner 0" in outputs["miner"][1]
    assert sorted(miner["judgements"]["0"]["accepted"]) == clients
    assert miner["settlement"]["slashed"] == 0
    assert miner["withdrawn"] > 0
    assert requester["chain"] == node.url

    code, out, err = run(["task", "status", str(first), "--deployment", str(deployment),
                          "--json"], capsys)  # fmt: skip
    assert code == 0, err
    status = _last_json(out)
    assert status["state"]["status"] == "finished" and status["state"]["unsettled"] == 0
    assert sorted(status["rounds"][0]["accepted"]) == clients
    assert status["rounds"][0]["rejected"] == []
    escrow = status["escrow"]
    assert status["balanced"] is True
    assert escrow["deposited"] == escrow["paid"] + escrow["refunded"] > 0
    code, out, _ = run(["task", "status", str(first), "--deployment", str(deployment)], capsys)
    assert code == 0 and "finished" in out and "balanced" in out
    # claim again (safe to repeat), and from a key that never joined (one error line)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    code, out, err = run(["claim", "--task", str(first), "--deployment", str(deployment)],
                         capsys)  # fmt: skip
    assert code == 0 and "nothing left to claim (already settled and withdrawn)" in out, err
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[0])  # the requester, refund withdrawn
    code, out, err = run(["claim", "--task", str(first), "--deployment", str(deployment)],
                         capsys)  # fmt: skip
    assert code == 0 and "nothing left to claim" in out, err
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[5])
    code, _, err = run(["claim", "--task", str(first), "--deployment", str(deployment)], capsys)
    assert_one_error_line(code, err, "never joined task", "nothing to claim")


def _balance_and_roles(url: str, deployment: Path, address: str) -> tuple[int, int]:
    from fedchain.chain.deploy import Deployment

    with connect(url) as chain:
        d = Deployment.from_json(chain, json.loads(deployment.read_text()))
        return chain.balance(address), int(d.registry.accountOf(address).roles)


def _create_task(toml: str, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                 monkeypatch: pytest.MonkeyPatch) -> str:  # fmt: skip
    (tmp_path / "task.toml").write_text(toml)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[4])
    code, out, err = run(["task", "create", "task.toml", "--deployment", str(deployment),
                          "--store", f"local:{tmp_path / 'store'}", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    return str(_last_json(out)["task_id"])


@pytest.mark.anvil
def test_data_that_does_not_fit_the_task_locks_nothing(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """MNIST-sized images on a cnn_digits task: refused before registering or joining."""
    task = _create_task(TASK_TOML.format(join_window=600), deployment, tmp_path, capsys,
                        monkeypatch)  # fmt: skip
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mnist-like.npz", x=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8),
             y=rng.integers(0, 10, 64))  # fmt: skip
    address = ACCOUNTS[5].address
    before = _balance_and_roles(node.url, deployment, address)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[5])
    code, out, err = run(["client", "run", "--task", task, "--data-file", "mnist-like.npz",
                          "--deployment", str(deployment), "--store",
                          f"local:{tmp_path / 'store'}", "--name", "alice"], capsys)  # fmt: skip
    assert_one_error_line(code, err, "your images are 1×28×28", "'cnn_digits' takes 1×8×8")
    assert out.startswith(f"client alice (0x{address[2:6]}…{address[-4:]}): task {task}")
    assert _balance_and_roles(node.url, deployment, address) == before  # no gas, no mortgage
    assert before[1] == 0
    code, out, _ = run(["task", "status", task, "--deployment", str(deployment), "--json"],
                       capsys)  # fmt: skip
    assert code == 0 and _last_json(out)["state"]["client_count"] == 0


@pytest.mark.anvil
def test_a_client_too_slow_for_the_window_does_not_join(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A real 1 s submission window against 100 epochs of local training: refused unless
    --join-anyway (training is timed for real on Anvil, whose time follows the clock)."""
    toml = TASK_TOML.format(join_window=600).replace("submit_window = 30", "submit_window = 1")
    task = _create_task(toml.replace("epochs = 1", "epochs = 100"), deployment, tmp_path, capsys,
                        monkeypatch)  # fmt: skip
    address = ACCOUNTS[5].address
    before = _balance_and_roles(node.url, deployment, address)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[5])
    code, _, err = run(["client", "run", "--task", task, "--dataset", "digits", "--shard", "0/2",
                        "--deployment", str(deployment), "--store",
                        f"local:{tmp_path / 'store'}"], capsys)  # fmt: skip
    assert_one_error_line(code, err, "local training takes about", "1 s submission window",
                          "no mortgage is locked", "--join-anyway")  # fmt: skip
    assert _balance_and_roles(node.url, deployment, address) == before


@pytest.mark.anvil
def test_interrupt_timeout_and_restart(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A client joins, is interrupted (130), restarts without joining twice, times out (1)."""
    (tmp_path / "task.toml").write_text(TASK_TOML.format(join_window=600))
    store = tmp_path / "store"
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[4])
    code, out, err = run(["task", "create", "task.toml", "--deployment", str(deployment),
                          "--store", f"local:{store}", "--json"], capsys)  # fmt: skip
    assert code == 0, err
    task = str(_last_json(out)["task_id"])
    argv = cli("client", "run", "--task", task, "--dataset", "digits", "--shard", "0/2",
               "--poll", "0.2")  # fmt: skip
    proc = subprocess.Popen(argv, env=_env(KEYS[5], deployment, store), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stderr is not None
        joined = ""
        while "joined task" not in joined:
            line = proc.stderr.readline()
            assert line, "the client exited before joining"
            joined = line
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1].startswith("interrupted: the client stopped")
    assert "Traceback" not in err
    again = subprocess.run([*argv, "--timeout", "1"], env=_env(KEYS[5], deployment, store),
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith(f"error: client: task {task} not done")
    assert "joined task" not in again.stderr  # it found its membership on chain


@pytest.mark.anvil
def test_a_miner_leaves_a_task_before_it_starts(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``fedchain leave``: the stake comes back before the start (the last miner takes the
    leaver's index); a second try, or a key that never joined, is one error line."""
    from fedchain.chain.deploy import Deployment

    task = _create_task(TASK_TOML.format(join_window=600), deployment, tmp_path, capsys,
                        monkeypatch)  # fmt: skip
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[5])
    store = f"local:{tmp_path / 'store'}"
    code, _, err = run(["miner", "run", "--task", task, "--stake", "1 wei", "--deployment",
                        str(deployment), "--store", store], capsys)  # fmt: skip
    assert_one_error_line(code, err, "is below task", "minimum of 0.001 ETH", "nothing was staked")
    stake = 10**15
    with connect(node.url) as chain:
        d = Deployment.from_json(chain, json.loads(deployment.read_text()))
        assert int(d.tasks.taskInfo(int(task)).minerCount) == 0
        assert int(d.registry.accountOf(ACCOUNTS[5].address).roles) == 0  # not even registered
        for k in (3, 5):
            d.registry.registerMiner(sender=ACCOUNTS[k])
            d.tasks.joinAsMiner(int(task), stake, sender=ACCOUNTS[k], value=stake)
        before = chain.balance(ACCOUNTS[3].address)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[3])
    argv = ["leave", "--task", task, "--deployment", str(deployment)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert f"task {task}: left as a miner; 0.001 ETH back, withdrew 0.001 ETH" in out
    with connect(node.url) as chain:
        d = Deployment.from_json(chain, json.loads(deployment.read_text()))
        assert chain.balance(ACCOUNTS[3].address) > before  # the stake is back, less gas
        moved = d.tasks.memberOf(int(task), ACCOUNTS[5].address)
        assert (int(moved.role), int(moved.index)) == (2, 0)
        assert int(d.tasks.taskInfo(int(task)).minerCount) == 1
    code, _, err = run(argv, capsys)
    assert_one_error_line(code, err, "is not a member of task")
