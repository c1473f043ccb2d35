"""The findings store: runs, findings and notes kept as evidence, and its background writer."""

from shekara.evidence.rows import RunRecord, StoredFinding, StoredNote, SummaryRow
from shekara.evidence.store import FindingStore, StoreError, UnknownRunError
from shekara.evidence.writer import StoreWriter, WriterClosedError, WriterStats

__all__ = [
    "FindingStore",
    "RunRecord",
    "StoreError",
    "StoreWriter",
    "StoredFinding",
    "StoredNote",
    "SummaryRow",
    "UnknownRunError",
    "WriterClosedError",
    "WriterStats",
]
