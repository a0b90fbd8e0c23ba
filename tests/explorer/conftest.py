"""What the explorer's tests browse: a finished task (embedded chain, real roles, a loud
sign-flipper), run once per session, and a bare deployment for transactions made by hand."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from fedchain.audit import AuditSource
from fedchain.chain.connection import connect
from fedchain.chain.deploy import deploy_fedchain
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import SimConfig, run_simulation
from fedchain.storage import open_store

LOUD_FLIP = {"name": "sign_flip", "params": {"scale": 4.0}}
ATTACKER = 4


@pytest.fixture(scope="session")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """5 clients (client 4 flips its update's sign ×4), 2 rounds, 3 honest miners; finished."""
    torch.set_num_threads(1)
    store_dir = tmp_path_factory.mktemp("explorer-store")
    task = TaskFile.from_dict({
        "task": {"max_clients": 5, "rounds": 2, "byzantine_f": 1, "committee_size": 3},
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": 6 * 10**15},
        "training": {"epochs": 1},
    })  # fmt: skip
    chain = connect("embedded", seed=3, accounts=2)
    try:
        result = run_simulation(
            SimConfig(task=task, test_size=100, miners=3, seed=3, store=f"local:{store_dir}",
                      attacks={ATTACKER: LOUD_FLIP}),
            chain=chain,
        )  # fmt: skip
        dep = result.deployment
        assert dep is not None
        store = open_store(f"local:{store_dir}")
        source = AuditSource(chain=chain, deployment=dep, store=store,
                             from_block=dep.deployed_block, where="the embedded chain")  # fmt: skip
        yield {"source": source, "result": result, "task_id": int(result.summary["task_id"]),
               "attacker": result.summary["clients"][ATTACKER], "store_dir": store_dir}  # fmt: skip
        store.close()
    finally:
        chain.close()


@pytest.fixture(scope="session")
def run_dir(finished: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The finished task written as ``fedchain demo`` writes a run directory (deployment.json,
    the recorded chain.json, the audit); its blobs stay in ``finished["store_dir"]``."""
    from fedchain.audit.rundir import audit_run_dir

    source = finished["source"]
    directory = tmp_path_factory.mktemp("explorer-run") / "run"
    audit_run_dir(source.chain, source.deployment, finished["task_id"], directory,
                  store=f"local:{finished['store_dir']}")  # fmt: skip
    return directory


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[AuditSource]:
    """A fresh embedded chain with the three contracts and no task; an empty store."""
    chain = connect("embedded", seed=0)
    try:
        dep = deploy_fedchain(chain, deployer=chain.dev_accounts()[0])
        store = open_store(f"local:{tmp_path / 'store'}")
        yield AuditSource(chain=chain, deployment=dep, store=store,
                          from_block=dep.deployed_block, where="a bare deployment")  # fmt: skip
        store.close()
    finally:
        chain.close()


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(finished: dict[str, Any]) -> Iterator[str]:
    """The explorer over the finished task, served by uvicorn in a thread; its base URL."""
    import uvicorn

    from fedchain.explorer import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(finished["source"]), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the explorer did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
