#!/usr/bin/env python3
"""Take part in a task as a client: ``fedchain client run`` with these arguments.

Example::

    FEDCHAIN_KEYSTORE_PASSWORD=... scripts/run_client.py --task 1 --keystore client0.json \\
        --dataset digits --shard 0/10 --deployment deployment.json --store local:/shared/store

See ``docs/cli.md`` for every option.
"""

from __future__ import annotations

import sys

from fedchain.cli import run_subcommand

if __name__ == "__main__":
    run_subcommand(["client", "run"], sys.argv[1:], prog_name="run_client.py")
