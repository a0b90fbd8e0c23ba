"""The auditor: a task re-derived from its events and blobs, check by check.

Anyone, with no key, can point :func:`audit_task` at a node and a deployment file, or at a demo's
run directory, and get an :class:`AuditReport`: every blob the chain names fetched and
re-hashed, every author recovered, every committee recomputed from its seed, every verdict
re-run with the committee's own code, and every payout recomputed with the Python mirror, each
as a named :class:`Finding` with its evidence. ``docs/audit.md`` lists the checks.
"""

from fedchain.audit.findings import (
    CHECKS,
    EXIT_MISMATCH,
    EXIT_OK,
    EXIT_UNCHECKED,
    OPTIONAL_CHECKS,
    AuditReport,
    Finding,
)
from fedchain.audit.rebuild import AuditError
from fedchain.audit.recording import RECORDING_FILE, RecordedProvider, record_chain
from fedchain.audit.run import audit_task
from fedchain.audit.source import AuditSource, SourceError, open_source

__all__ = [
    "CHECKS",
    "EXIT_MISMATCH",
    "EXIT_OK",
    "EXIT_UNCHECKED",
    "OPTIONAL_CHECKS",
    "RECORDING_FILE",
    "AuditError",
    "AuditReport",
    "AuditSource",
    "Finding",
    "RecordedProvider",
    "SourceError",
    "audit_task",
    "open_source",
    "record_chain",
]
