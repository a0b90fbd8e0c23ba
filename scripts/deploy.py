#!/usr/bin/env python3
"""Deploy the FedChain contracts to a JSON-RPC node: ``fedchain deploy`` with these arguments.

Example::

    FEDCHAIN_PRIVATE_KEY=0x... scripts/deploy.py --rpc-url http://127.0.0.1:8545 \\
        --out deployment.json

See ``docs/cli.md`` for every option.
"""

from __future__ import annotations

import sys

from fedchain.cli import run_subcommand

if __name__ == "__main__":
    run_subcommand(["deploy"], sys.argv[1:], prog_name="deploy.py")
