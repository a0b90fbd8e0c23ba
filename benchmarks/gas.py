#!/usr/bin/env python3
"""Gas of a whole FedChain task on the embedded chain (py-evm, Prague rules).

Scenario (BENCHMARKS.md): 50 clients, 7 miners, committee of 5 (quorum 4), 3 rounds, reputation
rewards. Two variants of the same task:

* ``batched`` — the paths built for scale: EIP-712 join permits relayed in one transaction,
  one relayed batch of 50 signed updates per round, the leader relaying the committee's
  attestations with its verdict, one ``settleMany``;
* ``direct`` — every participant sends its own transactions (joins, submissions, settlements;
  attestations are still relayed);
* ``mutual`` — ``batched`` in the mutual-supervision mode (003): every submitter also posts its
  row of scores to the ScoreBoard, one transaction per validator and round.

Task gas counts everything from ``createTask`` to the last settlement; it excludes the one-time
per-participant lifetime operations (funding, registration, profiles, deposit, withdrawal).
The baseline is the floor of each transaction: 21,000 + its calldata (16 gas per non-zero
byte, 4 per zero byte). Gas is deterministic, so one run is the measurement. The last line of
output is a JSON object.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from fedchain.chain import connect
from fedchain.chain.scenario import ScenarioConfig, run_scenario

CLIENTS, MINERS, COMMITTEE, ROUNDS = 50, 7, 5, 3
TARGETS = {
    "submit_gas": 30_000,
    "batched_submit_gas_per_client": 10_000,
    "task_gas_per_client_round": 40_000,
    "task_gas_per_client_round_mutual": 40_000,
}


#: The contracts whose transactions the breakdown lists (the ScoreBoard's as ``ScoreBoard.*``).
MEASURED = ("ITaskManager.", "ScoreBoard.")


def _name(label: str) -> str:
    return label.removeprefix("ITaskManager.")


def calldata_floor(chain: Any, tx_hash: str) -> int:
    """21,000 + calldata gas of the transaction's input."""
    data = bytes(chain.w3.eth.get_transaction(tx_hash)["input"])
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def run(variant: str) -> dict[str, Any]:
    batched = variant in ("batched", "mutual")
    config = ScenarioConfig(
        clients=CLIENTS,
        miners=MINERS,
        committee_size=COMMITTEE,
        rounds=ROUNDS,
        byzantine_f=5,
        policy="reputation",
        batch_joins=batched,
        batch_submissions=batched,
        settle_many=batched,
        relay_attestations=True,
        score_rows=variant == "mutual",
        seed=1,
    )
    # A seeded chain: timestamps and PREVRANDAO, hence the block hashes that seed the committees,
    # and so the gas figures replay exactly.
    with connect("embedded", accounts=2, seed=config.seed) as chain:
        result = run_scenario(chain, config)
        records = {_name(r.label): [] for r in chain.gas.records}
        floors: dict[str, list[int]] = {k: [] for k in records}
        for rec in chain.gas.records:
            if rec.label.startswith(MEASURED):
                name = _name(rec.label)
                records[name].append(rec.gas_used)
                floors[name].append(calldata_floor(chain, rec.tx_hash))
    breakdown = {
        name: {
            "txs": len(gas),
            "total": sum(gas),
            "median": int(statistics.median(gas)),
            "floor_median": int(statistics.median(floors[name])),
        }
        for name, gas in records.items()
        if gas and (name in result.gas_by_label or f"ITaskManager.{name}" in result.gas_by_label)
    }
    return {
        "task_gas": result.task_gas,
        "task_gas_per_client_round": result.task_gas / (CLIENTS * ROUNDS),
        "lifetime_gas_excluded": result.lifetime_gas,
        "breakdown": breakdown,
    }


def main() -> None:
    batched = run("batched")
    direct = run("direct")
    mutual = run("mutual")
    submit = direct["breakdown"]["submitUpdate"]
    batch = batched["breakdown"]["submitUpdatesBySig"]
    print(
        f"{'operation':<22}{'variant':>9}{'txs':>6}{'median gas':>12}{'floor':>9}{'total gas':>12}"
    )
    for variant, data in (("batched", batched), ("direct", direct), ("mutual", mutual)):
        for name, row in data["breakdown"].items():
            print(
                f"{name:<22}{variant:>9}{row['txs']:>6}{row['median']:>12,}"
                f"{row['floor_median']:>9,}{row['total']:>12,}"
            )
    out = {
        "submit_gas": submit["median"],
        "submit_floor_gas": submit["floor_median"],
        "batched_submit_gas_per_client": batch["median"] / CLIENTS,
        "batched_submit_floor_per_client": batch["floor_median"] / CLIENTS,
        "task_gas_per_client_round": round(batched["task_gas_per_client_round"], 1),
        "task_gas_per_client_round_direct": round(direct["task_gas_per_client_round"], 1),
        "task_gas_per_client_round_mutual": round(mutual["task_gas_per_client_round"], 1),
        "score_row_gas": mutual["breakdown"]["ScoreBoard.postScores"]["median"],
        "score_row_floor_gas": mutual["breakdown"]["ScoreBoard.postScores"]["floor_median"],
        "task_gas": batched["task_gas"],
        "task_gas_direct": direct["task_gas"],
        "lifetime_gas_excluded": batched["lifetime_gas_excluded"],
        "clients": CLIENTS,
        "miners": MINERS,
        "committee": COMMITTEE,
        "rounds": ROUNDS,
        "breakdown_batched": {k: v["total"] for k, v in batched["breakdown"].items()},
        "breakdown_direct": {k: v["total"] for k, v in direct["breakdown"].items()},
        "breakdown_mutual": {k: v["total"] for k, v in mutual["breakdown"].items()},
    }
    out["targets_met"] = all(out[k] <= v for k, v in TARGETS.items())
    for key, target in TARGETS.items():
        print(f"{key}: {out[key]:,.1f} (target <= {target:,})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
