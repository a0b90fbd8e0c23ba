"""``fedchain audit`` on a recorded run directory, through the real entry point
(:func:`fedchain.cli.main`, which turns expected failures into one line): the JSON object last,
exit 0 / 4 / 5 as ``docs/audit.md`` documents, and one readable line (exit 1) for bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from fedchain.audit import (
    CHECKS,
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_UNCHECKED,
    OPTIONAL_CHECKS,
    AuditReport,
)
from fedchain.cli import main
from fedchain.storage.local import LocalStore

from .simrun import Run, update_cid


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def _last_json(out: str) -> dict[str, Any]:
    doc = json.loads(out.strip().splitlines()[-1])
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def run_dir(honest: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return honest.write_run_dir(tmp_path_factory.mktemp("cli") / "run")


@pytest.fixture
def run_copy(run_dir: Path, tmp_path: Path) -> Path:
    """A run directory of the test's own, to tamper with."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def test_an_honest_run_dir_exits_0_with_every_check_ok(
    honest: Run, honest_report: AuditReport, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(["audit", str(honest.task_id), "--run-dir", str(run_dir), "--json"],
                          capsys)  # fmt: skip
    assert code == EXIT_OK, err
    doc = _last_json(out)
    assert doc["ok"] is True and doc["exit_code"] == EXIT_OK and doc["task_id"] == honest.task_id
    assert doc["mismatches"] == [] and doc["unchecked"] == []
    assert set(doc["checks"]) == set(CHECKS) - OPTIONAL_CHECKS  # no release here
    assert all(row["status"] == "ok" for row in doc["checks"].values())
    assert doc["checks"] == honest_report.to_json()["checks"]
    assert doc["findings"] == len(honest_report.findings)
    assert "Traceback" not in err


def test_the_table_names_every_check(
    honest: Run, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(["audit", str(honest.task_id), "--run-dir", str(run_dir)], capsys)
    assert code == EXIT_OK
    for name in set(CHECKS) - OPTIONAL_CHECKS:  # a release only with [request]
        assert name in out
    assert out.strip().splitlines()[-1].endswith("every check holds")


def test_a_removed_update_blob_exits_5(
    honest: Run, honest_report: AuditReport, run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = update_cid(honest_report, 1, honest.clients[3])
    LocalStore(run_copy / "store").path_of(cid).unlink()
    code, out, _ = _cli(["audit", str(honest.task_id), "--run-dir", str(run_copy), "--json"],
                        capsys)  # fmt: skip
    assert code == EXIT_UNCHECKED
    doc = _last_json(out)
    assert doc["ok"] is False and doc["exit_code"] == EXIT_UNCHECKED and doc["mismatches"] == []
    assert doc["checks"]["blob.update"]["status"] == "unchecked"
    [blob] = [f for f in doc["unchecked"] if f["check"] == "blob.update"]
    assert (blob["subject"], blob["round"]) == (cid, 1) and blob["tx_hash"].startswith("0x")
    judged = sorted(f["check"] for f in doc["unchecked"] if f["check"].startswith("judgement"))
    assert judged == ["judgement.accepted", "judgement.aggregate", "judgement.weights"]
    assert all(f["round"] == 1 for f in doc["unchecked"] if f["check"].startswith("judgement"))


def test_a_corrupted_update_blob_exits_4(
    honest: Run, honest_report: AuditReport, run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cid = update_cid(honest_report, 0, honest.clients[0])
    path = LocalStore(run_copy / "store").path_of(cid)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))
    code, out, _ = _cli(["audit", str(honest.task_id), "--run-dir", str(run_copy), "--json"],
                        capsys)  # fmt: skip
    assert code == EXIT_MISMATCH
    doc = _last_json(out)
    assert doc["ok"] is False and doc["exit_code"] == EXIT_MISMATCH
    [bad] = doc["mismatches"]
    assert (bad["check"], bad["subject"], bad["round"]) == ("blob.update", cid, 0)
    assert bad["tx_hash"].startswith("0x") and bad["expected"] and bad["found"]
    assert bad["expected"] != bad["found"]
    assert doc["checks"]["blob.update"] == {"status": "mismatch", "ok": 9, "unchecked": 0,
                                            "mismatch": 1}  # fmt: skip


def test_a_store_named_apart_from_the_run_dir(
    honest: Run, run_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "blobs"
    shutil.move(run_copy / "store", elsewhere)
    argv = ["audit", str(honest.task_id), "--run-dir", str(run_copy), "--json"]
    code, out, _ = _cli([*argv, "--store", str(elsewhere)], capsys)
    assert code == EXIT_OK and _last_json(out)["ok"] is True
    # without it, the run dir's (now empty) store/ has none of the blobs: nothing mismatches
    code, out, _ = _cli(argv, capsys)
    doc = _last_json(out)
    assert code == EXIT_UNCHECKED and doc["mismatches"] == []
    assert doc["checks"]["blob.initial"]["status"] == "unchecked"


def _one_line_error(code: int, out: str, err: str) -> str:
    assert code == 1, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_an_unknown_task_is_one_line(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line_error(*_cli(["audit", "99", "--run-dir", str(run_dir)], capsys))
    assert "task 99 does not exist" in line


def test_a_missing_run_dir_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    line = _one_line_error(*_cli(["audit", "1", "--run-dir", str(missing), "--json"], capsys))
    assert str(missing) in line and "does not exist" in line


def test_a_run_dir_without_its_deployment_is_one_line(
    run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_copy / "deployment.json").unlink()
    line = _one_line_error(*_cli(["audit", "1", "--run-dir", str(run_copy)], capsys))
    assert "deployment.json" in line


def test_a_broken_recording_is_one_line(run_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_copy / "chain.json").write_text("{not json", encoding="utf-8")
    line = _one_line_error(*_cli(["audit", "1", "--run-dir", str(run_copy)], capsys))
    assert "chain.json" in line


def test_nothing_to_audit_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_line_error(*_cli(["audit", "1"], capsys))
    assert "--run-dir" in line


def test_the_terminal_counts_rounds_from_1_only(
    honest: Run, honest_report: AuditReport, run_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/audit.md: rounds are counted from 1 on the terminal. A blob missing in the second
    round (index 1): every problem line names round 2, and no other."""
    cid = update_cid(honest_report, 1, honest.clients[3])
    LocalStore(run_copy / "store").path_of(cid).unlink()
    code, out, _ = _cli(["audit", str(honest.task_id), "--run-dir", str(run_copy)], capsys)
    assert code == EXIT_UNCHECKED
    problems = [line for line in out.splitlines() if line.startswith("unchecked: ")]
    assert len(problems) == 4
    assert {n for line in problems for n in re.findall(r"\bround (\d+)", line)} == {"2"}
