#!/usr/bin/env python3
"""Static analysis of the FedChain contracts with Slither, on Hardhat's build-info.

Slither lives in its own virtual environment (it pins web3 < 8): the path comes from
``--slither``, else the environment variable ``FEDCHAIN_SLITHER``, else
``.venv-slither/bin/slither``. The script recompiles with ``npx hardhat compile --force`` (one
fresh build-info file; stale ones would give Slither stale source maps), runs::

    slither . --compile-force-framework hardhat --hardhat-ignore-compile
              --hardhat-artifacts-directory build/artifacts --filter-paths node_modules --json -

prints the findings per impact, and exits 1 when any finding is at or above ``--fail-on``
(default High), 2 when Slither itself fails. Accepted findings are suppressed in the sources
with ``// slither-disable-next-line <detector>`` and a comment saying why.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPACTS = ["High", "Medium", "Low", "Informational", "Optimization"]


def slither_path(explicit: str | None) -> Path:
    """The Slither executable: --slither, $FEDCHAIN_SLITHER, or .venv-slither/bin/slither."""
    return Path(
        explicit or os.environ.get("FEDCHAIN_SLITHER") or ROOT / ".venv-slither/bin/slither"
    )


def run(slither: Path, *, compile_first: bool = True) -> dict:
    """Run Slither and return its JSON report."""
    if compile_first:
        subprocess.run(
            ["npx", "hardhat", "compile", "--force", "--quiet"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    proc = subprocess.run(
        [
            str(slither),
            ".",
            "--compile-force-framework",
            "hardhat",
            "--hardhat-ignore-compile",
            "--hardhat-artifacts-directory",
            "build/artifacts",
            "--filter-paths",
            "node_modules",
            "--json",
            "-",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(2) from None
    if not report.get("success"):
        sys.stderr.write(f"slither failed: {report.get('error')}\n")
        raise SystemExit(2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slither", help="path of the slither executable")
    parser.add_argument("--fail-on", default="High", choices=IMPACTS)
    parser.add_argument("--no-compile", action="store_true", help="reuse build/artifacts as is")
    args = parser.parse_args(argv)
    slither = slither_path(args.slither)
    if not slither.is_file():
        sys.stderr.write(f"slither not found at {slither}: run 'make slither' to create it\n")
        return 2
    findings = run(slither, compile_first=not args.no_compile)["results"].get("detectors", [])
    counts = Counter(f["impact"] for f in findings)
    print("slither findings: " + ", ".join(f"{i}: {counts.get(i, 0)}" for i in IMPACTS))
    failing = set(IMPACTS[: IMPACTS.index(args.fail_on) + 1])
    bad = [f for f in findings if f["impact"] in failing]
    for f in bad:
        print(f"[{f['impact']}] {f['check']}: {f['description'].strip().splitlines()[0]}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
