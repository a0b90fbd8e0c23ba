#!/usr/bin/env python3
"""Take part in a task as a miner: ``fedchain miner run`` with these arguments.

Example::

    FEDCHAIN_KEYSTORE_PASSWORD=... scripts/run_miner.py --task 1 --keystore miner0.json \\
        --deployment deployment.json --store local:/shared/store

See ``docs/cli.md`` for every option.
"""

from __future__ import annotations

import sys

from fedchain.cli import run_subcommand

if __name__ == "__main__":
    run_subcommand(["miner", "run"], sys.argv[1:], prog_name="run_miner.py")
