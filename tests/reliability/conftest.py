"""The fault suite: each test breaks habot on purpose (a killed or paused process, a locked
database, a dead or frozen node, a misbehaving Slack, hostile input, a tampered audit log)
and checks the promise that must still hold. Every test is marked ``reliability`` and
writes its figures to the ledger, printed after the run (and saved as JSON when
HABOT_RELIABILITY_REPORT names a file): faults injected, operations run, outcomes lost,
commands run twice. RELIABILITY.md quotes the last run."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@dataclass
class Row:
    """One fault's figures."""

    fault: str
    promise: str
    injected: int = 0
    operations: int = 0
    lost: int = 0
    duplicated: int = 0


@dataclass
class Ledger:
    """The figures of this run, one row per test."""

    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        """Record a row (fill its figures in as the test goes)."""
        self.rows.append(row)
        return row


_LEDGER = Ledger()


@pytest.fixture
def ledger() -> Ledger:
    """The run's ledger."""
    return _LEDGER


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is part of the fault suite (`-m reliability`)."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the ledger (and save it) after the run."""
    if not _LEDGER.rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault suite figures")
    write(_line("fault", "injected", "ops", "lost", "dup"))
    for row in _LEDGER.rows:
        write(_line(row.fault, row.injected, row.operations, row.lost, row.duplicated))
    keys = ("injected", "operations", "lost", "duplicated")
    totals = {k: sum(getattr(r, k) for r in _LEDGER.rows) for k in keys}
    write(_line("total", *totals.values()))
    target = os.environ.get("HABOT_RELIABILITY_REPORT")
    if target:
        Path(target).write_text(
            json.dumps({"rows": [asdict(r) for r in _LEDGER.rows], "totals": totals}, indent=2)
        )


def _line(fault: str, *figures: object) -> str:
    return f"{fault[:58]:<58} " + " ".join(f"{f!s:>8}" for f in figures)
