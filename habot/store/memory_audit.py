"""The audit chain in memory (see habot/store/memory.py), hashed as in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator

from habot.core.audit import (
    GENESIS,
    AuditEvent,
    AuditRecord,
    ChainCheck,
    chain,
    verify,
)


class MemoryAudit:
    """The audit chain in a list."""

    def __init__(self) -> None:
        self.chain: list[AuditRecord] = []

    def append_now(self, event: AuditEvent) -> AuditRecord:
        """Append at once (a request change and its event happen together)."""
        head = self.chain[-1] if self.chain else None
        record = chain(head.seq + 1 if head else 1, event, head.hash if head else GENESIS)
        self.chain.append(record)
        return record

    async def append(self, event: AuditEvent) -> AuditRecord:
        return self.append_now(event)

    async def recent(self, limit: int, pair: str | None = None) -> list[AuditRecord]:
        found = [r for r in reversed(self.chain) if pair is None or r.event.pair == pair]
        return found[:limit]

    async def head(self) -> AuditRecord | None:
        return self.chain[-1] if self.chain else None

    async def verify(self) -> ChainCheck:
        return verify(self.chain)

    async def records(self) -> AsyncIterator[AuditRecord]:
        for record in list(self.chain):
            yield record

    async def page(self, after: int, limit: int) -> list[AuditRecord]:
        return [r for r in self.chain if r.seq > after][:limit]
