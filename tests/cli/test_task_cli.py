"""``fedchain task init | create | follow | list`` as a requester meets them: an example file that
publishes, Ctrl-C that names ``task follow`` (never a second escrow), duplicate tasks refused,
a task nobody submits to exiting non-zero, and the run directory of a multi-process task.

Every participant is its own ``fedchain`` process on a real Anvil node."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fedchain.chain import DEFAULT_MNEMONIC, AnvilNode, connect, derive_accounts, find_anvil_binary
from fedchain.chain.errors import AnvilError
from fedchain.cli import main
from fedchain.cli.task import NO_MODEL_EXIT
from fedchain.roles.taskfile import DEFAULT_TASK_TOML, load_task_file

ACCOUNTS = derive_accounts(DEFAULT_MNEMONIC, 6)
KEYS = ["0x" + a.key.hex() for a in ACCOUNTS]  # the public Anvil test keys
ENV_VARS = (
    "FEDCHAIN_PRIVATE_KEY", "FEDCHAIN_KEYSTORE_PASSWORD", "FEDCHAIN_DEPLOYMENT",
    "FEDCHAIN_RPC_URL", "FEDCHAIN_STORE", "FEDCHAIN_KUBO_API",
)  # fmt: skip
SMALL_TASK = """\
[task]
name = "task-cli-test"
rounds = {rounds}
max_clients = 1
committee_size = 1
byzantine_f = 0
join_window = 45
submit_window = {submit_window}
verdict_window = 30

[rewards]
client_mortgage = "0.001 ether"
min_miner_stake = "0.001 ether"

[training]
epochs = 1

[privacy]
mechanism = "none"

[verification]
rule = "none"
"""
HINT = re.compile(r"'(fedchain task follow [^']*)'")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``fedchain ARGV`` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedchain.cli", *args]


def as_subprocess(command: str) -> list[str]:
    """A printed ``fedchain ...`` command line, run with this interpreter."""
    words = shlex.split(command)
    assert words[0] == "fedchain"
    return cli(*words[1:])


def last_json(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return parsed


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEDCHAIN_STORE", f"local:{tmp_path / 'default-store'}")
    monkeypatch.chdir(tmp_path)


# -- task init (no node) ----------------------------------------------------------------------


def test_init_writes_a_commented_file_that_passes_its_own_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["task", "init"], capsys)
    assert code == 0, err
    written = tmp_path / "task.toml"
    assert written.read_text() == DEFAULT_TASK_TOML and "# " in written.read_text()
    task = load_task_file(written)
    assert (task.rounds, task.max_clients, task.notes) == (5, 10, ())
    assert "wrote task.toml" in out and "fedchain task create task.toml" in out

    written.write_text("[task]\nrounds = 2\n")
    code, _, err = run(["task", "init"], capsys)
    assert code == 1 and "task.toml exists; pass --force" in error_line(err)
    assert written.read_text() == "[task]\nrounds = 2\n"  # left alone
    code, out, err = run(["task", "init", "sub/other.toml", "--force", "--json"], capsys)
    assert code == 0, err
    assert last_json(out) == {"path": "sub/other.toml", "rounds": 5, "escrow": 5 * 10**12}
    code, _, err = run(["task", "init", "--force"], capsys)
    assert code == 0 and written.read_text() == DEFAULT_TASK_TOML


def test_model_parameter_errors_name_the_file_and_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bogus.toml").write_text('[task]\n[model]\nparams = { norm = "bogus" }\n')
    code, _, err = run(["task", "create", "bogus.toml"], capsys)
    assert code == 1
    assert error_line(err).startswith("error: bogus.toml: [model] params: norm must be one of")


# -- on a real node ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    """An Anvil node for the module (dies with the test process)."""
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    # A block every second, as 'fedchain devnet up' runs it: a round nobody submits to closes
    # only once a block is stamped past its submission deadline.
    with AnvilNode(accounts=len(ACCOUNTS), block_time=1) as started:
        yield started


@pytest.fixture
def deployment(
    node: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    """A fresh deployment on the node, written by ``fedchain deploy``; its path."""
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[0])
    code, _, err = run(
        ["deploy", "--rpc-url", node.url, "--out", "dep.json", "--limits", "devnet"], capsys
    )
    assert code == 0, err
    monkeypatch.delenv("FEDCHAIN_PRIVATE_KEY")
    return tmp_path / "dep.json"


def _env(key: str, deployment: Path, store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(FEDCHAIN_PRIVATE_KEY=key, FEDCHAIN_DEPLOYMENT=str(deployment),
               FEDCHAIN_STORE=f"local:{store}", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")  # fmt: skip
    return env


def _task_count(url: str, deployment: Path) -> int:
    from fedchain.chain.deploy import Deployment

    with connect(url) as chain:
        return int(
            Deployment.from_json(chain, json.loads(deployment.read_text())).tasks.taskCount()
        )


@pytest.mark.anvil
def test_ctrl_c_names_task_follow_and_a_second_create_is_refused(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """SIGINT of ``task create --follow`` prints ``task follow ID``; that command carries on
    with the same task; ``task create`` of the same file is refused until ``--force``."""
    code, _, err = run(["task", "init"], capsys)  # the example file is one create accepts
    assert code == 0, err
    store = tmp_path / "store"
    env = _env(KEYS[1], deployment, store)
    first = _task_count(node.url, deployment) + 1
    proc = subprocess.Popen(
        cli("task", "create", "task.toml", "--follow", "--poll", "0.2", "--settle-after", "5"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(f"task {first} created: 5 round(s)"), (line, proc.stderr)
        time.sleep(2.0)  # well inside the follow loop, polling every 0.2 s
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "run the same command again" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: the requester stopped (carry on with ")
    found = HINT.search(last)
    assert found is not None, last
    hint = found.group(1)
    assert (
        hint == f"fedchain task follow {first} --settle-after 5"
    )  # the environment gives the rest
    assert _task_count(node.url, deployment) == first  # one escrow

    # The printed command carries on with the same task (and names itself again on timeout).
    again = subprocess.run([*as_subprocess(hint), "--timeout", "1", "--poll", "0.2"], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.returncode == 1, again.stderr
    assert error_line(again.stderr) == (
        f"error: requester: task {first} not done after 1 s (carry on with '{hint}')"
    )
    assert _task_count(node.url, deployment) == first

    # The same file again is refused, in one line naming the task and the command.
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    argv = ["task", "create", "task.toml", "--deployment", str(deployment), "--store",
            f"local:{store}"]  # fmt: skip
    code, _, err = run(argv, capsys)
    assert code == 1
    line = error_line(err)
    assert f"task {first} is this task" in line and "--force" in line
    assert f"'fedchain task follow {first} --deployment {deployment} --store local:{store}'" in line
    assert _task_count(node.url, deployment) == first
    # Another key may publish the same file; so may this one with --force.
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[2])
    code, out, err = run([*argv, "--json"], capsys)
    assert code == 0, err
    assert last_json(out)["task_id"] == first + 1
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    code, out, err = run([*argv, "--force", "--json"], capsys)
    assert code == 0, err
    assert last_json(out)["task_id"] == first + 2

    # task list: every task, or only this key's.
    monkeypatch.delenv("FEDCHAIN_PRIVATE_KEY")
    code, out, err = run(["task", "list", "--deployment", str(deployment), "--json"], capsys)
    assert code == 0, err
    listed = last_json(out)
    assert listed["count"] == 3 and listed["requester"] is None
    assert [t["task_id"] for t in listed["tasks"]] == [first, first + 1, first + 2]
    row = listed["tasks"][0]
    assert (row["status"], row["requester"], row["rounds_done"], row["rounds"]) == (
        "joining", ACCOUNTS[1].address, 0, 5,
    )  # fmt: skip
    assert row["escrow"] == 5 * 10**12 and (row["clients"], row["max_clients"]) == (0, 10)
    code, out, _ = run(["task", "list", "--deployment", str(deployment)], capsys)
    assert code == 0 and "joining" in out and "0/5" in out and "0.000005 ETH" in out
    assert ACCOUNTS[1].address[:6] in out
    code, _, err = run(["task", "list", "--deployment", str(deployment), "--mine"], capsys)
    assert code == 1 and "no key" in error_line(err)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    code, out, err = run(["task", "list", "--deployment", str(deployment), "--mine", "--json"],
                         capsys)  # fmt: skip
    assert code == 0, err
    assert [t["task_id"] for t in last_json(out)["tasks"]] == [first, first + 2]


def _run_task(
    url: str, deployment: Path, store: Path, requester_args: list[str], client_args: list[str]
) -> dict[str, tuple[int, str, str]]:
    """The requester (``task create task.toml --follow``), one client and one miner, each a
    process; their exit codes, stdouts and stderrs."""
    common = ["--poll", "0.2", "--timeout", "150"]
    task = str(_task_count(url, deployment) + 1)
    procs: dict[str, subprocess.Popen[str]] = {}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    try:
        procs["requester"] = subprocess.Popen(
            cli("task", "create", "task.toml", "--follow", "--settle-after", "1", *common,
                *requester_args),
            env=_env(KEYS[1], deployment, store), **pipes,  # type: ignore[call-overload]
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while _task_count(url, deployment) < int(task):
            assert procs["requester"].poll() is None, procs["requester"].communicate()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        procs["client"] = subprocess.Popen(
            cli("client", "run", "--task", task, "--dataset", "digits", "--shard", "0/4",
                *client_args, *common),
            env=_env(KEYS[2], deployment, store), **pipes,  # type: ignore[call-overload]
        )  # fmt: skip
        procs["miner"] = subprocess.Popen(
            cli("miner", "run", "--task", task, *common),
            env=_env(KEYS[3], deployment, store), **pipes,  # type: ignore[call-overload]
        )  # fmt: skip
        outputs = {name: p.communicate(timeout=200) for name, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    return {name: (p.returncode, *outputs[name]) for name, p in procs.items()}


@pytest.mark.anvil
def test_a_task_nobody_submits_to_warns_and_exits_non_zero(
    node: AnvilNode, deployment: Path, tmp_path: Path
) -> None:
    (tmp_path / "task.toml").write_text(SMALL_TASK.format(rounds=2, submit_window=3))
    results = _run_task(node.url, deployment, tmp_path / "store", ["--evaluate", "digits"],
                        ["--attack", "dropout:probability=1"])  # fmt: skip
    code, out, err = results["requester"]
    assert code == NO_MODEL_EXIT, err
    assert "Traceback" not in err
    for r in (1, 2):
        assert re.search(rf"WARNING: round {r}/2 of task \d+ finalized with no submissions", err)
    assert "100.0% of 0" not in out and "honest clients: no submissions to accept" in out
    assert "WARNING: no client submitted in round(s) 1, 2 of 2" in out
    assert "(the initial model: no update was ever accepted)" in out
    assert "final model: none trained (no client submitted an update in any round)" in out
    assert (
        err.strip()
        .splitlines()[-1]
        .endswith("produced no model: no client submitted an update in any round")
    )
    for name in ("client", "miner"):
        assert results[name][0] == 0, results[name][2]


@pytest.mark.anvil
def test_follow_writes_a_run_directory_and_names_the_fetch_command(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "task.toml").write_text(SMALL_TASK.format(rounds=1, submit_window=30))
    store = tmp_path / "store"
    requester_args = ["--run-dir", "run", "--store", f"local:{store}", "--json"]
    results = _run_task(node.url, deployment, store, requester_args, [])
    code, out, err = results["requester"]
    assert code == 0, err
    result = last_json(out)
    assert result["status"] == "finished" and result["no_model_reason"] is None
    assert result["empty_rounds"] == [] and result["rounds"][0]["accepted"] == [ACCOUNTS[2].address]
    run_dir = tmp_path / "run"
    assert result["run_dir"] == "run"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "accuracy.png", "payouts.png", "reputation.png", "result.json", "rounds.txt",
        "transactions.csv",
    ]  # fmt: skip
    saved = json.loads((run_dir / "result.json").read_text())
    assert saved["task_id"] == result["task_id"] and saved["final_model"] == result["final_model"]
    with (run_dir / "transactions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    labels = [r["label"] for r in rows]
    assert labels[0] == "TaskManager.createTask"
    for label in ("joinAsClient", "joinAsMiner", "startTask", "submitUpdate", "postVerdict"):
        assert f"TaskManager.{label}" in labels, labels
    by_sender = {r["sender"] for r in rows}
    assert {a.address for a in ACCOUNTS[1:4]} <= by_sender
    round_gas = sum(int(r["gas_used"]) for r in rows if r["round"] == "0")
    assert saved["rounds"][0]["gas"] == round_gas > 0
    table = (run_dir / "rounds.txt").read_text()
    assert f"task {result['task_id']}" in table and "1/1" in table
    fetch = next(line for line in err.splitlines() if line.startswith("fetch it with: "))
    command = fetch.removeprefix("fetch it with: ")
    assert command == (
        f"fedchain ipfs get {result['final_model']} -o final.safetensors --store local:{store}"
    )
    code, _, err = run(shlex.split(command)[1:], capsys)
    assert code == 0, err
    assert (tmp_path / "final.safetensors").stat().st_size > 0


@pytest.mark.anvil
def test_an_identical_request_gets_the_cached_model_and_a_stranger_cannot_answer_it(
    node: AnvilNode, deployment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """M3: a task with a [request] finishes; the same request (its terms in another order, other
    rounds) is then answered from the cache with that task's model, by the requester and by
    anyone who trusts the requester; a stranger's own lookup finds nothing of its own."""
    request = '\n[request]\nterms = ["Digits", "handwriting"]\n'
    (tmp_path / "task.toml").write_text(SMALL_TASK.format(rounds=1, submit_window=30) + request)
    store = tmp_path / "store"
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    argv = ["request", "task.toml", "--deployment", str(deployment), "--json"]
    code, out, err = run(argv, capsys)
    assert code == 4 and last_json(out)["cached"] is False
    assert "fedchain task create task.toml" in err
    results = _run_task(node.url, deployment, store, ["--store", f"local:{store}", "--json"], [])
    code, out, err = results["requester"]
    assert code == 0, err
    finished = last_json(out)
    again = SMALL_TASK.format(rounds=2, submit_window=30) + request.replace(
        '"Digits", "handwriting"', '"handwriting", "digits"'
    )
    (tmp_path / "again.toml").write_text(again)
    argv = ["request", "again.toml", "--deployment", str(deployment), "--store",
            f"local:{store}", "--out", "model.safetensors", "--json"]  # fmt: skip
    code, out, err = run(argv, capsys)
    assert code == 0, err
    answer = last_json(out)
    assert (answer["task_id"], answer["cid"]) == (finished["task_id"], finished["final_model"])
    assert answer["requester"] == ACCOUNTS[1].address and answer["perturbed"] is False
    assert f"request answered by task {finished['task_id']}" in err
    assert (tmp_path / "model.safetensors").stat().st_size > 0
    code, _, err = run(argv, capsys)
    assert code == 1 and "model.safetensors exists" in error_line(err)
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[4])  # a stranger: its own entry is empty
    code, out, _ = run(["request", "again.toml", "--deployment", str(deployment), "--json"],
                       capsys)  # fmt: skip
    assert code == 4 and last_json(out)["requesters"] == [ACCOUNTS[4].address]
    code, out, err = run(["request", "again.toml", "--deployment", str(deployment), "--from",
                          ACCOUNTS[1].address, "--json"], capsys)  # fmt: skip
    assert code == 0 and last_json(out)["task_id"] == finished["task_id"], err
    code, _, err = run(["request", "again.toml", "--deployment", str(deployment), "--from",
                        "0x1234"], capsys)  # fmt: skip
    assert code == 1 and "'0x1234' is not an Ethereum address" in error_line(err)
    code, _, err = run(["request", "nope.toml", "--deployment", str(deployment)], capsys)
    assert code == 1 and "nope.toml" in error_line(err)
    (tmp_path / "plain.toml").write_text(SMALL_TASK.format(rounds=1, submit_window=30))
    code, _, err = run(["request", "plain.toml", "--deployment", str(deployment)], capsys)
    assert code == 1 and "has no [request] section" in error_line(err)


@pytest.mark.anvil
def test_a_task_file_outside_the_deployments_limits_is_refused_before_anything_is_locked(
    node: AnvilNode, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``fedchain deploy`` defaults to the production limits (an hour to join at least); the
    example task file's 10-minute join window is refused in one line, and no task is created."""
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[0])
    code, _, err = run(["deploy", "--rpc-url", node.url, "--out", "d.json", "--limits", "x"],
                       capsys)  # fmt: skip
    assert code == 1 and "--limits must be production or devnet" in error_line(err)
    code, out, err = run(["deploy", "--rpc-url", node.url, "--out", "prod.json"], capsys)
    assert code == 0, err
    assert "task limits (production): join window 1 h to 30 days" in out
    code, _, err = run(["task", "init"], capsys)
    assert code == 0, err
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", KEYS[1])
    with connect(node.url) as chain:
        before = chain.balance(ACCOUNTS[1].address)
    code, _, err = run(["task", "create", "task.toml", "--deployment", "prod.json"], capsys)
    assert code == 1
    line = error_line(err)
    assert line.startswith("error: task.toml: [task] join_window = 600 is outside 3600..")
    assert "production limits" in line and "nothing was published" in line
    assert _task_count(node.url, tmp_path / "prod.json") == 0
    with connect(node.url) as chain:
        assert chain.balance(ACCOUNTS[1].address) == before
