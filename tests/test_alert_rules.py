"""The alert rules and the dashboard that ship with habot: promtool checks the rules and
runs their unit tests (series in, alerts out), every runbook link has its section, every
query of the dashboard is valid PromQL, and every metric they name is one a running habot
exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from habot.sim.simulator import Simulator
from tests.kit.botproc import start_bot
from tests.kit.factories import system_binary
from tests.kit.fakeslack import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "habot-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "habot-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "habot.json"
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def promtool(*args: str, cwd: Path = RULES.parent) -> subprocess.CompletedProcess[str]:
    """Debian's promtool (package prometheus)."""
    tool = system_binary("promtool", "prometheus")
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, check=False)


def rules() -> list[dict[str, Any]]:
    """Every alert rule in the shipped file."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """Every query of the shipped dashboard."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_the_rules_pass_promtool_check_and_their_unit_tests() -> None:
    """The shipped alert rules pass `promtool check rules`, and their unit tests (series in,
    alerts out) pass `promtool test rules`."""
    checked = promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_rule_is_unit_tested_and_explains_itself() -> None:
    """Each alert has a summary, a description and a runbook section that exists, and at
    least one promtool test that expects it to fire."""
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    headings = {
        re.sub(r"[^a-z0-9]+", "-", line.removeprefix("## ").strip().lower()).strip("-")
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in rules():
        notes = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(notes), rule["alert"]
        assert notes["runbook_url"].startswith("docs/runbooks.md#"), rule["alert"]
        assert notes["runbook_url"].split("#")[1] in headings, rule["alert"]
        assert rule["alert"] in fired, f"{rule['alert']} has no test that makes it fire"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool checks the dashboard's queries as recording rules (it parses each)."""
    recorded = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"habot:dashboard:{n}", "expr": expr}
        for n, expr in enumerate(dashboard_queries())
    ]}]}  # fmt: skip
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump(recorded))
    checked = promtool("check", "rules", "dashboard.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def exported(exposition: str) -> set[str]:
    """The series names a Prometheus text exposition declares (a counter's ``_total``, a
    histogram's ``_bucket``, ``_sum`` and ``_count``), labelled ones with no sample yet
    included."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {
                "counter": {f"{name}_total" if not name.endswith("_total") else name},
                "histogram": {f"{name}_bucket", f"{name}_sum", f"{name}_count"},
            }.get(kind, {name})
    return names


async def test_every_metric_the_rules_and_dashboard_name_is_exported(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """Scraped from `habot run` itself: a rule or panel on a metric habot does not export
    would never fire, or stay empty, and say nothing."""
    bot = await start_bot(sim, fake, tmp_path, http=True)
    try:
        async with aiohttp.ClientSession() as session, session.get(bot.url("/metrics")) as r:
            assert r.status == 200
            names = exported(await r.text())
    finally:
        await bot.stop()
    named = {
        name
        for expr in [*(rule["expr"] for rule in rules()), *dashboard_queries()]
        for name in re.findall(r"\bhabot_[a-z_]+\b", expr)
    }
    assert {"habot_pair_verdict", "habot_requests_open", "habot_duration_seconds_bucket"} <= named
    assert named - names == set()
