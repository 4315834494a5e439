"""Prometheus metrics (one registry per process, built where `habot run` starts); the
services' Telemetry port."""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from habot.core.approvals import OPEN
from habot.core.model import Verdict
from habot.core.verdict import PairStatus

#: Seconds: from a quick local answer to a command near its time limit.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
#: Seconds: an operation from its ask to its verified outcome — seconds to hours.
OPERATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)


class Metrics:
    """The counters and gauges habot exposes at GET /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "habot_slack_requests",
            "Slack requests handled",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.verdicts = Gauge(
            "habot_pair_verdict",
            "1 for the verdict of the pair's last scheduled reading, 0 for every other",
            ["pair", "verdict"],
            registry=self.registry,
        )
        self.read_at = Gauge(
            "habot_pair_reading_timestamp_seconds",
            "When the pair's last scheduled reading was taken (Unix time)",
            ["pair"],
            registry=self.registry,
        )
        self.reading_age = Gauge(
            "habot_pair_reading_age_seconds",
            "Seconds since the pair's last scheduled reading",
            ["pair"],
            registry=self.registry,
        )
        self.not_understood = Gauge(
            "habot_status_lines_not_understood",
            "Lines of the node's last scheduled ha-status that no rule understood",
            ["pair", "role"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "habot_duration_seconds",
            "How long things took: ssh commands (kind read or change), status polls, Slack "
            "Web API calls (kind: the method)",
            ["task", "kind"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "habot_outbox_backlog",
            "Messages waiting in the outbox for Slack",
            registry=self.registry,
        )
        self.up = Gauge("habot_up", "1 while habot is serving", registry=self.registry)
        self.jobs = Counter(
            "habot_scheduled_jobs",
            "Scheduled runs by task: ok, failed, cancelled, or standby (another replica leads)",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.db_busy = Counter(
            "habot_db_busy_retries",
            "Writes retried because the database was busy (locked by another writer)",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "habot_outbox_dead_letters",
            "Messages set aside (an error not known to be transient, or 50 transient "
            "failures), by Slack's error",
            ["error"],
            registry=self.registry,
        )
        self.pages = Counter(
            "habot_pages",
            "Attempts to page the on-call, by paging tool, action (trigger, acknowledge, "
            "resolve) and outcome (sent, failed — failed ones are retried or set aside)",
            ["pager", "action", "outcome"],
            registry=self.registry,
        )
        self.glass_unreviewed = Gauge(
            "habot_break_glass_unreviewed",
            "Break-glass runs whose review is still owed (set by the replica that ran or "
            "reviewed one, and by the leader's housekeeping: alert on max across replicas)",
            registry=self.registry,
        )
        self.open_requests = Gauge(
            "habot_requests_open",
            "Requests holding a pair, by state: pending, scheduled, executing, unknown (set "
            "by the leader's sweep: alert on max across replicas)",
            ["state"],
            registry=self.registry,
        )
        self.siem_waiting = Gauge(
            "habot_siem_backlog",
            "Audit events not yet sent to the SIEM ([siem]; set by the leader's forwarder)",
            registry=self.registry,
        )
        self.siem_failures = Counter(
            "habot_siem_failures",
            "Failed attempts to reach or write to the SIEM (each is retried)",
            registry=self.registry,
        )
        self.operations = Histogram(
            "habot_operation_seconds",
            "How long operations took, by operation and stage: approval (asked → approved), "
            "start (approved → run), running (run → verified outcome), total",
            ["operation", "stage"],
            buckets=OPERATION_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "habot_scheduler_leader",
            "1 while this replica runs the scheduled jobs",
            registry=self.registry,
        )

    def dead_letter(self, error: str) -> None:
        """Count one message set aside."""
        self.dead_letters.labels(error[:40]).inc()

    def job_ran(self, job: str, outcome: str) -> None:
        """Count one scheduled run."""
        self.jobs.labels(job, outcome).inc()

    # -- the Telemetry port ---------------------------------------------------------------

    def reading(self, status: PairStatus) -> None:
        """Set the pair's verdict (one 1, the rest 0) and when it was read."""
        for verdict in Verdict:
            self.verdicts.labels(status.pair, verdict.value).set(verdict is status.verdict)
        taken = status.observed_at.timestamp()
        self.read_at.labels(status.pair).set(taken)
        self.reading_age.labels(status.pair).set_function(lambda: time.time() - taken)
        for view in (status.primary, status.secondary):
            self.not_understood.labels(status.pair, view.role.value).set(len(view.not_understood))

    def took(self, what: str, seconds: float, kind: str = "") -> None:
        """Observe one duration."""
        self.durations.labels(what, kind).observe(seconds)

    def backlog(self, queued: int) -> None:
        """Set the outbox backlog."""
        self.outbox_backlog.set(queued)

    def paged(self, pager: str, action: str, outcome: str) -> None:
        """Count one attempt to page."""
        self.pages.labels(pager, action, outcome).inc()

    def glass_owed(self, count: int) -> None:
        """Set how many break-glass runs still owe their review."""
        self.glass_unreviewed.set(count)

    def requests_open(self, counts: Mapping[str, int]) -> None:
        """Set how many requests hold a pair, in each open state (0 for those with none)."""
        for state in sorted(OPEN):
            self.open_requests.labels(state.value).set(counts.get(state.value, 0))

    def siem_backlog(self, events: int) -> None:
        """Set how many audit events the SIEM has not had yet."""
        self.siem_waiting.set(events)

    def siem_failed(self) -> None:
        """Count one failed attempt to reach or write to the SIEM."""
        self.siem_failures.inc()

    def operation_took(self, operation: str, stage: str, seconds: float) -> None:
        """Observe one stage of one operation."""
        self.operations.labels(operation, stage).observe(max(seconds, 0.0))

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
