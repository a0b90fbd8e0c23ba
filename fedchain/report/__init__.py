"""What a finished simulated task leaves behind: a printed table, summary lines and a run directory.

The input is plain data: the JSON-ready *result* dict the simulator produces (schema in
``docs/report.md``) and a list of transaction dicts. This package knows nothing of the chain or of
torch. Tables are rich, plots are matplotlib on the Agg canvas (imported only when a plot is drawn,
so importing :mod:`fedchain.report` stays cheap), and every file is written atomically.

Human views (the table, the plots) number rounds from 1; ``result.json`` and ``transactions.csv``
keep the on-chain round index, which starts at 0.

Modules: :mod:`~fedchain.report.labels` (participants' names or short addresses, ETH amounts),
:mod:`~fedchain.report.table` (round table, summary lines, acceptance statistics),
:mod:`~fedchain.report.plots` (PNG plots) and :mod:`~fedchain.report.files`
(``transactions.csv`` and the run directory); files are written with
:func:`fedchain.fsutil.atomic_output`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedchain.lazy import lazy_exports

if TYPE_CHECKING:
    from fedchain.report.files import (
        TRANSACTION_COLUMNS,
        default_run_dir,
        write_run_dir,
        write_transactions,
    )
    from fedchain.report.labels import (
        client_labels,
        format_wei,
        participant_legend,
        short_address,
    )
    from fedchain.report.plots import plot_accuracy, plot_payouts, plot_reputation
    from fedchain.report.table import acceptance_stats, round_table, summary_lines

__all__ = [
    "TRANSACTION_COLUMNS",
    "acceptance_stats",
    "client_labels",
    "default_run_dir",
    "format_wei",
    "participant_legend",
    "plot_accuracy",
    "plot_payouts",
    "plot_reputation",
    "round_table",
    "short_address",
    "summary_lines",
    "write_run_dir",
    "write_transactions",
]

# Public name -> the module that defines it, imported on first use (PEP 562).
_EXPORTS: dict[str, str] = {
    "TRANSACTION_COLUMNS": "fedchain.report.files",
    "default_run_dir": "fedchain.report.files",
    "write_run_dir": "fedchain.report.files",
    "write_transactions": "fedchain.report.files",
    "client_labels": "fedchain.report.labels",
    "format_wei": "fedchain.report.labels",
    "participant_legend": "fedchain.report.labels",
    "short_address": "fedchain.report.labels",
    "plot_accuracy": "fedchain.report.plots",
    "plot_payouts": "fedchain.report.plots",
    "plot_reputation": "fedchain.report.plots",
    "acceptance_stats": "fedchain.report.table",
    "round_table": "fedchain.report.table",
    "summary_lines": "fedchain.report.table",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
