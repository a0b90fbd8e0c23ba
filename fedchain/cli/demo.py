"""``fedchain demo``: one small task end-to-end on the embedded chain.

Deploys the contracts, then plays a scripted task with real transactions (4 clients, 3 miners,
2 rounds; client 1's update is rejected in round 0): EIP-712 join permits, relayed signed
submissions, the leader's verdict with the committee's attestations, settlement and pull-payment
withdrawals. Prints a per-round table (accepted / rejected, reputations, gas) and, with
``--json``, one JSON object as the last line.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from fedchain.errors import ConfigError

__all__ = ["register"]


def _demo(
    clients: Annotated[int, typer.Option(help="Number of clients.", min=2, max=256)] = 4,
    miners: Annotated[int, typer.Option(help="Number of miners.", min=1, max=64)] = 3,
    rounds: Annotated[int, typer.Option(help="Number of rounds.", min=1, max=250)] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Run one small FedChain task on the embedded chain and print what happened."""
    from fedchain.chain import connect
    from fedchain.chain.scenario import ScenarioConfig, run_scenario

    if clients < 2:
        raise ConfigError("the demo needs at least two clients")
    config = ScenarioConfig(
        clients=clients,
        miners=miners,
        rounds=rounds,
        committee_size=min(3, miners),
        byzantine_f=1,
        rejected=frozenset({(0, 1)}),
    )
    with connect("embedded", accounts=2, seed=config.seed) as chain:  # replays exactly
        result = run_scenario(chain, config)
    if not as_json:
        typer.echo(f"FedChain demo: task {result.task_id}, {clients} clients, {miners} miners")
        typer.echo(f"{'round':>5}  {'accepted':<16}{'rejected':<12}{'reputations':<24}{'gas':>10}")
        for o in result.rounds:
            accepted = ",".join(map(str, o.accepted)) or "-"
            rejected = ",".join(map(str, o.rejected + o.missing)) or "-"
            reps = ",".join(map(str, o.reputations))
            typer.echo(f"{o.round:>5}  {accepted:<16}{rejected:<12}{reps:<24}{o.gas:>10,}")
        typer.echo(
            f"escrow {result.escrow} wei = paid {result.rewards_paid} + refunded "
            f"{result.unearned}; M11 penalties {result.penalties} (dust to requester "
            f"{result.penalty_dust}); slashed {result.slashed}; task gas {result.task_gas:,}"
        )
    else:
        typer.echo(json.dumps(result.summary()))


def register(app: typer.Typer) -> None:
    """Attach the ``demo`` command to the root app."""
    app.command("demo")(_demo)
