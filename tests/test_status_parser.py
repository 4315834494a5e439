"""The ha-status parser finds fields by label and value, in any plausible layout."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from habot.core.model import Health, NodeState, Role
from habot.core.status_parser import RoleEntry, parse_status

KEY_VALUE = """\
Primary:    Active           10.20.0.11  - this host
Secondary:  Standby          10.20.0.12
Floating IP: 10.20.0.10

High Availability status: OK
SMB share is not configured. Osirium recommends configuring an SMB share for backups.
"""

BOXED = """\
╔═══════════╦══════════════════╦══════════════╦═════════════╗
║ Server    ║ State            ║ IP address   ║             ║
╠═══════════╬══════════════════╬══════════════╬═════════════╣
║ PRIMARY   ║ demoted          ║ 10.20.0.11   ║             ║
║ secondary ║ Promoted  Active ║ 10.20.0.12   ║ - this host ║
╚═══════════╩══════════════════╩══════════════╩═════════════╝
HA status : degraded
WARNING: the SMB share is 85% full
"""

ASCII_TABLE = """\
+-----------+---------+------------+-----------+
| Role      | State   | IP         | Marker    |
+-----------+---------+------------+-----------+
| Secondary | Standby | fd00::12   | this host |
| Primary   | Active  | fd00::11   |           |
+-----------+---------+------------+-----------+
| High Availability status | OK                |
"""

BLOCKS = """\


Primary server
\tState:\tActive
\tIP address:\t10.20.0.11


Secondary server (this host)
\tState:\tStandby
\tIP address:\t10.20.0.12

Floating IP address: none
high availability status:   ok
"""

PLAIN_COLUMNS = """\
Server      State             IP address
Primary     Active            10.20.0.11      - this host
Secondary   Standby           10.20.0.12

High Availability status      OK
"""

ONE_LINE = "Primary: Active 10.0.0.1 (this host)   Secondary: Failed 10.0.0.2\nHA health: Degraded"

STANDALONE = "This server is not configured for High Availability.\n"


def test_key_value_layout_is_understood() -> None:
    """`Label: State IP - this host` lines, one server per line."""
    report = parse_status(KEY_VALUE)
    assert report.parsed
    assert report.entries == (
        RoleEntry(Role.PRIMARY, NodeState.ACTIVE, "10.20.0.11", this_host=True),
        RoleEntry(Role.SECONDARY, NodeState.STANDBY, "10.20.0.12", this_host=False),
    )
    assert report.this_host is Role.PRIMARY
    assert report.health is Health.OK
    assert report.floating_ip == "10.20.0.10"
    assert report.smb_not_configured
    assert report.unrecognised == ()


def test_boxed_table_with_mixed_case_is_understood() -> None:
    """Box-drawing borders, upper/lower case and a two-word state."""
    report = parse_status(BOXED)
    assert report.parsed
    assert report.entry(Role.PRIMARY) == RoleEntry(Role.PRIMARY, NodeState.DEMOTED, "10.20.0.11")
    assert report.entry(Role.SECONDARY) == RoleEntry(
        Role.SECONDARY, NodeState.PROMOTED_ACTIVE, "10.20.0.12", this_host=True
    )
    assert report.health is Health.DEGRADED
    assert report.smb_percent_full == 85.0
    assert report.floating_ip is None


def test_ascii_table_with_ipv6_and_rows_in_any_order() -> None:
    """Pipes and +--+ borders; rows in any order; IPv6 addresses normalised."""
    report = parse_status(ASCII_TABLE)
    assert report.parsed
    assert report.entry(Role.PRIMARY) == RoleEntry(Role.PRIMARY, NodeState.ACTIVE, "fd00::11")
    assert report.this_host is Role.SECONDARY
    assert report.entry(Role.SECONDARY).ip == "fd00::12"  # type: ignore[union-attr]
    assert report.health is Health.OK


def test_block_per_server_with_tabs_and_blank_lines() -> None:
    """A header line per server followed by indented `State:` / `IP address:` lines."""
    report = parse_status(BLOCKS)
    assert report.parsed
    assert report.entries == (
        RoleEntry(Role.PRIMARY, NodeState.ACTIVE, "10.20.0.11"),
        RoleEntry(Role.SECONDARY, NodeState.STANDBY, "10.20.0.12", this_host=True),
    )
    assert report.floating_ip is None
    assert report.health is Health.OK


def test_plain_columns_without_colons() -> None:
    """Whitespace-separated columns with a header row and no colons at all: the header,
    only column labels, is understood (a card would otherwise say a line was not)."""
    report = parse_status(PLAIN_COLUMNS)
    assert report.entries == (
        RoleEntry(Role.PRIMARY, NodeState.ACTIVE, "10.20.0.11", this_host=True),
        RoleEntry(Role.SECONDARY, NodeState.STANDBY, "10.20.0.12"),
    )
    assert report.health is Health.OK
    assert report.unrecognised == ()
    assert report.lines[0].text == "Server      State             IP address"
    assert report.lines[0].understood


def test_both_servers_on_one_line() -> None:
    """Two role segments on a single line are split apart."""
    report = parse_status(ONE_LINE)
    assert report.entry(Role.PRIMARY) == RoleEntry(
        Role.PRIMARY, NodeState.ACTIVE, "10.0.0.1", this_host=True
    )
    assert report.entry(Role.SECONDARY) == RoleEntry(Role.SECONDARY, NodeState.FAILED, "10.0.0.2")
    assert report.health is Health.DEGRADED


@pytest.mark.parametrize("ending", ["\r\n", "\r", "\n"])
def test_line_endings_do_not_matter(ending: str) -> None:
    """CRLF, CR and LF give the same result."""
    report = parse_status(KEY_VALUE.replace("\n", ending))
    assert report.entries == parse_status(KEY_VALUE).entries
    assert report.health is Health.OK


def test_colour_codes_are_ignored() -> None:
    """ANSI colour around values (a terminal's habit) does not hide them."""
    coloured = KEY_VALUE.replace("Active", "\x1b[32mActive\x1b[0m").replace(
        "OK", "\x1b[1mOK\x1b[0m"
    )
    report = parse_status(coloured)
    assert report.entry(Role.PRIMARY).state is NodeState.ACTIVE  # type: ignore[union-attr]
    assert report.health is Health.OK


def test_inactive_is_not_mistaken_for_active() -> None:
    """`Inactive` contains `active`; word boundaries keep them apart."""
    report = parse_status("Primary: Inactive 10.0.0.1\nSecondary: Promoted Active 10.0.0.2")
    assert report.entry(Role.PRIMARY).state is NodeState.INACTIVE  # type: ignore[union-attr]
    assert report.entry(Role.SECONDARY).state is NodeState.PROMOTED_ACTIVE  # type: ignore[union-attr]


def test_standalone_message_is_recognised() -> None:
    """A standalone server's message parses as standalone with no entries."""
    report = parse_status(STANDALONE)
    assert report.parsed
    assert report.standalone
    assert report.entries == ()


def test_unknown_lines_are_kept_not_fatal() -> None:
    """Lines the parser does not understand are kept for people to read."""
    report = parse_status("Osirium PAM 7.1 — replication lag 0s\n" + KEY_VALUE)
    assert report.parsed
    assert report.unrecognised == ("Osirium PAM 7.1 — replication lag 0s",)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "command not found: ha-status",
        "Primary: Active 10.0.0.1",  # the Secondary is missing: essentials incomplete
        "Primary 10.0.0.1\nSecondary 10.0.0.2",  # no states at all
        "\x00\x01garbage\xff",
    ],
)
def test_missing_essentials_say_unparsed_and_keep_raw(text: str) -> None:
    """Without both servers' states (or a standalone message) the report is unparsed."""
    report = parse_status(text)
    assert not report.parsed
    assert report.raw == text


def test_two_this_host_markers_are_an_anomaly() -> None:
    """An output marking both servers as "this host" is flagged, and no self role is chosen."""
    report = parse_status("Primary: Active 10.0.0.1 - this host\nSecondary: Standby - this host")
    assert report.this_host is None
    assert report.anomalies == ("more than one server is marked 'this host'",)


def test_invalid_addresses_are_not_taken_for_ips() -> None:
    """999.1.1.1 and a clock time are not addresses."""
    report = parse_status("Primary: Active 999.1.1.1 12:30:45\nSecondary: Standby 10.0.0.2")
    assert report.entry(Role.PRIMARY).ip is None  # type: ignore[union-attr]


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    """Whatever a node prints, parsing returns a report that keeps the raw text."""
    report = parse_status(text)
    assert report.raw == text
    assert report.parsed in (True, False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(KEY_VALUE.splitlines() + BOXED.splitlines() + ["", "junk", "|", "+--+"]),
        max_size=20,
    )
)
def test_shuffled_fragments_never_raise(lines: list[str]) -> None:
    """Recombined fragments of real-looking layouts are handled without exceptions."""
    text = "\n".join(lines)
    assert parse_status(text).raw == text
