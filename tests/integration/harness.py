"""What the multi-process tests share: one ``fedchain`` OS process per participant, and waiting
for the chain with the participants' logs at hand when something goes wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Cast", "Participant", "cast_task", "wait_for"]


class Participant:
    """One ``fedchain`` process with its own key and log file."""

    def __init__(self, name: str, argv: list[str], key: str, logs: Path) -> None:
        self.name, self.argv, self.key, self.logs = name, argv, key, logs
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Participant:
        env = {**os.environ, "FEDCHAIN_PRIVATE_KEY": self.key, "OMP_NUM_THREADS": "1"}
        env.pop("FEDCHAIN_KEYSTORE_PASSWORD", None)
        self.starts += 1
        log = (self.logs / f"{self.name}.{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fedchain.cli", *self.argv],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C: SIGINT to the process, as a terminal sends it; returns its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def output(self) -> str:
        return (self.logs / f"{self.name}.{self.starts}.log").read_text(errors="replace")

    def last_json(self) -> dict[str, Any]:
        return dict(json.loads(self.output().strip().splitlines()[-1]))


def wait_for(
    what: str, predicate: Callable[[], bool], timeout: float, crowd: list[Participant]
) -> None:
    """Poll ``predicate`` until it holds; fail with the crowd's logs on a timeout, or as soon as
    one of them exits non-zero (killed ones excepted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in crowd:  # a participant that died early explains the wait
            if p.proc is not None and p.proc.poll() not in (None, 0, -9):
                raise AssertionError(f"{p.name} exited {p.proc.returncode}:\n{p.output()[-3000:]}")
        time.sleep(0.25)
    tails = "\n".join(f"--- {p.name}\n{p.output()[-1500:]}" for p in crowd)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


@dataclass
class Cast:
    """A deployed FedChain with a published task: the requester running, the miners and clients
    built (one process each, not started; client i uses key 1 + i, miner j key 1 + clients + j)."""

    deployment_file: Path
    store: str
    requester: Participant
    miners: list[Participant]
    clients: list[Participant]

    @property
    def everyone(self) -> list[Participant]:
        return [self.requester, *self.miners, *self.clients]


def cast_task(
    rpc_url: str,
    tmp_path: Path,
    keys: list[str],
    task_toml: str,
    *,
    clients: int,
    miners: int,
    attacks: Mapping[int, list[str]],
) -> Cast:
    """``fedchain deploy``, then ``fedchain task create --follow`` for ``task_toml`` (task 1),
    and the participant processes of ``fedchain miner run`` / ``fedchain client run`` (client i
    trains on shard i of the digits, with ``attacks[i]`` appended to its command line)."""
    from fedchain.chain import connect
    from fedchain.chain.deploy import Deployment

    logs = tmp_path / "logs"
    logs.mkdir()
    deployment_file = tmp_path / "deployment.json"
    store = f"local:{tmp_path / 'store'}"
    argv = ["deploy", "--rpc-url", rpc_url, "--limits", "devnet", "--out", str(deployment_file)]
    deploy = Participant("deploy", argv, keys[0], logs).start()
    assert deploy.proc is not None and deploy.proc.wait(120) == 0, deploy.output()
    (tmp_path / "task.toml").write_text(task_toml)
    common = ["--deployment", str(deployment_file), "--store", store, "--poll", "0.5", "--json"]
    requester = Participant(
        "requester",
        ["task", "create", str(tmp_path / "task.toml"), "--follow", "--settle-after", "5",
         "--evaluate", "digits", *common],
        keys[0], logs,
    ).start()  # fmt: skip
    with connect(rpc_url) as chain:
        d = Deployment.from_json(chain, json.loads(deployment_file.read_text()))
        wait_for("the task", lambda: int(d.tasks.taskCount()) == 1, 120, [requester])
    task = ["--task", "1"]
    miner_procs = [
        Participant(f"miner{j}", ["miner", "run", *task, *common], keys[1 + clients + j], logs)
        for j in range(miners)
    ]
    client_procs = []
    for i in range(clients):
        data = ["--dataset", "digits", "--shard", f"{i}/{clients}", "--seed", "0"]
        argv = ["client", "run", *task, *common, *data, *attacks.get(i, [])]
        client_procs.append(Participant(f"client{i}", argv, keys[1 + i], logs))
    return Cast(deployment_file, store, requester, miner_procs, client_procs)
