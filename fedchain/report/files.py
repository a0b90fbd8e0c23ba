"""The run directory: ``result.json``, ``transactions.csv`` and the plots, each written atomically.

``result.json`` and ``transactions.csv`` keep the on-chain round index, which starts at 0.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedchain.errors import ConfigError
from fedchain.fsutil import atomic_output
from fedchain.report.plots import plot_accuracy, plot_payouts, plot_reputation

__all__ = ["TRANSACTION_COLUMNS", "default_run_dir", "write_run_dir", "write_transactions"]

#: Header of ``transactions.csv``, in order.
TRANSACTION_COLUMNS = ("round", "label", "sender", "gas_used", "fee_wei", "block_number", "tx_hash")


def write_transactions(
    transactions: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]
) -> Path:
    """Write the transactions as CSV (header :data:`TRANSACTION_COLUMNS`); ``None`` is empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TRANSACTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for tx in transactions:
        writer.writerow({c: "" if tx.get(c) is None else tx[c] for c in TRANSACTION_COLUMNS})
    return _write_file(path, buffer.getvalue().encode("utf-8"))


def write_run_dir(
    result: Mapping[str, Any],
    transactions: Iterable[Mapping[str, Any]],
    run_dir: str | os.PathLike[str],
) -> dict[str, Path]:
    """Write a run's files into ``run_dir`` (created with its parents) and return their paths.

    Files: ``result.json``, ``transactions.csv``, ``accuracy.png``, ``reputation.png``,
    ``payouts.png`` (keys ``result``, ``transactions``, ``accuracy_plot``, ``reputation_plot``,
    ``payouts_plot``). Each file is written to a temporary file beside it and renamed into place,
    so a crash never leaves half a file; other files already in ``run_dir`` are left alone.
    """
    directory = _ensure_directory(Path(run_dir))
    try:
        text = json.dumps(result, indent=2) + "\n"
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the run result cannot be written as JSON: {exc}") from exc
    data = text.encode("utf-8")
    return {
        "result": _write_file(directory / "result.json", data),
        "transactions": write_transactions(transactions, directory / "transactions.csv"),
        "accuracy_plot": plot_accuracy(result, directory / "accuracy.png"),
        "reputation_plot": plot_reputation(result, directory / "reputation.png"),
        "payouts_plot": plot_payouts(result, directory / "payouts.png"),
    }


def _write_file(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (a temporary file beside it, then a rename); the
    umask decides its permissions, as for any ordinary file."""
    with atomic_output(path, mode=0o666) as fh:
        fh.write(data)
    return Path(path)


def default_run_dir(base: str | os.PathLike[str] = "runs", *, prefix: str = "demo") -> Path:
    """Create and return a fresh ``<base>/<prefix>-YYYYmmdd-HHMMSS`` (UTC) directory.

    When that name is taken, ``-2``, ``-3``, … is appended. The directory is created here (with
    its parents) so that two runs started in the same second can never share it.
    """
    parent = _ensure_directory(Path(base))
    stem = f"{prefix}-{_utc_now():%Y%m%d-%H%M%S}"
    for attempt in range(1, 10_000):
        candidate = parent / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ConfigError(f"no free run directory named {stem}-N under {parent}")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ensure_directory(directory: Path) -> Path:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"run directory {directory} exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"cannot create run directory {directory}: a parent is a file") from exc
    except PermissionError as exc:
        raise ConfigError(f"cannot create run directory {directory}: permission denied") from exc
    return directory
