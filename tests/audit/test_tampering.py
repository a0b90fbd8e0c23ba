"""The audit against real tasks (embedded chain, real roles, a local store): an honest run
holds every check; each tampering on its own is named with its round, check and evidence, and
``fedchain audit`` exits with the documented code (0 ok, 4 mismatch, 5 could not check)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import fedchain.audit.money as audit_money
import fedchain.roles.miner as miner_module
from fedchain.audit import (
    CHECKS,
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_UNCHECKED,
    OPTIONAL_CHECKS,
    AuditReport,
    AuditSource,
    audit_task,
)
from fedchain.audit.rundir import audit_run_dir
from fedchain.chain.connection import connect
from fedchain.cli import main
from fedchain.roles.judging import judge_round
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import SimConfig, SimResult, run_simulation
from fedchain.storage import open_store
from fedchain.storage.local import LocalStore

LOUD_FLIP = {"name": "sign_flip", "params": {"scale": 4.0}}
ATTACKER = 4


def _task(policy: str = "reputation") -> TaskFile:
    return TaskFile.from_dict({
        "task": {"max_clients": 5, "rounds": 2, "byzantine_f": 1, "committee_size": 3},
        "rewards": {"policy": policy, "reward_unit": "0.0001 ether",
                    "client_mortgage": 6 * 10**15},
        "training": {"epochs": 1},
    })  # fmt: skip


class Run:
    """A finished task on an open chain, and its store directory."""

    def __init__(self, result: SimResult, chain: Any, store_dir: Path) -> None:
        self.result, self.chain, self.store_dir = result, chain, store_dir
        assert result.deployment is not None
        self.deployment = result.deployment
        self.task_id = int(result.summary["task_id"])
        self.clients: list[str] = result.summary["clients"]

    def audit(self, store_dir: Path | None = None) -> AuditReport:
        store = open_store(f"local:{store_dir or self.store_dir}")
        try:
            dep = self.deployment
            source = AuditSource(chain=self.chain, deployment=dep, store=store,
                                 from_block=dep.deployed_block, where="embedded")  # fmt: skip
            return audit_task(source, self.task_id)
        finally:
            store.close()


def _simulate(tmp: Path, *, seed: int = 2, policy: str = "reputation", **options: Any) -> Run:
    torch.set_num_threads(1)
    store_dir = tmp / f"store-{seed}"
    chain = connect("embedded", seed=seed, accounts=2)
    config = SimConfig(
        task=_task(policy), test_size=100, miners=3, seed=seed, store=f"local:{store_dir}",
        attacks={ATTACKER: LOUD_FLIP}, **options,
    )  # fmt: skip
    return Run(run_simulation(config, chain=chain), chain, store_dir)


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    run = _simulate(tmp_path_factory.mktemp("honest"))
    yield run
    run.chain.close()


def _only(report: AuditReport, status: str) -> list[Any]:
    return [f for f in report.findings if f.status == status]


def test_an_honest_run_holds_every_check(honest: Run) -> None:
    report = honest.audit()
    assert report.ok and report.exit_code() == EXIT_OK, [f.to_json() for f in report.findings
                                                       if f.status != "ok"]  # fmt: skip
    assert set(report.check_table()) == set(CHECKS) - OPTIONAL_CHECKS  # all but a release
    attacker = honest.clients[ATTACKER]
    for row in report.rounds:
        rejected = [s["client"] for s in row["submissions"] if s["index"] in row["rejected"]]
        assert rejected == [attacker]
        assert "outlier" in row["reasons"][ATTACKER]
        assert all(s["relayed"] and s["signer"] == s["client"] for s in row["submissions"])


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_a_recorded_run_directory_audits_the_same_from_the_cli(
    honest: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    live = audit_run_dir(honest.chain, honest.deployment, honest.task_id, run_dir,
                         store=f"local:{honest.store_dir}")  # fmt: skip
    shutil.copytree(honest.store_dir, run_dir / "store")
    code, out, _ = _cli(["audit", str(honest.task_id), "--run-dir", str(run_dir), "--json",
                         "--html", str(tmp_path / "a.html")], capsys)  # fmt: skip
    assert code == EXIT_OK
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"] is True and result["mismatches"] == [] and result["exit_code"] == 0
    assert result["checks"] == live.to_json()["checks"]
    assert "Every check holds" in (tmp_path / "a.html").read_text()
    code, _, err = _cli(["audit", "99", "--run-dir", str(run_dir)], capsys)
    assert code == 1 and "task 99 does not exist" in err and "Traceback" not in err
    code, _, err = _cli(["audit", "1", "--run-dir", str(tmp_path / "nowhere")], capsys)
    assert code == 1 and "does not exist" in err and "Traceback" not in err


def _store_copy(run: Run, tmp: Path) -> tuple[Path, str]:
    copy = tmp / "store-copy"
    shutil.copytree(run.store_dir, copy)
    report = run.audit()
    cid = report.rounds[1]["submissions"][0]["cid"]
    return copy, cid


def test_an_update_blob_removed_from_the_store_is_unchecked(honest: Run, tmp_path: Path) -> None:
    copy, cid = _store_copy(honest, tmp_path)
    LocalStore(copy).path_of(cid).unlink()
    report = honest.audit(copy)
    assert report.exit_code() == EXIT_UNCHECKED and not report.mismatches
    missing = [f for f in report.unchecked if f.check == "blob.update"]
    assert [(f.subject, f.round) for f in missing] == [(cid, 1)] and missing[0].tx_hash
    assert {f.check for f in report.unchecked if f.round == 1} >= {
        "judgement.accepted", "judgement.aggregate", "judgement.weights"}  # fmt: skip


def test_an_update_blob_corrupted_in_the_store_is_a_mismatch(honest: Run, tmp_path: Path) -> None:
    copy, cid = _store_copy(honest, tmp_path)
    path = LocalStore(copy).path_of(cid)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    report = honest.audit(copy)
    assert report.exit_code() == EXIT_MISMATCH
    bad = [f for f in report.mismatches if f.check == "blob.update"]
    assert [(f.subject, f.round) for f in bad] == [(cid, 1)] and bad[0].tx_hash


def test_a_payout_other_than_the_mirror_is_named(
    honest: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = audit_money._client_expectations
    victim = honest.clients[1].lower()

    def mirror_says_one_wei_more(*args: Any, **kwargs: Any) -> dict[str, dict[str, int]]:
        out = original(*args, **kwargs)
        out[victim] = {**out[victim], "payout": out[victim]["payout"] + 1}
        return out

    monkeypatch.setattr(audit_money, "_client_expectations", mirror_says_one_wei_more)
    report = honest.audit()
    assert report.exit_code() == EXIT_MISMATCH
    [bad] = report.mismatches
    assert bad.check == "money.client" and bad.subject.lower() == victim and bad.tx_hash
    assert bad.expected["payout"] == bad.found["payout"] + 1


def _patched_committee(monkeypatch: pytest.MonkeyPatch, change: Callable[[Any], None]) -> None:
    """Every miner of the run (one process) judges with ``change`` applied to its verdict: a
    colluding committee, while the audit keeps the true rule (its own import)."""

    def colluding(*args: Any, **kwargs: Any) -> Any:
        judgement = judge_round(*args, **kwargs)
        change(judgement)
        return judgement

    monkeypatch.setattr(miner_module, "judge_round", colluding)


def _named(report: AuditReport, check: str) -> list[Any]:
    found = [f for f in report.mismatches if f.check == check]
    assert found, f"the audit did not name {check}: {[f.to_json() for f in report.mismatches]}"
    assert all(f.round is not None and f.tx_hash for f in found)
    assert all(f.expected != f.found for f in found)
    return found


def test_a_colluding_quorum_that_accepts_the_attacker_is_named(tmp_path: Path) -> None:
    run = _simulate(tmp_path, seed=4, miner_faults={j: frozenset({"accept_all"}) for j in range(3)})
    try:
        report = run.audit()
        assert report.exit_code() == EXIT_MISMATCH
        found = _named(report, "judgement.accepted")
        attacker = run.clients[ATTACKER]
        assert sorted(f.round for f in found) == [0, 1]
        assert all(attacker in f.found and attacker not in f.expected for f in found)
        assert all(attacker.lower() in f.detail.lower() and "outlier" in f.detail for f in found)
    finally:
        run.chain.close()


def test_an_aggregate_that_is_not_the_fedavg_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def skew(judgement: Any) -> None:
        judgement.global_state = {k: np.asarray(v, np.float32) * np.float32(1.5)
                                  for k, v in judgement.global_state.items()}  # fmt: skip

    _patched_committee(monkeypatch, skew)
    run = _simulate(tmp_path, seed=5)
    monkeypatch.undo()
    try:
        report = run.audit()
        assert report.exit_code() == EXIT_MISMATCH
        found = _named(report, "judgement.aggregate")
        assert sorted(f.round for f in found) == [0, 1]
        assert {f.check for f in report.mismatches} == {"judgement.aggregate"}
    finally:
        run.chain.close()


def test_contribution_weights_moved_between_clients_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shift(judgement: Any) -> None:
        w = judgement.weights_bps
        w[0], w[1] = w[0] + 500, w[1] - 500  # two accepted honest clients

    _patched_committee(monkeypatch, shift)
    run = _simulate(tmp_path, seed=6, policy="contribution")
    monkeypatch.undo()
    try:
        report = run.audit()
        assert report.exit_code() == EXIT_MISMATCH
        found = _named(report, "judgement.weights")
        assert sorted(f.round for f in found) == [0, 1]
        assert all(f.found[0] - f.expected[0] == 500 for f in found)
        # and the rewards the contract paid follow the posted weights, so the mirror recomputed
        # from the same posted weights agrees: the weights check is what names the shift
        assert {f.check for f in report.mismatches} == {"judgement.weights"}
    finally:
        run.chain.close()
