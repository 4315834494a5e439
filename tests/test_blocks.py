"""Every Block Kit payload habot can send passes slack_sdk's models and Slack's other limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from habot.core.audit import AuditEvent, chain
from habot.core.blocks import (
    MAX_BLOCKS,
    help_message,
    history_message,
    home_view,
    logs_message,
    mention,
    raw_message,
    status_card,
    status_message,
    text_message,
)
from habot.core.grammar import Sub
from habot.core.model import NodeState, Verdict
from tests.kit.slackcheck import problems_in_blocks, problems_in_view
from tests.kit.statuses import NOW, pair_status


@pytest.mark.parametrize("verdict", list(Verdict))
@pytest.mark.parametrize("noise", [0, 20])
def test_status_card_for_every_verdict_is_valid(verdict: Verdict, noise: int) -> None:
    """Cards for each verdict, quiet or full of long issues, stay within the limits."""
    message = status_message([pair_status(verdict, noise=noise)], NOW, ["abc123"])
    assert problems_in_blocks(message.blocks) == []
    assert message.in_channel


def test_many_pairs_fall_back_to_headlines_within_50_blocks() -> None:
    """Twenty pairs would need more than 50 blocks; the message keeps every headline."""
    statuses = [pair_status(Verdict.BAU, f"p{i}") for i in range(20)]
    message = status_message(statuses, NOW, [f"id{i}" for i in range(20)])
    assert len(message.blocks) <= MAX_BLOCKS
    assert problems_in_blocks(message.blocks) == []
    assert all(f"*p{i}*" in message.blocks[0]["text"]["text"] for i in range(20))


def test_several_pairs_have_unique_block_ids() -> None:
    """Each card's actions block has its own block_id."""
    statuses = [pair_status(Verdict.BAU, f"p{i}") for i in range(4)]
    message = status_message(statuses, NOW, [f"id{i}" for i in range(4)])
    assert problems_in_blocks(message.blocks) == []
    assert sum(b["type"] == "actions" for b in message.blocks) == 4


def test_raw_output_of_any_size_is_valid() -> None:
    """100 000 characters of raw output are split and capped within the limits."""
    message = raw_message(pair_status(Verdict.UNKNOWN, raw="\n".join(["y" * 120] * 900)))
    assert problems_in_blocks(message.blocks) == []


def test_lines_not_understood_are_marked_on_the_card_and_listed_in_raw_output() -> None:
    """A reading with lines no rule read says how many on its card, and the raw view
    lists them per node; a reading without any says nothing of it."""
    status = pair_status(Verdict.BAU)
    lines = ("Firmware: 9.1", "Zone <b>")
    unread = replace(status, secondary=replace(status.secondary, not_understood=lines))
    card = json.dumps(status_card(unread, NOW, "r1"), ensure_ascii=False)
    assert "2 lines not understood — Raw ha-status output shows them" in card
    assert "not understood" not in json.dumps(status_card(status, NOW, "r1"))
    raw = json.dumps(raw_message(unread).blocks, ensure_ascii=False)
    assert "2 lines not understood: “Firmware: 9.1”, “Zone &lt;b&gt;”" in raw
    assert problems_in_blocks(list(raw_message(unread).blocks)) == []


def test_raw_output_says_when_each_node_was_read() -> None:
    """The raw text may be older than the click that asked for it: each node's heading
    has the moment it was read, to the second, as a Slack date."""
    message = raw_message(pair_status(Verdict.BAU))
    read = int((NOW - timedelta(seconds=95)).timestamp())
    headings = [b["text"]["text"] for b in message.blocks if "raw `ha-status`" in str(b)]
    assert len(headings) == 2
    assert all(f", read <!date^{read}^" in h and "{time_secs}" in h for h in headings)


def test_logs_of_200_long_lines_are_valid() -> None:
    """The largest log tail a user can ask for fits."""
    output = "\n".join(f"2026-11-26 03:00:{i % 60:02d} " + "z" * 400 for i in range(200))
    message = logs_message("prod", "primary", "10.0.0.1", 200, output)
    assert problems_in_blocks(message.blocks) == []
    assert "z" * 400 in message.blocks[1]["text"]["text"]


def test_history_of_100_events_is_valid() -> None:
    """The longest history fits, newest first."""
    records, prev = [], "0" * 64
    for i in range(1, 101):
        record = chain(
            i,
            AuditEvent("status", "U0ABC", "bau", NOW, pair="prod", detail={"note": "n" * 200}),
            prev,
        )
        records.append(record)
        prev = record.hash
    message = history_message("prod", records[::-1], {})
    assert problems_in_blocks(message.blocks) == []
    assert "#100" in message.blocks[1]["text"]["text"]


def test_help_and_plain_messages_are_valid() -> None:
    """Help with every subcommand, and a very long plain message, are valid."""
    assert problems_in_blocks(help_message("/ha", list(Sub)).blocks) == []
    assert problems_in_blocks(help_message("/ha", []).blocks) == []
    assert problems_in_blocks(text_message("q" * 5000).blocks) == []


def test_home_view_is_valid_for_many_pairs() -> None:
    """The App Home view passes the View model with 40 pairs."""
    assert problems_in_view(home_view([f"pair{i}" for i in range(40)], "/ha")) == []


def test_checker_catches_what_slack_sdk_misses() -> None:
    """The checker itself fails on >50 blocks, duplicate action_ids and unknown types."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "b"}}
    assert problems_in_blocks([section] * 51)
    assert problems_in_blocks([{"type": "actions", "elements": [button, button]}])
    assert problems_in_blocks([{"type": "no_such_block"}])
    assert problems_in_blocks([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}])


def test_sixty_long_named_pairs_are_all_named_within_slacks_limits() -> None:
    """`/ha status all` on a big fleet: too many for detail, so a headline per pair — every
    one of them, in as many sections as the 3,000-character limit needs, none cut."""
    names = [f"pair-{i:02d}-" + "x" * 40 for i in range(60)]
    statuses = [pair_status(Verdict.PRIMARY_UNREACHABLE, name) for name in names]
    message = status_message(statuses, NOW, [f"id{i}" for i in range(60)])
    assert problems_in_blocks(message.blocks) == []
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    assert all(len(text) <= 3000 and not text.endswith("…") for text in sections)
    shown = "\n".join(sections)
    assert all(f"*{name}*" in shown for name in names)
    assert "60 pairs" in json.dumps(message.blocks)


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        ("U0LEAD1", "<@U0LEAD1>"),
        ("W0GRID1", "<@W0GRID1>"),
        ("S0ONCALL", "<!subteam^S0ONCALL>"),
        ("!here", "<!here>"),
        ("cli:root", "cli:root"),  # the command line's user is no Slack account
        ("habot", "habot"),
        ("cli:<!channel>", "cli:&lt;!channel&gt;"),  # a local name pings nobody
    ],
)
def test_only_slack_ids_become_mentions(who: str, shown: str) -> None:
    """Only a Slack user or group ID becomes a mention; anything else is shown as text."""
    assert mention(who) == shown


def test_status_of_every_pair_shows_those_that_need_a_look_first() -> None:
    """`/ha status all` orders pairs as Home does: not in BAU first, then the configured
    order; each card keeps its own reading's Raw button."""
    shown = [pair_status(Verdict.BAU, "prod"), pair_status(Verdict.PRIMARY_DOWN, "dr"),
             pair_status(Verdict.BAU, "lab"), pair_status(Verdict.DEGRADED, "qa")]  # fmt: skip
    message = status_message(shown, NOW, ["r-prod", "r-dr", "r-lab", "r-qa"])
    assert message.text == "dr: Primary down; qa: Degraded; prod: BAU; lab: BAU"
    raw = [b["accessory"]["value"] for b in message.blocks if "accessory" in b]
    raw += [e["value"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert [r for r in raw if r.startswith("r-")] == ["r-dr", "r-qa", "r-prod", "r-lab"]


def test_a_cut_path_is_said_once_and_never_asks_whether_a_seen_node_is_up() -> None:
    """habot cannot reach the Primary, the Secondary sees it Active: the card says so once
    (its headline), its next step is different words (where to look), and the node's
    error does not ask "is the node up?" — its peer just said it is."""
    cut = pair_status(Verdict.PRIMARY_UNREACHABLE)
    primary = replace(cut.primary, peer_says=NodeState.ACTIVE,
                      error="connection refused (is the node up and sshd listening?)")  # fmt: skip
    card = json.dumps(status_card(replace(cut, primary=primary), NOW, "r1"), ensure_ascii=False)
    assert card.count("the Secondary still sees it up") == 1
    assert "Why:" not in card
    assert "`habot check` tries the network, the firewall and the host key" in card
    assert "connection refused" in card
    assert "is the node up" not in card
    down = replace(primary, peer_says=NodeState.UNREACHABLE)  # the peer cannot see it either
    card = json.dumps(status_card(replace(cut, primary=down), NOW, "r1"))
    assert "is the node up and sshd listening?" in card
