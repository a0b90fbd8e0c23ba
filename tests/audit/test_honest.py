"""An honest task with a loud sign-flipper: every check holds, live and from a recording."""

from __future__ import annotations

from pathlib import Path

from fedchain.audit import CHECKS, EXIT_OK, OPTIONAL_CHECKS, AuditReport, audit_task, open_source

from .simrun import ATTACKER, LOUD_FLIP, Run, simulate

#: A finished task with DP-declaring clients and settled money: every check applies but the
#: release's, which only a request with a release has (tests/audit/test_release.py).
EXPECTED_CHECKS = set(CHECKS) - OPTIONAL_CHECKS


def test_every_check_holds(honest: Run, honest_report: AuditReport) -> None:
    report = honest_report
    assert report.mismatches == [] and report.unchecked == []
    assert report.ok and report.exit_code() == EXIT_OK
    table = report.check_table()
    assert set(table) == EXPECTED_CHECKS
    assert all(row["status"] == "ok" and row["ok"] > 0 for row in table.values())
    doc = report.to_json()
    assert doc["ok"] is True and doc["exit_code"] == 0
    assert doc["mismatches"] == [] and doc["unchecked"] == []
    assert {name: row["status"] for name, row in doc["checks"].items()} == dict.fromkeys(
        EXPECTED_CHECKS, "ok"
    )


def test_items_counted(honest: Run, honest_report: AuditReport) -> None:
    """One finding per item: 5 updates and their authors per round, one verdict per round,
    every client and miner settled."""
    table = honest_report.check_table()
    assert table["blob.update"]["ok"] == 10 and table["authorship.update"]["ok"] == 10
    for name in ("judgement.accepted", "judgement.aggregate", "judgement.weights",
                 "committee.seats", "blob.global"):  # fmt: skip
        assert table[name]["ok"] == 2, name
    assert table["money.client"]["ok"] == 5 and table["money.miner"]["ok"] == 3
    assert table["money.escrow"]["ok"] == 1


def test_the_attacker_is_rejected_in_every_round(honest: Run, honest_report: AuditReport) -> None:
    rounds = honest_report.rounds
    assert [r["round"] for r in rounds] == [0, 1]
    for row in rounds:
        assert row["rejected"] == [ATTACKER]
        assert row["accepted"] == [0, 1, 2, 3] == row["aggregated"]
        assert "outlier" in row["reasons"][ATTACKER]
        assert row["scores"][ATTACKER] > max(row["scores"][i] for i in range(4))
        assert [s["client"] for s in row["submissions"]] == honest.clients
        assert all(s["signer"] == s["client"] for s in row["submissions"])
        assert row["max_difference"] is not None and row["max_difference"] <= 1e-6
    assert honest_report.status_of(subject=honest.attacker) == "ok"


def test_a_recorded_run_dir_audits_the_same(
    honest: Run, honest_report: AuditReport, tmp_path: Path
) -> None:
    run_dir = honest.write_run_dir(tmp_path / "run")
    with open_source(run_dir=run_dir) as source:
        assert source.chain.kind == "recorded"
        assert source.from_block == honest.deployment.deployed_block
        report = audit_task(source, honest.task_id)
    assert report.ok and report.exit_code() == EXIT_OK
    assert report.check_table() == honest_report.check_table()
    assert [f.to_json() for f in report.findings] == [f.to_json() for f in honest_report.findings]
    assert report.rounds == honest_report.rounds


def test_direct_submissions_are_authored_by_their_senders(tmp_path: Path) -> None:
    """Without the relay every client sends its own ``submitUpdate``: the author is the
    transaction's sender, live and from a recording."""
    with simulate(tmp_path / "store", attacks={ATTACKER: LOUD_FLIP}, relay=False) as run:
        report = run.audit()
        run_dir = run.write_run_dir(tmp_path / "run")
    assert report.ok and report.exit_code() == EXIT_OK, [f.to_json() for f in report.mismatches]
    assert report.check_table()["authorship.update"]["ok"] == 10
    for row in report.rounds:
        subs = row["submissions"]
        assert all(not s["relayed"] and s["signer"] == s["client"] for s in subs)
        assert len({s["tx_hash"] for s in subs}) == len(subs)  # one transaction each
        assert row["rejected"] == [ATTACKER]
    with open_source(run_dir=run_dir) as source:
        recorded = audit_task(source, run.task_id)
    assert [f.to_json() for f in recorded.findings] == [f.to_json() for f in report.findings]
