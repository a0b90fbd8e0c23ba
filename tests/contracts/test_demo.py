"""``fedchain demo`` runs one real task on the embedded chain and accounts for every wei."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from fedchain.cli import demo


def test_demo_json_accounts_for_the_escrow() -> None:
    app = typer.Typer()
    demo.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `demo` a subcommand
    result = CliRunner().invoke(app, ["demo", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
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
