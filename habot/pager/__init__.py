"""Paging adapters: PagerDuty's Events API v2 and Opsgenie's Alert API, behind the outbox's
Sender (see :mod:`habot.core.paging`)."""
