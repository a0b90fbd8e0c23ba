"""Gas accounting: every transaction a :class:`~fedchain.chain.Chain` sends is recorded."""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass

__all__ = ["GasMeter", "GasRecord"]


@dataclass(frozen=True)
class GasRecord:
    """One mined transaction: its label (``"Contract.function"``), gas used and fee paid."""

    label: str
    gas_used: int
    fee_wei: int
    tx_hash: str
    block_number: int


class GasMeter:
    """Collects :class:`GasRecord` entries; thread-safe.

    ``total`` is the gas of everything recorded, ``by_label()`` groups it per
    ``"Contract.function"`` label (deployments are ``"Contract.constructor"``, plain ether
    transfers ``"ETH.transfer"``).
    """

    def __init__(self) -> None:
        self._records: list[GasRecord] = []
        self._lock = threading.Lock()

    def record(self, record: GasRecord) -> None:
        """Add one record."""
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[GasRecord]:
        """A copy of every record, in the order they were mined."""
        with self._lock:
            return list(self._records)

    @property
    def total(self) -> int:
        """Gas used by every recorded transaction."""
        with self._lock:
            return sum(r.gas_used for r in self._records)

    @property
    def total_fee_wei(self) -> int:
        """Fees paid by every recorded transaction, in wei."""
        with self._lock:
            return sum(r.fee_wei for r in self._records)

    def by_label(self) -> dict[str, list[int]]:
        """Gas used per label, e.g. ``{"TaskManager.submitUpdate": [81234, 64134]}``."""
        out: dict[str, list[int]] = {}
        with self._lock:
            for r in self._records:
                out.setdefault(r.label, []).append(r.gas_used)
        return out

    def summary(self) -> dict[str, dict[str, float]]:
        """Per label: count, total, mean, median, min and max gas (JSON-friendly)."""
        return {
            label: {
                "count": len(gas),
                "total": sum(gas),
                "mean": statistics.fmean(gas),
                "median": statistics.median(gas),
                "min": min(gas),
                "max": max(gas),
            }
            for label, gas in sorted(self.by_label().items())
        }

    def reset(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
