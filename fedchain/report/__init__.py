"""What a finished simulated task leaves behind: a printed table, summary lines and a run directory.

The input is plain data: the JSON-ready *result* dict the simulator produces (schema in
``docs/report.md``) and a list of transaction dicts. This package knows nothing of the chain or of
torch. Tables are rich, plots are matplotlib on the Agg canvas (imported only when a plot is drawn,
so importing :mod:`fedchain.report` stays cheap), and every file is written atomically.

Human views (the table, the plots) number rounds from 1; ``result.json`` and ``transactions.csv``
keep the on-chain round index, which starts at 0.

Modules: :mod:`~fedchain.report.labels` (short labels, wei amounts),
:mod:`~fedchain.report.table` (round table, summary lines, acceptance statistics),
:mod:`~fedchain.report.plots` (PNG plots) and :mod:`~fedchain.report.files`
(``transactions.csv`` and the run directory); files are written with
:func:`fedchain.fsutil.atomic_output`.
"""

from fedchain.report.files import (
    TRANSACTION_COLUMNS,
    default_run_dir,
    write_run_dir,
    write_transactions,
)
from fedchain.report.labels import client_labels, format_wei, short_address
from fedchain.report.plots import plot_accuracy, plot_payouts, plot_reputation
from fedchain.report.table import acceptance_stats, round_table, summary_lines

__all__ = [
    "TRANSACTION_COLUMNS",
    "acceptance_stats",
    "client_labels",
    "default_run_dir",
    "format_wei",
    "plot_accuracy",
    "plot_payouts",
    "plot_reputation",
    "round_table",
    "short_address",
    "summary_lines",
    "write_run_dir",
    "write_transactions",
]
