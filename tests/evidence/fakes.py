"""Stand-ins for the store behind the writers, at the one boundary tests cut."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from shekara.audit.flowmeta import FlowMeta
from shekara.audit.model import Finding, Note
from shekara.evidence.connections import ConnectionRecord


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one ``add`` call handed to the store."""

    run_id: int
    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]
    connections: tuple[ConnectionRecord, ...]
    flows: tuple[FlowMeta, ...]


class FakeStore(ABC):
    """The writers' view of a store (``FindingSink``); a test says what a delivery does."""

    def add(
        self,
        run_id: int,
        findings: Sequence[Finding],
        notes: Sequence[Note],
        connections: Sequence[ConnectionRecord] = (),
        *,
        flows: Sequence[FlowMeta] = (),
    ) -> None:
        self.deliver(
            Delivery(run_id, tuple(findings), tuple(notes), tuple(connections), tuple(flows))
        )

    @abstractmethod
    def deliver(self, d: Delivery) -> None:
        """Take one delivery, or raise as a failing store would."""
