"""The scripted chain scenario (``fedchain.chain.scenario``, what ``benchmarks/gas.py`` runs)
plays one real task on the embedded chain and accounts for every wei."""

from __future__ import annotations

from fedchain.chain import connect
from fedchain.chain.scenario import ScenarioConfig, run_scenario


def test_scenario_accounts_for_the_escrow() -> None:
    config = ScenarioConfig(rejected=frozenset({(0, 1)}))
    with connect("embedded", accounts=2, seed=config.seed) as chain:
        data = run_scenario(chain, config).summary()
    assert [r["rejected"] for r in data["rounds"]] == [[1], []]
    assert data["rounds"][0]["reputations"] == [6, 0, 6, 6]
    # Reputation policy, unit 1e12: round 0 pays 5 × 3 accepted, round 1 pays 6 + 0 + 6 + 6.
    assert data["escrow_paid"] == 33 * 10**12
    # Client 1 forfeits mortgage/rounds = 1e15; shared by three, leaving 1 wei of dust.
    assert data["penalties"] == 10**15
    assert data["escrow_paid"] + data["escrow_refunded"] == data["escrow_deposited"]
    assert data["penalty_dust"] == 1 and data["slashed"] == 0
    assert data["requester_refund_total"] == data["escrow_refunded"] + 1
    assert data["gas_total"] > 0
