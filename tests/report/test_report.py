"""fedchain.report: round table, summary lines, plots and run directory of a finished task."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib.image
import pytest
from rich.console import Console

from fedchain.errors import ConfigError
from fedchain.report import (
    TRANSACTION_COLUMNS,
    acceptance_stats,
    client_labels,
    default_run_dir,
    format_wei,
    participant_legend,
    plot_accuracy,
    plot_payouts,
    plot_reputation,
    round_table,
    short_address,
    summary_lines,
    write_run_dir,
    write_transactions,
)
from fedchain.report import files as report_files

FINNEY = 10**15  # 0.001 ETH
N_CLIENTS, N_MINERS, N_ROUNDS = 10, 3, 5
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _address(role: str, index: int) -> str:
    return "0x" + hashlib.sha256(f"{role}{index}".encode()).hexdigest()[:40]


CLIENTS = [_address("client", i) for i in range(N_CLIENTS)]
MINERS = [_address("miner", i) for i in range(N_MINERS)]
REQUESTER = _address("requester", 0)
SIGN_FLIP, NOISE = CLIENTS[8], CLIENTS[9]
MISSING_ROUND, HONEST_REJECT_ROUND, NOISE_ACCEPT_ROUND = 2, 3, 4  # 0-based on-chain indices


def _build_result() -> dict[str, Any]:
    """10 clients (c8 flips signs, c9 adds noise), 3 miners, 5 rounds, hand-computed numbers.

    c3 misses round 2; honest c5 is rejected in round 3; c9's update slips through in round 4.
    Reputation follows M9 (h = 5): accepted +1; rejected at h -> 0; below h it climbs back.
    """
    reputation = {a: 5 for a in CLIENTS}
    trajectory: dict[str, list[int]] = {a: [] for a in CLIENTS}
    rewards_total = dict.fromkeys(CLIENTS, 0)
    rounds = []
    for r in range(N_ROUNDS):
        missing = [CLIENTS[3]] if r == MISSING_ROUND else []
        rejected = [SIGN_FLIP] if r == NOISE_ACCEPT_ROUND else [SIGN_FLIP, NOISE]
        if r == HONEST_REJECT_ROUND:
            rejected = [CLIENTS[5], *rejected]
        accepted = [a for a in CLIENTS if a not in rejected and a not in missing]
        rewards = {a: reputation[a] * FINNEY for a in accepted}
        for a in CLIENTS:
            gamma = reputation[a]
            if a in accepted:
                gamma += 1
            elif a in rejected:
                gamma = 0 if gamma == 5 else (gamma + 1 if gamma < 5 else gamma - 1)
            reputation[a] = gamma
            trajectory[a].append(gamma)
        for a, wei in rewards.items():
            rewards_total[a] += wei
        rounds.append(
            {
                "round": r,
                "leader": MINERS[r % N_MINERS],
                "committee": list(MINERS),
                "attempts": 2 if r == 1 else 1,
                "accepted": accepted,
                "rejected": rejected,
                "missing": missing,
                "accuracy": [0.79, 0.88, 0.92, 0.945, 0.961][r],
                "global_model": f"bafkreiglobal{r}",
                "rewards": rewards,
                "gas": 1_234_567 + 1000 * r,
            }
        )
    paid = sum(rewards_total.values())
    deposited = 500 * FINNEY
    penalty = 2 * FINNEY
    payouts: dict[str, dict[str, Any]] = {}
    for a in CLIENTS:
        bad = a in (SIGN_FLIP, NOISE)
        share = 0 if bad else penalty * 2 // 8
        payouts[a] = {
            "role": "client",
            "reward": rewards_total[a],
            "penalty": penalty if bad else 0,
            "penalty_share": share,
            "slashed": 0,
            "payout": rewards_total[a] - (penalty if bad else 0) + share,
        }
    for i, m in enumerate(MINERS):
        slashed = 3 * FINNEY if i == 2 else 0
        payouts[m] = {
            "role": "miner",
            "reward": 0,
            "penalty": 0,
            "penalty_share": 0,
            "slashed": slashed,
            "payout": -slashed,
        }
    payouts[REQUESTER] = {
        "role": "requester",
        "reward": 0,
        "penalty": 0,
        "penalty_share": 0,
        "slashed": 0,
        "payout": deposited - paid,
    }
    return {
        "task_id": 1,
        "dataset": "digits",
        "model": "cnn_digits",
        "chain": "embedded",
        "store": "local:/tmp/store",
        "requester": REQUESTER,
        # the names participants chose (the demo's simulation names its clients c0, c1...)
        "names": {
            **{a: f"c{i}" for i, a in enumerate(CLIENTS)},
            **{a: f"m{i}" for i, a in enumerate(MINERS)},
        },
        "clients": list(CLIENTS),
        "miners": list(MINERS),
        "malicious": [SIGN_FLIP, NOISE],
        "behaviours": {SIGN_FLIP: "sign_flip", NOISE: "gaussian_noise"},
        "privacy": {"mechanism": "feature_dp", "params": {"epsilon": 2.0}},
        "epsilon": 2.0,
        "rounds": rounds,
        "reputation": trajectory,
        "payouts": payouts,
        "escrow": {"deposited": deposited, "paid": paid, "refunded": deposited - paid},
        "stakes": {"mortgages": 10 * 50 * FINNEY, "miner_stakes": 3 * FINNEY * 1000, "slashed": 0},
        "final_accuracy": 0.961,
        "gas_total": 123_456_789,
        "wall_seconds": 42.0,
    }


def _build_transactions() -> list[dict[str, Any]]:
    txs: list[dict[str, Any]] = [
        {
            "label": "TaskManager.createTask",
            "gas_used": 250_000,
            "fee_wei": 250_000 * 10**9,
            "tx_hash": "0x" + "ab" * 32,
            "block_number": 1,
            "round": None,
            "sender": REQUESTER,
        }
    ]
    for r in range(N_ROUNDS):
        txs.append(
            {
                "label": "TaskManager.submitUpdates",
                "gas_used": 900_000 + r,
                "fee_wei": (900_000 + r) * 10**9,
                "tx_hash": "0x" + f"{r:02x}" * 32,
                "block_number": 2 + r,
                "round": r,
                "sender": None,
            }
        )
    return txs


@pytest.fixture
def result() -> dict[str, Any]:
    return _build_result()


@pytest.fixture
def transactions() -> list[dict[str, Any]]:
    return _build_transactions()


def _rendered_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Render the table as a 200-column console would and split it into header and body cells."""
    console = Console(record=True, width=200)
    console.print(round_table(result))
    rows = [
        [cell.strip() for cell in line.strip().strip("┃│").split("┃" if "┃" in line else "│")]
        for line in console.export_text().splitlines()
        if line.startswith(("┃", "│"))
    ]
    return rows[0], rows[1:]


# --------------------------------------------------------------------------- labels and numbers


def test_short_address_keeps_four_hex_digits_each_side() -> None:
    assert short_address("0x1234567890abcdef1234567890abcdef1234abcd") == "0x1234…abcd"
    assert short_address("0xabc") == "0xabc"


def test_client_labels_are_chosen_names_case_insensitively(result: dict[str, Any]) -> None:
    result["rounds"][0]["accepted"][0] = CLIENTS[0].upper().replace("0X", "0x")
    labels = client_labels(result)
    assert [labels[a] for a in CLIENTS] == [f"c{i}" for i in range(N_CLIENTS)]
    assert [labels[a] for a in MINERS] == ["m0", "m1", "m2"]
    assert labels[CLIENTS[0].upper().replace("0X", "0x")] == "c0"
    assert labels[REQUESTER] == short_address(REQUESTER)


def test_without_names_participants_are_their_short_addresses(result: dict[str, Any]) -> None:
    """Join order means nothing to a participant: no ``c3`` unless the result names it so."""
    del result["names"]
    labels = client_labels(result)
    assert [labels[a] for a in (*CLIENTS, *MINERS)] == [
        short_address(a) for a in (*CLIENTS, *MINERS)
    ]
    header, rows = _rendered_rows(result)
    first = dict(zip(header, rows[0], strict=True))
    assert first["leader"] == short_address(MINERS[0])
    assert first["rejected"] == f"{short_address(SIGN_FLIP)}* {short_address(NOISE)}*"
    lines = summary_lines(result)
    assert f"malicious {short_address(SIGN_FLIP)} (sign_flip) rejected 5/5 rounds" in lines
    assert not any(line.startswith("participants") for line in lines)
    assert not any(f"c{i}" in " ".join(lines).split() for i in range(N_CLIENTS))


def test_short_addresses_that_collide_are_made_longer() -> None:
    twins = ["0x1234" + "0" * 30 + "abcd", "0x1234" + "1" * 30 + "abcd"]
    labels = client_labels({"clients": twins, "rounds": []})
    assert len(set(labels.values())) == 2
    assert labels[twins[0]] == "0x123400…00abcd"


def test_participant_legend_maps_every_label_to_its_address(result: dict[str, Any]) -> None:
    legend = participant_legend(result)
    assert legend[0] == {"label": "c0", "address": CLIENTS[0], "role": "client"}
    assert [p["role"] for p in legend] == ["client"] * 10 + ["miner"] * 3 + ["requester"]
    assert legend[-1] == {
        "label": short_address(REQUESTER), "address": REQUESTER, "role": "requester"
    }  # fmt: skip
    lines = summary_lines(result)
    at = lines.index("participants:")
    assert lines[at + 1] == f"  c0 = {CLIENTS[0]} (client)"
    assert f"  m2 = {MINERS[2]} (miner)" in lines[at:]


@pytest.mark.parametrize(
    ("wei", "text"),
    [
        (0, "0 ETH"),
        (1, "0.000000000000000001 ETH"),
        (123, "0.000000000000000123 ETH"),
        (10**10, "0.00000001 ETH"),  # 10 gwei
        (1_500_000_000, "0.0000000015 ETH"),
        (123_456_789_000, "0.0000001235 ETH"),
        (999_999_999_999_999, "0.001 ETH"),
        (12_300_000_000_000_000, "0.0123 ETH"),
        (10**18, "1 ETH"),
        (-5 * 10**17, "-0.5 ETH"),
        (1_234_567 * FINNEY, "1,235 ETH"),
    ],
)
def test_format_wei_reads_in_eth_only(wei: int, text: str) -> None:
    assert format_wei(wei) == text


def test_format_wei_refuses_non_integers() -> None:
    with pytest.raises(ConfigError, match="integer"):
        format_wei(1.5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- statistics


def test_acceptance_stats_count_submitted_client_rounds_only(result: dict[str, Any]) -> None:
    stats = acceptance_stats(result)
    # honest: 8 clients x 5 rounds, minus c3's missing round = 39; c5 rejected once
    assert stats["honest_accepted_share"] == pytest.approx(38 / 39)
    # malicious: 2 x 5 = 10 submissions, c9 slipped through once
    assert stats["malicious_rejected_share"] == pytest.approx(9 / 10)


def test_acceptance_stats_with_nothing_to_count_are_one() -> None:
    stats = acceptance_stats({"clients": CLIENTS, "rounds": []})
    assert stats == {"honest_accepted_share": 1.0, "malicious_rejected_share": 1.0}


# --------------------------------------------------------------------------- table and summary


def test_round_table_has_one_row_per_round_and_the_documented_columns(
    result: dict[str, Any],
) -> None:
    table = round_table(result)
    assert table.row_count == N_ROUNDS
    header, rows = _rendered_rows(result)
    assert header == [
        "round",
        "leader",
        "accepted",
        "rejected",
        "missing",
        "accuracy",
        "reputation (honest · malicious)",
        "rewards",
        "gas",
    ]
    assert [row[0] for row in rows] == ["1", "2", "3", "4", "5"]
    cells = [dict(zip(header, row, strict=True)) for row in rows]

    first = cells[0]
    assert first["leader"] == "m0"
    assert first["accepted"] == "8/10"
    assert first["rejected"] == "c8* c9*"
    assert first["missing"] == "—"
    assert first["accuracy"] == "0.790"
    assert first["reputation (honest · malicious)"] == "6 · c8*=0 c9*=0"
    assert first["rewards"] == format_wei(8 * 5 * FINNEY) == "0.04 ETH"
    assert first["gas"] == "1,234,567"

    assert cells[1]["leader"] == "m1 (2 tries)"
    assert cells[2]["missing"] == "c3"
    assert cells[2]["accepted"] == "7/10"
    assert cells[2]["reputation (honest · malicious)"] == "7–8 · c8*=2 c9*=2"
    assert cells[3]["rejected"] == "c5 c8* c9*"
    assert cells[4]["rejected"] == "c8*"
    assert cells[4]["accuracy"] == "0.961"
    assert cells[4]["gas"] == "1,238,567"


def test_round_table_copes_with_optional_keys_missing() -> None:
    bare = {"clients": CLIENTS[:2], "rounds": [{"round": 0, "accepted": CLIENTS[:2]}]}
    header, rows = _rendered_rows(bare)
    row = dict(zip(header, rows[0], strict=True))
    assert row["accepted"] == "2/2"
    assert row["accuracy"] == row["gas"] == row["leader"] == "—"
    assert row["rewards"] == "0 ETH"
    assert summary_lines(bare) == [
        "privacy: none (epsilon: n/a)",
        "malicious clients: none",
        "honest clients: 100.0% of 2 submissions accepted",
    ]


def test_summary_lines_report_the_escrow_balance_and_the_attackers(
    result: dict[str, Any],
) -> None:
    lines = summary_lines(result)
    assert "final accuracy: 0.961" in lines
    assert "privacy: epsilon 2 (feature_dp)" in lines
    escrow = next(line for line in lines if line.startswith("escrow:"))
    assert escrow.endswith(": OK")
    assert "deposited 0.5 ETH" in escrow
    assert "malicious c8 (sign_flip) rejected 5/5 rounds" in lines
    assert "malicious c9 (gaussian_noise) rejected 4/5 rounds" in lines
    assert "honest clients: 97.4% of 39 submissions accepted" in lines
    assert "gas: 123,456,789 in total" in lines
    assert "wall time: 42.0 s" in lines
    assert any(line.startswith("stakes: client mortgages 0.5 ETH") for line in lines)


def test_summary_lines_flag_an_escrow_that_does_not_balance(result: dict[str, Any]) -> None:
    result["escrow"]["refunded"] -= 7
    escrow = next(line for line in summary_lines(result) if line.startswith("escrow:"))
    assert escrow.endswith("MISMATCH (off by +7 wei)")


def test_summary_lines_without_privacy_or_attackers(result: dict[str, Any]) -> None:
    result.update(privacy=None, epsilon=None, malicious=[], behaviours={})
    lines = summary_lines(result)
    assert "privacy: none (epsilon: n/a)" in lines
    assert "malicious clients: none" in lines


def test_summary_lines_count_missing_rounds_apart(result: dict[str, Any]) -> None:
    result["rounds"][0]["rejected"].remove(SIGN_FLIP)
    result["rounds"][0]["missing"].append(SIGN_FLIP)
    assert "malicious c8 (sign_flip) rejected 4/4 rounds (missing in 1)" in summary_lines(result)


def test_summary_lines_tell_left_out_from_rejected(result: dict[str, Any]) -> None:
    """An update the rule's cut only kept out of the aggregate is not a rejection."""
    result["rounds"][4]["left_out"] = [NOISE, CLIENTS[0]]
    lines = summary_lines(result)
    assert (
        "malicious c9 (gaussian_noise) rejected 4/5 rounds, kept out of the aggregate "
        "(unpenalised) in 1 more"
    ) in lines
    assert (
        "honest clients: 97.4% of 39 submissions accepted (1 kept out of an aggregate by the "
        "rule's cut, without penalty)"
    ) in lines


def test_summary_lines_of_a_task_nobody_submitted_to(result: dict[str, Any]) -> None:
    for row in result["rounds"]:
        row["accepted"], row["rejected"] = [], []
    assert "honest clients: no submissions to accept" in summary_lines(result)


# --------------------------------------------------------------------------- plots and files


def _assert_png(path: Path, *, min_width: int = 400) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 1024
    image = matplotlib.image.imread(path)
    height, width, channels = image.shape
    assert width >= min_width
    assert 200 <= height <= width
    assert channels in (3, 4)


@pytest.mark.parametrize("plot", [plot_accuracy, plot_reputation, plot_payouts])
def test_plots_are_readable_pngs(plot: Any, result: dict[str, Any], tmp_path: Path) -> None:
    path = plot(result, tmp_path / "plot.png")
    assert path == tmp_path / "plot.png"
    _assert_png(path)
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]  # no temporary left behind


@pytest.mark.parametrize("plot", [plot_accuracy, plot_reputation, plot_payouts])
def test_plots_of_an_empty_run_still_draw(plot: Any, tmp_path: Path) -> None:
    _assert_png(plot({"task_id": 2, "clients": [], "rounds": []}, tmp_path / "empty.png"))


def test_transactions_csv_parses_back(transactions: list[dict[str, Any]], tmp_path: Path) -> None:
    path = write_transactions(transactions, tmp_path / "tx.csv")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == TRANSACTION_COLUMNS
        rows = list(reader)
    assert len(rows) == 1 + N_ROUNDS
    assert rows[0]["round"] == ""
    assert rows[0]["sender"] == REQUESTER
    assert rows[0]["label"] == "TaskManager.createTask"
    assert [int(r["round"]) for r in rows[1:]] == list(range(N_ROUNDS))
    assert rows[-1]["sender"] == ""
    assert int(rows[-1]["gas_used"]) == 900_004
    assert int(rows[-1]["fee_wei"]) == 900_004 * 10**9
    assert rows[-1]["tx_hash"] == "0x" + "04" * 32


def test_write_run_dir_writes_every_file_and_keeps_others(
    result: dict[str, Any], transactions: list[dict[str, Any]], tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "demo-x"
    run_dir.mkdir(parents=True)
    (run_dir / "notes.txt").write_text("keep me")
    original = copy.deepcopy(result)

    paths = write_run_dir(result, transactions, run_dir)

    assert set(paths) == {
        "result",
        "transactions",
        "accuracy_plot",
        "reputation_plot",
        "payouts_plot",
    }
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "accuracy.png",
        "notes.txt",
        "payouts.png",
        "reputation.png",
        "result.json",
        "transactions.csv",
    ]
    assert (run_dir / "notes.txt").read_text() == "keep me"
    assert all(p.parent == run_dir and p.is_file() for p in paths.values())
    loaded = json.loads(paths["result"].read_text())
    assert loaded == original
    assert isinstance(loaded["escrow"]["deposited"], int)
    assert list(loaded) == list(original)  # key order kept
    for key in ("accuracy_plot", "reputation_plot", "payouts_plot"):
        _assert_png(paths[key])


def test_write_run_dir_creates_parents_and_overwrites(
    result: dict[str, Any], transactions: list[dict[str, Any]], tmp_path: Path
) -> None:
    run_dir = tmp_path / "a" / "b"
    write_run_dir(result, transactions, run_dir)
    result["final_accuracy"] = 0.5
    paths = write_run_dir(result, [], str(run_dir))
    assert json.loads(paths["result"].read_text())["final_accuracy"] == 0.5
    with paths["transactions"].open(newline="") as fh:
        assert list(csv.DictReader(fh)) == []


def test_write_run_dir_refuses_a_file(
    result: dict[str, Any], transactions: list[dict[str, Any]], tmp_path: Path
) -> None:
    target = tmp_path / "run"
    target.write_text("not a directory")
    with pytest.raises(ConfigError, match="not a directory"):
        write_run_dir(result, transactions, target)
    with pytest.raises(ConfigError, match="parent is a file"):
        write_run_dir(result, transactions, target / "inner")
    assert target.read_text() == "not a directory"


def test_write_run_dir_refuses_a_result_that_is_not_json(
    result: dict[str, Any], tmp_path: Path
) -> None:
    result["wall_seconds"] = object()
    with pytest.raises(ConfigError, match="JSON"):
        write_run_dir(result, [], tmp_path / "run")
    assert list((tmp_path / "run").iterdir()) == []


def test_default_run_dir_is_unique_within_one_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    monkeypatch.setattr(report_files, "_utc_now", lambda: frozen)
    base = tmp_path / "runs"
    made = [default_run_dir(base) for _ in range(3)]
    assert [p.name for p in made] == [
        "demo-20250304-050607",
        "demo-20250304-050607-2",
        "demo-20250304-050607-3",
    ]
    assert all(p.is_dir() and p.parent == base for p in made)
    assert default_run_dir(base, prefix="exp").name == "exp-20250304-050607"


def test_default_run_dir_uses_the_current_utc_time(tmp_path: Path) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    made = default_run_dir(tmp_path)
    stamp = datetime.strptime(made.name, "demo-%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    assert stamp >= before
    assert made.is_dir()
