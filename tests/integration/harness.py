"""What the multi-process tests share: one ``fedchain`` OS process per participant, and waiting
for the chain with the participants' logs at hand when something goes wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Participant", "wait_for"]


class Participant:
    """One ``fedchain`` process with its own key and log file."""

    def __init__(self, name: str, argv: list[str], key: str, logs: Path) -> None:
        self.name, self.argv, self.key, self.logs = name, argv, key, logs
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Participant:
        env = {**os.environ, "FEDCHAIN_PRIVATE_KEY": self.key, "OMP_NUM_THREADS": "1"}
        env.pop("FEDCHAIN_KEYSTORE_PASSWORD", None)
        self.starts += 1
        log = (self.logs / f"{self.name}.{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fedchain.cli", *self.argv],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C: SIGINT to the process, as a terminal sends it; returns its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def output(self) -> str:
        return (self.logs / f"{self.name}.{self.starts}.log").read_text(errors="replace")

    def last_json(self) -> dict[str, Any]:
        return dict(json.loads(self.output().strip().splitlines()[-1]))


def wait_for(
    what: str, predicate: Callable[[], bool], timeout: float, crowd: list[Participant]
) -> None:
    """Poll ``predicate`` until it holds; fail with the crowd's logs on a timeout, or as soon as
    one of them exits non-zero (killed ones excepted)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in crowd:  # a participant that died early explains the wait
            if p.proc is not None and p.proc.poll() not in (None, 0, -9):
                raise AssertionError(f"{p.name} exited {p.proc.returncode}:\n{p.output()[-3000:]}")
        time.sleep(0.25)
    tails = "\n".join(f"--- {p.name}\n{p.output()[-1500:]}" for p in crowd)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")
