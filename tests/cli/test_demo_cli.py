"""``fedchain demo`` (what ``make demo`` runs): the issue's acceptance criteria on its defaults.

Real everything: digits, feature DP, ten client roles (a sign-flipper and a free-rider among
them), three miners, the embedded chain and a local store, five rounds.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fedchain.cli import main
from fedchain.cli.demo import parse_attacks
from fedchain.report import acceptance_stats


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_demo_defaults_meet_the_acceptance_criteria(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    code, out, err = _run(["demo", "--json", "--run-dir", str(run_dir)], capsys)
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    clients = result["clients"]
    assert len(clients) == 10 and len(result["miners"]) == 3 and len(result["rounds"]) == 5
    assert result["malicious"] == [clients[8], clients[9]]
    assert result["behaviours"] == {clients[8]: "sign_flip", clients[9]: "free_rider"}
    stats = acceptance_stats(result)
    assert stats["honest_accepted_share"] >= 0.9
    assert stats["malicious_rejected_share"] >= 0.9
    assert result["final_accuracy"] >= 0.90
    assert result["epsilon"] == 2.0 and result["privacy"]["mechanism"] == "feature_dp"
    escrow = result["escrow"]
    assert escrow["paid"] + escrow["refunded"] == escrow["deposited"] > 0
    assert result["balanced"] is True and result["settled"] is True
    assert set(result["reputation"]) == set(clients)
    assert all(len(v) == 5 for v in result["reputation"].values())
    for row in result["rounds"]:
        assert set(row) >= {"accepted", "rejected", "accuracy"}
    assert result["gas_total"] > 0
    # The run directory: JSON, plots, transactions.
    assert (
        json.loads((run_dir / "result.json").read_text())["final_accuracy"]
        == result["final_accuracy"]
    )
    for plot in ("accuracy.png", "reputation.png", "payouts.png"):
        assert (run_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (run_dir / "transactions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    labels = {r["label"] for r in rows}
    assert {"ITaskManager.createTask", "ITaskManager.submitUpdatesBySig",
            "ITaskManager.postVerdict"} <= labels  # fmt: skip

    # Seats are drawn with replacement: a leader holding a quorum of seats (2 of 3) finalizes
    # its own verdict; a round whose leader holds fewer needs an attestation.
    def leader_seats(row: dict) -> int:
        return sum(1 for m in row["committee"] if m.lower() == row["leader"].lower())

    if any(leader_seats(row) < 2 for row in result["rounds"]):
        assert "ITaskManager.attestVerdict" in labels
    # The demo audits itself: every check holds, and the files are there to audit it again.
    assert result["audit"]["ok"] is True and result["audit"]["mismatches"] == 0
    assert result["audit"]["checks"] > 50 and result["audit"]["check_names"] >= 15
    audit = json.loads((run_dir / "audit.json").read_text())
    assert audit["ok"] is True and audit["exit_code"] == 0
    for name in ("audit.html", "deployment.json", "chain.json"):
        assert (run_dir / name).stat().st_size > 0


def test_demo_prints_the_round_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        ["demo", "--clients", "4", "--rounds", "1", "--miners", "1",
         "--attack", "3=sign_flip:scale=4", "--run-dir", str(tmp_path / "r")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "round" in out and "accuracy" in out and "escrow" in out
    assert "malicious c3 (sign_flip) rejected 1/1 rounds" in out


def test_demo_mutual_mode_names_the_flagged_scorer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        ["demo", "--mode", "mutual", "--clients", "4", "--rounds", "1", "--miners", "1",
         "--attack", "2=label_flip", "--attack", "3=dishonest_scores",
         "--run-dir", str(tmp_path / "r")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "malicious c2 (label_flip) rejected 1/1 rounds (poor)" in out
    assert "mutual supervision: 4 score rows on chain; flagged as dishonest scorers: c3" in out
    assert "every check holds" in out


def test_attack_options_parse_parameters_and_schedules() -> None:
    options = ["8=sign_flip:scale=4", "3=copycat@2-", "4=label_flip@1-3", "5=scale@2"]
    assert parse_attacks(options) == {
        8: {"name": "sign_flip", "params": {"scale": 4}},
        3: {"name": "copycat", "params": {}, "from_round": 2},
        4: {"name": "label_flip", "params": {}, "from_round": 1, "until_round": 3},
        5: {"name": "scale", "params": {}, "from_round": 2, "until_round": 2},
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--attack", "x"], "--attack 'x'"),
        (["demo", "--attack", "12=sign_flip"], "attack on client 12"),
        (["demo", "--attack", "1=no_such_attack"], "no_such_attack"),
        (["demo", "--dataset", "mnist"], "--data"),
        (["demo", "--attack", "1=sign_flip@x"], "a schedule is @FROM-"),
        (["demo", "--attack", "1=sign_flip@3-1"], "before"),
        (["demo", "--mode", "ring"], "--mode 'ring': choose one of star, mutual"),
    ],
)
def test_demo_bad_options_are_one_line_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run([*argv, "--run-dir", str(tmp_path / "r")], capsys)
    assert code == 1
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_demo_run_directory_names_senders_rounds_and_who_is_who(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """transactions.csv has the sender of every row and the round of every round's call;
    the labels on screen (c0, m0) map to addresses in the output and in result.json."""
    run_dir = tmp_path / "r"
    code, out, err = _run(
        ["demo", "--clients", "4", "--rounds", "2", "--miners", "1", "--attack", "none",
         "--run-dir", str(run_dir)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((run_dir / "result.json").read_text())
    clients, miners = result["clients"], result["miners"]
    assert {result["names"][a] for a in clients} == {"c0", "c1", "c2", "c3"}
    assert result["names"][miners[0]] == "m0"
    legend = {p["label"]: p for p in result["participants"]}
    for address in clients + miners:
        label = result["names"][address]
        assert legend[label]["address"] == address
        assert f"{label} = {address} ({legend[label]['role']})" in out
    assert "gwei" not in out  # one unit on screen

    with (run_dir / "transactions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["sender"].startswith("0x") and len(r["sender"]) == 42 for r in rows)
    participants = {a.lower() for a in (*clients, *miners, result["requester"])}
    by_label: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    for joined in by_label["ITaskManager.joinAsClient"]:
        assert joined["sender"].lower() in {a.lower() for a in clients}
    assert by_label["ITaskManager.createTask"][0]["sender"] == result["requester"]
    assert {r["sender"].lower() for r in rows} & participants
    for label in ("ITaskManager.submitUpdatesBySig", "ITaskManager.postVerdict"):
        assert sorted(int(r["round"]) for r in by_label[label]) == [0, 1], label
    assert by_label["ITaskManager.postVerdict"][0]["sender"].lower() == miners[0].lower()
