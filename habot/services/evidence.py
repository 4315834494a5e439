"""What the evidence commands read, in one place: the whole audit chain with each
request's operation named, an incident's timeline from it, and who served a pair when
(for `/ha incident`, `/ha history PAIR roles`, `habot incident export`, `habot history
--roles` and `habot audit verify --timeline` alike)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from habot.core.audit import AuditRecord
from habot.core.incident import Selection, Timeline, actors, timeline
from habot.core.roles_history import Tenure, role_history
from habot.core.timeline import requested
from habot.services.ports import AuditLog, ReadingLog, Requests


async def operations_of(requests: Requests, request_ids: Iterable[str]) -> dict[str, str]:
    """Each request's operation, by id (those the store still holds): what a history line
    names when its event carries only the request's id."""
    named: dict[str, str] = {}
    for request_id in set(request_ids):
        if (request := await requests.get(request_id)) is not None:
            named[request_id] = request.operation.value
    return named


async def named_chain(
    audit: AuditLog, requests: Requests
) -> tuple[list[AuditRecord], dict[str, str]]:
    """The whole chain, oldest first, and the operation of each request it names."""
    records = [r async for r in audit.records()]
    return records, await operations_of(requests, requested(records))


async def incident_timeline(
    audit: AuditLog,
    requests: Requests,
    selection: Selection,
    name_of: Callable[[str], Awaitable[str | None]] | None = None,
) -> Timeline:
    """The timeline of ``selection``, people by name where ``name_of`` knows one."""
    records, named = await named_chain(audit, requests)
    names = {u: n for u in actors(records, selection) if name_of and (n := await name_of(u))}
    return timeline(records, selection, named, names)


async def tenures(readings: ReadingLog, audit: AuditLog, pair: str) -> list[Tenure]:
    """Who served ``pair`` when, from every reading kept and the chain."""
    kept = await readings.since(pair, datetime.min.replace(tzinfo=UTC))
    return role_history(kept, [r async for r in audit.records()], pair)
