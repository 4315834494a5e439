"""Prometheus metrics (one registry per process, built in the composition root)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


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
            "habot_pair_bau",
            "1 when the pair's last verdict was bau, else 0",
            ["pair"],
            registry=self.registry,
        )
        self.up = Gauge("habot_up", "1 while habot is serving", registry=self.registry)
        self.jobs = Counter(
            "habot_scheduled_jobs",
            "Scheduled job runs: ok, failed, or standby (another replica leads)",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.db_busy = Counter(
            "habot_db_busy_retries",
            "Writes retried because the database was busy (locked by another writer)",
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "habot_outbox_dead_letters",
            "Messages set aside after Slack refused them for good (or an unknown error "
            "five times), by Slack's error",
            ["error"],
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

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
