"""CLI latency: how long the commands users type take to answer, as real subprocesses.

Timed, each as a fresh ``python -m fedchain.cli ...`` process (warm-up runs first, then the
median of ``--repeats``), in the same run as two baselines:

- ``python -c pass``: the interpreter start-up alone;
- ``python -c "import fedchain"``: the start-up plus the package's root.

Commands: ``fedchain --help``, ``fedchain --version``, ``fedchain ipfs cid`` of a 6-byte file,
``fedchain account address`` of a keystore and ``fedchain task status ID`` of a finished 3-round
task on Anvil. That task is set up first, as users run it: ``fedchain deploy`` on a fresh Anvil
node, then the requester (``task create --follow``), two clients and one miner, each its own
process (``--no-task`` skips it, and the ``task status`` figure is null).

The table gives each median in seconds and its ratio to ``python -c pass``; the last line is a
JSON object with the medians, the ratios and the targets of BENCHMARKS.md (``--help`` and
``ipfs cid`` ≤ 0.3 s, ``task status`` of a 3-round task ≤ 2 s).

``--before DIR`` also times every command with ``PYTHONPATH=DIR``, an older copy of the
package (``git archive REV fedchain | tar -x -C DIR``), in the same run: rows ``NAME@before``
and, in the JSON, ``speedup_vs_before``. The task is set up by the current code either way.

Run: ``.venv/bin/python benchmarks/cli_latency.py [--repeats 7] [--no-task] [--before DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS_S = {"help": 0.3, "ipfs_cid": 0.3, "task_status": 2.0}
TASK_TOML = """\
[task]
name = "cli-latency"
rounds = 3
max_clients = 2
committee_size = 1
byzantine_f = 0
join_window = 25
submit_window = 60
verdict_window = 60

[rewards]
client_mortgage = "0.001 ether"
min_miner_stake = "0.001 ether"

[model]
name = "cnn_digits"

[training]
epochs = 1

[privacy]
mechanism = "none"

[verification]
rule = "none"
"""
ENV_VARS = (
    "FEDCHAIN_PRIVATE_KEY",
    "FEDCHAIN_KEYSTORE_PASSWORD",
    "FEDCHAIN_DEPLOYMENT",
    "FEDCHAIN_RPC_URL",
    "FEDCHAIN_STORE",
    "FEDCHAIN_KUBO_API",
)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedchain.cli", *args]


def _time(
    argv: list[str], *, env: dict[str, str], cwd: Path, warmup: int, repeats: int
) -> float | None:
    """Median wall seconds of ``argv`` as a fresh process; None (and a note on stderr) when it
    does not exit 0, e.g. ``--version`` on a build that lacks it."""
    times: list[float] = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            lines = [ln.strip(" │╭╮╰╯─") for ln in done.stderr.splitlines()]
            last = ([ln for ln in lines if ln] or [""])[-1]
            print(f"{' '.join(argv[1:])} failed ({done.returncode}): {last}", file=sys.stderr)
            return None
        if i >= warmup:
            times.append(elapsed)
    return statistics.median(times)


def _task_count(url: str, deployment: Path) -> int:
    from fedchain.chain import connect
    from fedchain.chain.deploy import Deployment

    with connect(url) as chain:
        tasks = Deployment.from_json(chain, json.loads(deployment.read_text())).tasks
        return int(tasks.taskCount())


def _finished_task(work: Path, url: str, keys: list[str]) -> tuple[Path, int]:
    """Deploy on ``url`` and run one 3-round task to the end, one process per participant."""
    deployment = work / "deployment.json"
    store = work / "store"
    deployed = subprocess.run(
        _cli("deploy", "--rpc-url", url, "--limits", "devnet", "--out", str(deployment), "--json"),
        env=_env(FEDCHAIN_PRIVATE_KEY=keys[0]),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if deployed.returncode != 0:
        raise SystemExit(f"deploy failed: {deployed.stderr.strip()}")
    (work / "task.toml").write_text(TASK_TOML)
    common = ["--poll", "0.2", "--timeout", "300", "--json"]

    def env(key: str) -> dict[str, str]:
        return _env(
            FEDCHAIN_PRIVATE_KEY=key,
            FEDCHAIN_DEPLOYMENT=str(deployment),
            FEDCHAIN_STORE=f"local:{store}",
        )

    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        procs["requester"] = subprocess.Popen(
            _cli("task", "create", "task.toml", "--follow", "--settle-after", "2", *common),
            env=env(keys[0]),
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        task_id = 1  # the first task of a fresh deployment
        deadline = time.monotonic() + 300
        while _task_count(url, deployment) < task_id:
            if procs["requester"].poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the requester did not create the task")
            time.sleep(0.2)
        for i in range(2):
            procs[f"client {i}"] = subprocess.Popen(
                _cli("client", "run", "--task", str(task_id), "--dataset", "digits",
                     "--shard", f"{i}/2", *common),
                env=env(keys[1 + i]), cwd=work, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
        procs["miner"] = subprocess.Popen(
            _cli("miner", "run", "--task", str(task_id), *common),
            env=env(keys[3]),
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        outputs = {name: p.communicate(timeout=900) for name, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    for name, p in procs.items():
        if p.returncode != 0:
            last = (outputs[name][1].strip().splitlines() or [""])[-1]
            raise SystemExit(f"{name} exited {p.returncode}: {last}")
    result = json.loads(outputs["requester"][0].strip().splitlines()[-1])
    if result.get("task_id") != task_id or result.get("status") != "finished":
        raise SystemExit(f"the task did not finish: {result.get('status')!r}")
    return deployment, task_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-task", action="store_true", help="skip the Anvil task")
    parser.add_argument("--before", type=Path, help="an older fedchain tree to time as well")
    args = parser.parse_args()

    from fedchain.chain import DEFAULT_MNEMONIC, AnvilNode, derive_accounts
    from fedchain.chain.keys import LIGHT_SCRYPT_N, create_keystore

    accounts = derive_accounts(DEFAULT_MNEMONIC, 4)
    keys = ["0x" + a.key.hex() for a in accounts]
    timed: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="fedchain-cli-latency-") as tmp:
        work = Path(tmp)
        small = work / "six.bin"
        small.write_bytes(b"hello\n")
        keystore = work / "key.json"
        create_keystore(keystore, password="bench", kdf_iterations=LIGHT_SCRYPT_N)
        env = _env()
        envs = {"": env}
        if args.before is not None:
            if not (args.before / "fedchain" / "__init__.py").is_file():
                raise SystemExit(f"--before {args.before}: no fedchain/__init__.py there")
            envs["@before"] = {**env, "PYTHONPATH": str(args.before.resolve())}
        runs = {"warmup": args.warmup, "repeats": args.repeats}
        commands: dict[str, list[str]] = {
            "python_pass": [sys.executable, "-c", "pass"],
            "import_fedchain": [sys.executable, "-c", "import fedchain"],
            "help": _cli("--help"),
            "version": _cli("--version"),
            "ipfs_cid": _cli("ipfs", "cid", str(small)),
            "account_address": _cli("account", "address", "--keystore", str(keystore)),
        }
        for name, argv in commands.items():
            for suffix, run_env in envs.items():
                if suffix and name in ("python_pass",):
                    continue
                timed[name + suffix] = _time(argv, env=run_env, cwd=work, **runs)
        timed["task_status"] = None
        task_setup_s = None
        if not args.no_task:
            with AnvilNode(accounts=len(accounts)) as node:
                start = time.perf_counter()
                deployment, task_id = _finished_task(work, node.url, keys)
                task_setup_s = time.perf_counter() - start
                argv = _cli("task", "status", str(task_id), "--deployment", str(deployment))
                for suffix, run_env in envs.items():
                    timed["task_status" + suffix] = _time(argv, env=run_env, cwd=work, **runs)
                    timed["task_status_json" + suffix] = _time(
                        [*argv, "--json"], env=run_env, cwd=work, **runs
                    )

    base = timed["python_pass"]
    if base is None:
        raise SystemExit("python -c pass failed")
    ratios = {k: (v / base if v is not None else None) for k, v in timed.items()}
    print(f"{'command':<24} {'median s':>9} {'× python -c pass':>17} {'target s':>9}")
    for name, seconds in timed.items():
        target = TARGETS_S.get(name)
        shown = f"{seconds:9.3f}" if seconds is not None else f"{'-':>9}"
        ratio = ratios[name]
        shown_ratio = f"{ratio:17.1f}" if ratio is not None else f"{'-':>17}"
        print(f"{name:<24} {shown} {shown_ratio} {target if target else '':>9}")
    out: dict[str, Any] = {
        "benchmark": "cli_latency",
        "repeats": args.repeats,
        "warmup": args.warmup,
        "median_s": timed,
        "ratio_to_python_pass": ratios,
        "ratio_to_import_fedchain": {
            k: (
                v / timed["import_fedchain"] if v is not None and timed["import_fedchain"] else None
            )
            for k, v in timed.items()
        },
        "speedup_vs_before": {
            k: (before / v if v and before else None)
            for k, v in timed.items()
            if not k.endswith("@before")
            for before in [timed.get(k + "@before")]
            if k + "@before" in timed
        },
        "targets_s": TARGETS_S,
        "meets_targets": {
            k: (seconds is not None and seconds <= t)
            for k, t in TARGETS_S.items()
            for seconds in [timed.get(k)]
        },
        "task_setup_s": task_setup_s,
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
