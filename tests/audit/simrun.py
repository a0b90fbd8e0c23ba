"""One small simulated task kept open for the audit: the embedded chain, real roles, a local
store in a directory the test owns, and helpers to audit it, copy its store or write a run
directory."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedchain.audit import RECORDING_FILE, AuditReport, AuditSource, audit_task, record_chain
from fedchain.chain.connection import Chain, connect
from fedchain.chain.deploy import Deployment
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import SimConfig, SimResult, run_simulation
from fedchain.storage import open_store

MORTGAGE = 6 * 10**15  # divisible by the 2 rounds
#: A sign-flipper loud enough to be an outlier (rejected by the rule, not only cut).
LOUD_FLIP = {"name": "sign_flip", "params": {"scale": 4.0}}
#: A plain sign-flipper: accepted, but left out of the aggregate by Multi-KRUM's cut.
PLAIN_FLIP = {"name": "sign_flip"}
ATTACKER = 4


def task_file(policy: str = "reputation") -> TaskFile:
    """5 clients, 2 rounds, f = 1, a committee of 3."""
    return TaskFile.from_dict({
        "task": {"max_clients": 5, "rounds": 2, "byzantine_f": 1, "committee_size": 3},
        "rewards": {"policy": policy, "reward_unit": "0.0001 ether", "client_mortgage": MORTGAGE},
        "training": {"epochs": 1},
    })  # fmt: skip


@dataclass
class Run:
    """A finished task on a chain that is still open."""

    chain: Chain
    result: SimResult
    store_dir: Path

    @property
    def deployment(self) -> Deployment:
        assert self.result.deployment is not None
        return self.result.deployment

    @property
    def task_id(self) -> int:
        return int(self.result.summary["task_id"])

    @property
    def clients(self) -> list[str]:
        return list(self.result.summary["clients"])

    @property
    def attacker(self) -> str:
        return self.clients[ATTACKER]

    def source(self, store_dir: Path | None = None) -> AuditSource:
        dep = self.deployment
        return AuditSource(
            chain=self.chain, deployment=dep,
            store=open_store(f"local:{store_dir or self.store_dir}"),
            from_block=dep.deployed_block, where="the embedded chain",
        )  # fmt: skip

    def audit(self, store_dir: Path | None = None) -> AuditReport:
        """Audit the task on the live chain (the store: the run's own, or a copy)."""
        source = self.source(store_dir)
        try:
            return audit_task(source, self.task_id)
        finally:
            source.store.close()

    def copy_store(self, target: Path) -> Path:
        shutil.copytree(self.store_dir, target)
        return target

    def write_run_dir(self, target: Path) -> Path:
        """A run directory as ``fedchain demo`` leaves it: chain.json, deployment.json, store/."""
        target.mkdir(parents=True)
        dep = self.deployment
        record_chain(self.chain.w3, target / RECORDING_FILE, from_block=dep.deployed_block)
        (target / "deployment.json").write_text(json.dumps(dep.to_json()), encoding="utf-8")
        self.copy_store(target / "store")
        return target


@contextmanager
def simulate(store_dir: Path, *, seed: int = 1, policy: str = "reputation",
             task: TaskFile | None = None, **options: Any) -> Iterator[Run]:  # fmt: skip
    """Run the task (default :func:`task_file`) on a fresh embedded chain, kept open while the
    caller audits it."""
    chain = connect("embedded", seed=seed, accounts=2)
    try:
        config = SimConfig(
            task=task or task_file(policy), test_size=100, miners=3, seed=seed,
            store=f"local:{store_dir}", **options,
        )  # fmt: skip
        yield Run(chain=chain, result=run_simulation(config, chain=chain), store_dir=store_dir)
    finally:
        chain.close()


def update_cid(report: AuditReport, round: int, client: str) -> str:
    """The CID of ``client``'s update in ``round``, as the audit's round rows list it."""
    row = next(r for r in report.rounds if r["round"] == round)
    return next(s["cid"] for s in row["submissions"] if s["client"].lower() == client.lower())
