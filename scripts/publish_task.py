#!/usr/bin/env python3
"""Publish a task from a TOML task file: ``fedchain task create`` with these arguments.

Example::

    FEDCHAIN_PRIVATE_KEY=0x... scripts/publish_task.py task.toml \\
        --deployment deployment.json --store local:/shared/store --follow --evaluate digits

See ``docs/cli.md`` for every option and ``docs/taskfile.md`` for the task file.
"""

from __future__ import annotations

import sys

from fedchain.cli import run_subcommand

if __name__ == "__main__":
    run_subcommand(["task", "create"], sys.argv[1:], prog_name="publish_task.py")
