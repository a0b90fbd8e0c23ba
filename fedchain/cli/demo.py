"""``fedchain demo``: a whole federated-learning task on real data, in one process.

Defaults (``make demo``): scikit-learn's digits split over 10 clients, client 8 flips the sign
of its updates and client 9 free-rides; 3 miners verify every update with Multi-KRUM (f = 2);
5 rounds; reputation rewards; feature-level DP at ε = 2 (docs/learning.md's recommendation for
this data); the embedded chain and a local blob store. It prints the per-round table and a
summary, writes a run directory (``result.json``, plots, ``transactions.csv``) and, with
``--json``, prints one JSON object last. Participants are named as the simulation names them
(``c0``... by their index in the options, ``m0``... for miners); the summary and
``result.json`` (``names``, ``participants``) give the address behind each name. Amounts are
in ETH on screen, in wei in JSON.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from fedchain.errors import ConfigError

__all__ = ["demo_task", "parse_attacks", "register"]


def parse_attacks(values: list[str]) -> dict[int, Any]:
    """``["8=sign_flip", "9=free_rider", "3=scale:scale=5", "4=sign_flip@4-"]`` → client index
    → behaviour spec.

    A behaviour's parameters follow a colon as ``key=value`` pairs separated by commas. A
    schedule follows an ``@``: ``@4-`` from round 4 on, ``@1-3`` rounds 1 to 3, ``@2`` round 2
    only (the client is honest in the other rounds).
    """
    attacks: dict[int, Any] = {}
    for item in values:
        index, sep, rest = item.partition("=")
        if not sep or not index.strip().isdigit() or not rest:
            raise ConfigError(f"--attack {item!r}: use CLIENT=BEHAVIOUR, e.g. 8=sign_flip")
        rest, at, when = rest.partition("@")
        name, _, param_text = rest.partition(":")
        params: dict[str, Any] = {}
        for pair in filter(None, param_text.split(",")):
            key, eq, value = pair.partition("=")
            if not eq:
                raise ConfigError(f"--attack {item!r}: parameters are key=value pairs")
            try:
                params[key.strip()] = json.loads(value)
            except json.JSONDecodeError:
                params[key.strip()] = value
        spec: dict[str, Any] = {"name": name.strip(), "params": params}
        if at:
            spec |= _schedule(item, when)
        attacks[int(index)] = spec
    return attacks


def _schedule(item: str, when: str) -> dict[str, int]:
    """``"4-"`` → from round 4; ``"1-3"`` → rounds 1 to 3; ``"2"`` → round 2 only."""
    match = re.fullmatch(r"(\d+)(-(\d*))?", when.strip())
    if match is None:
        raise ConfigError(
            f"--attack {item!r}: a schedule is @FROM- (from a round on), @FROM-UNTIL or "
            "@ROUND, e.g. 8=sign_flip@4-"
        )
    first, dash, last = match.group(1), match.group(2), match.group(3)
    if dash is None:
        return {"from_round": int(first), "until_round": int(first)}
    if not last:
        return {"from_round": int(first)}
    return {"from_round": int(first), "until_round": int(last)}


def _demo(
    clients: Annotated[int, typer.Option(help="Number of clients.", min=2, max=256)] = 10,
    miners: Annotated[int, typer.Option(help="Number of miners.", min=1, max=64)] = 3,
    rounds: Annotated[int, typer.Option(help="Number of rounds.", min=1, max=250)] = 5,
    attack: Annotated[
        list[str] | None,
        typer.Option(
            help="CLIENT=BEHAVIOUR[:k=v,...][@FROM-[UNTIL]], repeatable (default: "
            "8=sign_flip:scale=4, 9=free_rider; 8=sign_flip@4- is honest until round 4). "
            "--attack none for an honest run.",
            show_default=False,
        ),
    ] = None,
    byzantine_f: Annotated[
        int | None,
        typer.Option("--f", help="Multi-KRUM's Byzantine bound (default: number of attackers)."),
    ] = None,
    epsilon: Annotated[
        float, typer.Option(help="Feature-DP epsilon per release (0: no DP).", min=0)
    ] = 2.0,
    policy: Annotated[
        str, typer.Option(help="Reward policy: reputation, contribution, data_amount, fixed.")
    ] = "reputation",
    dataset: Annotated[str, typer.Option(help="digits, or mnist (needs --data).")] = "digits",
    data: Annotated[
        Path | None, typer.Option(help="MNIST .npz file or IDX directory.", show_default=False)
    ] = None,
    task_file: Annotated[
        Path | None,
        typer.Option(
            "--task", help="A TOML task file (overrides the options above).", show_default=False
        ),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="star (004: a miner committee runs Multi-KRUM) or mutual (003: the clients "
            "score each other's updates on chain, the worst is dropped; docs/modes.md).",
        ),
    ] = "star",
    chain: Annotated[str, typer.Option(help="embedded, or anvil.")] = "embedded",
    rpc_url: Annotated[
        str | None,
        typer.Option(
            help="Run on this JSON-RPC node instead (it outlives the demo, so audit and explorer "
            "can read it later); pays from $FEDCHAIN_DEMO_KEY, else the devnet's first account.",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            help="Store spec (local:DIR or kubo:URL); default: RUN_DIR/store.", show_default=False
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where to write results (default: runs/demo-<UTC time>).", show_default=False
        ),
    ] = None,
    relay: Annotated[
        bool, typer.Option(help="Batch the clients' signed updates into one transaction.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seeds keys, data, model, training, noise.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Print every action.")] = False,
) -> None:
    """Run a whole FedChain task on real data and print what happened, round by round."""
    from fedchain.audit.rundir import audit_summary
    from fedchain.report import (
        default_run_dir,
        participant_legend,
        round_table,
        summary_lines,
        write_run_dir,
    )
    from fedchain.roles.taskfile import TaskFile, load_task_file
    from fedchain.sim import SimConfig

    if dataset == "mnist" and data is None:
        raise ConfigError("--dataset mnist needs --data FILE (.npz or an IDX directory)")
    if mode not in DEMO_MODES:
        raise ConfigError(f"--mode {mode!r}: choose one of {', '.join(DEMO_MODES)}")
    if attack is None:
        attacks: dict[int, Any] = {8: {"name": "sign_flip", "params": {"scale": 4.0}},
                                   9: {"name": "free_rider", "params": {}}}  # fmt: skip
        attacks = {i: a for i, a in attacks.items() if i < clients}
    elif attack == ["none"]:
        attacks = {}
    else:
        attacks = parse_attacks(attack)
    if task_file is not None:
        task = load_task_file(task_file)
    else:
        f = byzantine_f if byzantine_f is not None else max(1, len(attacks))
        shape = demo_task(clients, miners, rounds, min(f, clients - 1), policy, dataset, epsilon)
        shape["verification"] = {"rule": DEMO_MODES[mode]}
        if rpc_url:  # a real node's clock runs in real time: windows a local run fills
            shape["task"].update(join_window=20, submit_window=60, verdict_window=60)
        task = TaskFile.from_dict(shape, source="demo options")
    config = SimConfig(
        task=task, miners=miners, attacks=attacks, dataset=dataset,
        data_path=str(data) if data is not None else None, chain=rpc_url or chain, store=store,
        relay=relay, seed=seed, chain_keys=_demo_keys(rpc_url),
    )  # fmt: skip
    config.validate()  # before anything is written or displayed, so an error stays one line
    out = Path(run_dir) if run_dir is not None else default_run_dir()
    if store is None:
        config = replace(config, store=f"local:{out / 'store'}")
    result, report = _run_and_audit(config, out, verbose=verbose, quiet=as_json)
    summary = dict(result.summary)
    summary["run_dir"] = str(out)
    summary["audit"] = audit_summary(report)
    # who c0, m1... are: the simulation names its participants, the legend gives the addresses
    summary["participants"] = participant_legend(summary)
    files = write_run_dir(summary, result.transactions, out)
    if not as_json:
        from rich.console import Console

        console = Console(width=None if sys.stdout.isatty() else 120)
        console.print(round_table(summary))
        for line in summary_lines(summary):
            console.print(line, highlight=False)
        console.print(_audit_line(summary["audit"], summary.get("names")), highlight=False)
        names = [p.name for p in files.values()] + ["deployment.json", "audit.json", "audit.html"]
        console.print(f"run directory: {out} ({', '.join(names)})")
    else:
        typer.echo(json.dumps(summary))


def _demo_keys(rpc_url: str | None) -> tuple[str, ...]:
    """The key a demo on a node pays from: ``$FEDCHAIN_DEMO_KEY`` (never printed), else none
    (the devnet mnemonic's first account)."""
    import os

    key = os.environ.get("FEDCHAIN_DEMO_KEY", "").strip()
    return (key,) if rpc_url and key else ()


def _audit_line(audit: dict[str, Any], names: dict[str, str] | None = None) -> str:
    verdict = "every check holds" if audit["ok"] else (
        f"{audit['mismatches']} MISMATCH(ES)" if audit["mismatches"]
        else f"{audit['unchecked']} item(s) could not be checked"
    )  # fmt: skip
    line = (f"audit: {audit['checks']} items in {audit['check_names']} checks re-derived from "
            f"the chain and the blobs: {verdict} (audit.json, audit.html)")  # fmt: skip
    if "score_rows" in audit:
        short = {a.lower(): n for a, n in (names or {}).items()}
        flagged = ", ".join(short.get(a.lower(), a) for a in audit["flagged_scorers"]) or "none"
        line += (f"\nmutual supervision: {audit['score_rows']} score rows on chain; "
                 f"flagged as dishonest scorers: {flagged}")  # fmt: skip
    return line


def _run_and_audit(config: Any, out: Path, *, verbose: bool, quiet: bool) -> tuple[Any, Any]:
    """Run the task on a chain kept open, then write the deployment (and the recorded chain)
    and the audit into the run directory."""
    from fedchain.audit.rundir import audit_run_dir
    from fedchain.sim import open_chain

    chain = open_chain(config)
    try:
        result = _run_with_progress(config, chain, verbose=verbose, quiet=quiet)
        report = audit_run_dir(
            chain, result.deployment, int(result.summary["task_id"]), out, store=config.store
        )
    finally:
        chain.close()
    return result, report


#: ``--mode`` → the verification rule the task file gets.
DEMO_MODES = {"star": "multikrum", "mutual": "mutual"}


def demo_task(
    clients: int, miners: int, rounds: int, f: int, policy: str, dataset: str, epsilon: float
) -> dict[str, Any]:
    """The task-file dict of the demo: digits settings from docs/learning.md, or 004's MNIST."""
    digits = dataset == "digits"
    privacy = (
        {"mechanism": "feature_dp", "epsilon": epsilon} if epsilon > 0 else {"mechanism": "none"}
    )
    return {
        "task": {"max_clients": clients, "rounds": rounds, "byzantine_f": f,
                 "committee_size": min(3, miners), "category": dataset},
        "rewards": {"policy": policy, "reward_unit": "0.0001 ether",
                    "client_mortgage": rounds * 2 * 10**15},
        "model": {"name": "cnn_digits" if digits else "cnn004",
                  "params": {"norm": "bounded", "norm_batch": 16 if digits else 64}},
        "data": {"dataset": dataset},
        "training": {} if digits else {"epochs": 1, "batch_size": 64, "lr": 0.01, "momentum": 0.9},
        "privacy": privacy,
    }  # fmt: skip


def _run_with_progress(config: Any, chain: Any, *, verbose: bool, quiet: bool) -> Any:
    """Run the simulation with a rich progress bar (rounds, and training within a round)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fedchain.sim import run_simulation

    console = Console(stderr=True)
    rounds = config.task.rounds
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, disable=quiet, transient=True,
    ) as bar:  # fmt: skip
        overall = bar.add_task("rounds", total=rounds)
        training = bar.add_task("training", total=config.task.max_clients)

        def progress(kind: str, data: dict[str, Any]) -> None:
            if kind == "train":
                bar.update(training, completed=data["done"],
                           description=f"round {data['round'] + 1}: training")  # fmt: skip
            elif kind == "round":
                bar.update(overall, completed=data["round"] + 1)
                bar.update(training, completed=0)
            elif kind == "setup":
                bar.update(overall, description=data["message"])
            elif kind == "log" and verbose and not quiet:
                bar.console.print(data["message"], highlight=False)

        return run_simulation(config, progress=progress, chain=chain)


def register(app: typer.Typer) -> None:
    """Attach the ``demo`` command to the root app."""
    app.command("demo")(_demo)
