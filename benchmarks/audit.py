"""The audit's cost ÷ the committee's own judging cost for the same task, measured in one run;
and the explorer's server time for a task page after the first load.

Baseline: the demo task (``fedchain demo``'s configuration, ``--rounds`` and ``--clients`` as
given) run in-process on the embedded chain; for every round, the time the committee spent
judging it once (the first ``Miner.judge`` of the round: fetching and checking every update,
then Multi-KRUM, FedAvg and the weights; what a member must do before it can post or attest).
Measured: ``fedchain audit --run-dir`` of that task, as a user runs it: the demo's run
directory (the recorded chain, ``deployment.json``, the store) opened with
``fedchain.audit.open_source`` and audited with ``fedchain.audit.audit_task`` (every blob
fetched and re-hashed, every author recovered, every committee recomputed, every verdict re-run,
every payout recomputed), the median of ``--repeats`` runs. Target ``audit_vs_committee_ratio``
≤ 2. ``audit_live_embedded_seconds`` is the same audit against the live embedded chain, for
reference: py-evm answers ``eth_getLogs`` by rebuilding every receipt of the range, which is
slower than any real node (Anvil, or the recording).

With ``--explorer`` it also serves the explorer app over the same task (Starlette's test
client, no network) and times ``GET /task/{id}``: the first load (which audits) and the median
of ``--repeats`` loads after it (target ≤ 200 ms; BENCHMARKS.md asks for 50 clients × 10
rounds: ``--clients 50 --rounds 10 --explorer``).

Progress goes to stderr; the last stdout line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from fedchain.audit import AuditSource, audit_task, open_source
from fedchain.audit.rundir import audit_run_dir
from fedchain.cli.demo import demo_task
from fedchain.roles.miner import Miner
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import demo_config, open_chain, run_simulation
from fedchain.storage import open_store


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _JudgeClock:
    """Times the first judgement of every round (one per round, as the committee needs)."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self._original = Miner.judge

    def __enter__(self) -> _JudgeClock:
        clock, original = self, self._original

        def timed(miner: Miner, state: Any, submissions: Any) -> Any:
            started = time.perf_counter()
            result = original(miner, state, submissions)
            if result is not None:
                clock.first.setdefault(state.round, time.perf_counter() - started)
            return result

        Miner.judge = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Miner.judge = self._original  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--explorer", action="store_true", help="also time the explorer's task page")
    args = ap.parse_args()
    torch.set_num_threads(1)
    base = demo_config()
    attacks = {i: a for i, a in base.attacks.items() if i < args.clients}
    task = TaskFile.from_dict(
        demo_task(args.clients, base.miners, args.rounds, max(1, len(attacks)), "reputation",
                  "digits", 2.0),
        source="benchmark options",
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="fedchain-bench-audit-") as tmp:
        config = replace(base, task=task, attacks=attacks, store=f"local:{tmp}")
        chain = open_chain(config)
        try:
            log(f"running the demo task: {args.clients} clients, {args.rounds} rounds")
            with _JudgeClock() as clock:
                result = run_simulation(config, chain=chain)
            committee = sum(clock.first.values())
            dep = result.deployment
            assert dep is not None
            task_id = int(result.summary["task_id"])
            store = open_store(f"local:{tmp}")
            live = AuditSource(chain=chain, deployment=dep, store=store,
                               from_block=dep.deployed_block, where="embedded")  # fmt: skip
            live_seconds = audit_task(live, task_id).seconds
            run_dir = Path(tmp) / "run"
            audit_run_dir(chain, dep, task_id, run_dir, store=f"local:{tmp}")
            times, judging, report = [], [], None
            with open_source(run_dir=run_dir, store=f"local:{tmp}") as source:
                for k in range(args.repeats):
                    report = audit_task(source, task_id)
                    times.append(report.seconds)
                    judging.append(report.judging_seconds)
                    log(f"audit {k + 1}/{args.repeats}: {report.seconds:.3f} s, ok={report.ok}")
                if args.explorer:
                    explorer = _explorer_times(source, task_id, args.repeats)
            assert report is not None
            audit = statistics.median(times)
            out: dict[str, Any] = {
                "benchmark": "audit", "clients": args.clients, "rounds": args.rounds,
                "committee_judging_seconds": round(committee, 4),
                "audit_seconds": round(audit, 4),
                "audit_rejudging_seconds": round(statistics.median(judging), 4),
                "audit_live_embedded_seconds": round(live_seconds, 3),
                "audit_vs_committee_ratio": round(audit / committee, 3),
                "target_ratio": 2.0, "findings": len(report.findings), "audit_ok": report.ok,
                "python": platform.python_version(),
            }  # fmt: skip
            if args.explorer:
                out.update(explorer)
            store.close()
        finally:
            chain.close()
    print(json.dumps(out))


def _explorer_times(source: AuditSource, task_id: int, repeats: int) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from fedchain.explorer.app import create_app

    with TestClient(create_app(source)) as client:
        started = time.perf_counter()
        first = client.get(f"/task/{task_id}")
        first_s = time.perf_counter() - started
        assert first.status_code == 200, first.text[:200]
        later = []
        for _ in range(max(3, repeats)):
            started = time.perf_counter()
            page = client.get(f"/task/{task_id}")
            later.append(time.perf_counter() - started)
            assert page.status_code == 200
    ms = statistics.median(later) * 1000
    log(f"explorer task page: first {first_s * 1000:.0f} ms, then {ms:.1f} ms")
    return {"explorer_first_load_ms": round(first_s * 1000, 1),
            "explorer_task_page_ms": round(ms, 2), "explorer_target_ms": 200}  # fmt: skip


if __name__ == "__main__":
    main()
