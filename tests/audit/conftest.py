"""The honest task every audit test starts from: run once per session, chain kept open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fedchain.audit import AuditReport

from .simrun import ATTACKER, LOUD_FLIP, Run, simulate


@pytest.fixture(scope="session")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """5 clients (client 4 a loud sign-flipper), 2 rounds, 3 honest miners."""
    with simulate(tmp_path_factory.mktemp("honest") / "store",
                  attacks={ATTACKER: LOUD_FLIP}) as run:  # fmt: skip
        yield run


@pytest.fixture(scope="session")
def honest_report(honest: Run) -> AuditReport:
    return honest.audit()
