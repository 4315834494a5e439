"""The Slack app manifests validate against Slack's published schema and our own rules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from habot.core.grammar import Sub
from habot.slack.manifest import render_manifest
from tests.kit.factories import REQUIRE_SYSTEM_ENV

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "slack-manifest-schema" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    """Slack's v1 manifest schema, read from ../shared (never copied into the project)."""
    if not SCHEMA.exists():
        reason = f"Slack's manifest schema is not at {SCHEMA}"
        if os.environ.get(REQUIRE_SYSTEM_ENV) == "1":
            pytest.fail(f"HABOT_REQUIRE_SYSTEM_TESTS=1 but {reason}")
        pytest.skip(reason)
    return Draft7Validator(json.loads(SCHEMA.read_text()))


def cross_field_problems(manifest: dict[str, Any]) -> list[str]:
    """Rules the schema cannot express."""
    found = []
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    features, settings = manifest["features"], manifest["settings"]
    if features.get("slash_commands") and "commands" not in scopes:
        found.append("slash commands without the commands scope")
    if "chat:write" not in scopes:
        found.append("no chat:write scope")
    if not settings["socket_mode_enabled"]:
        urls = [c.get("url") for c in features["slash_commands"]]
        urls += [
            settings["interactivity"].get("request_url"),
            settings["event_subscriptions"].get("request_url"),
        ]
        if not all(urls):
            found.append("HTTP mode without request URLs")
    if (
        features["app_home"]["home_tab_enabled"]
        and "app_home_opened" not in settings["event_subscriptions"]["bot_events"]
    ):
        found.append("home tab without app_home_opened")
    return found


MANIFESTS = {
    "socket": render_manifest("/ha"),
    "http": render_manifest("/ha", "https://habot.example.com"),
    "custom command": render_manifest("/pam-ha", "https://h.example.com/"),
}


@pytest.mark.parametrize("name", list(MANIFESTS))
def test_manifest_matches_slacks_schema(validator: Draft7Validator, name: str) -> None:
    """Every rendered manifest is valid against Slack's published JSON schema."""
    errors = [e.message for e in validator.iter_errors(MANIFESTS[name])]
    assert errors == []


@pytest.mark.parametrize("name", list(MANIFESTS))
def test_manifest_cross_field_rules(name: str) -> None:
    """commands scope, chat:write, request URLs in HTTP mode, app_home_opened subscribed."""
    assert cross_field_problems(MANIFESTS[name]) == []


def test_cross_field_rules_catch_mistakes() -> None:
    """The rules above fail on a broken manifest (so they can fail)."""
    broken = render_manifest("/ha", "https://h.example.com")
    broken["oauth_config"]["scopes"]["bot"] = ["chat:write"]
    broken["settings"]["interactivity"].pop("request_url")
    broken["settings"]["event_subscriptions"]["bot_events"] = []
    assert len(cross_field_problems(broken)) == 3


def test_schema_rejects_a_typo(validator: Draft7Validator) -> None:
    """The schema is strict: a misspelt key fails (so the validation test can fail)."""
    typo = render_manifest()
    typo["features"]["slash_commands"][0]["descripton"] = "x"
    assert list(validator.iter_errors(typo))


def test_http_mode_points_everything_at_slack_events() -> None:
    """In HTTP mode every request URL is the bot's /slack/events."""
    manifest = render_manifest("/ha", "https://h.example.com/")
    url = "https://h.example.com/slack/events"
    assert manifest["features"]["slash_commands"][0]["url"] == url
    assert manifest["settings"]["interactivity"]["request_url"] == url
    assert manifest["settings"]["socket_mode_enabled"] is False


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("socket-mode.json", MANIFESTS["socket"]), ("http-mode.json", MANIFESTS["http"])],
)
def test_committed_manifests_are_current(path: str, rendered: dict[str, Any]) -> None:
    """manifests/ holds exactly what `habot manifest` renders for /ha (no drift)."""
    assert json.loads((ROOT / "manifests" / path).read_text()) == rendered


def test_the_usage_hint_lists_every_subcommand() -> None:
    """The manifest's usage hint lists every subcommand, within Slack's limit."""
    hint = render_manifest()["features"]["slash_commands"][0]["usage_hint"]
    for sub in Sub:
        assert sub.value in hint, sub
    assert len(hint) <= 1000  # Slack's limit for a usage hint
