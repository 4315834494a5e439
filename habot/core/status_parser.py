"""A tolerant parser for the appliance's ``ha-status`` output.

The literal layout is not published (only screenshots), so fields are found by their labels
and values, never by column positions: any case, any spacing, optional colons, table pipes
and borders, fields in any order, one role per line or a block per role. Lines it does not
understand are kept; when the essentials are missing the report says so (``parsed=False``)
and the raw text is always kept.

A pair may add its own line patterns (:mod:`habot.core.patterns`), tried on each line
before the built-in rules. Every line's fate is kept — which rule read it and what it gave,
or that nothing understood it — so ``habot probe`` can show it and a card can say how many
lines were not understood.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from habot.core.model import Health, NodeState, Role
from habot.core.patterns import BUILT_IN, Patterns

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PIPES = re.compile(r"[|│┃║]")
_BOX_DRAWING = "─━═┄┅┈┉╌╍┌┐└┘├┤┬┴┼╔╗╚╝╠╣╦╩╬╒╕╘╛╞╡╤╧╪╓╖╙╜╟╢╥╨╫┏┓┗┛┣┫┳┻╋"
_BORDER_ONLY = re.compile(rf"^[\s+\-=_*~.:|│┃║{_BOX_DRAWING}]*$")
_ROLE = re.compile(r"\b(primary|secondary)\b", re.I)
_STATE = re.compile(r"\b(promoted[\s_-]+active|inactive|active|standby|demoted|failed)\b", re.I)
_THIS_HOST = re.compile(r"\bthis[\s_-]+(?:host|server|node)\b", re.I)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_HEALTH = re.compile(
    r"\b(?:high[\s-]+availability|ha)(?:\s+health)?\s+status\b\W*(ok|degraded)\b"
    r"|\b(?:high[\s-]+availability|ha)\s+health\b\W*(ok|degraded)\b",
    re.I,
)
_FLOATING = re.compile(r"\b(?:floating|virtual)[\s-]+ip(?:v[46])?(?:\s+address)?\b(.*)", re.I)
_PERCENT_FULL = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%\s*(?:full|used)", re.I)
_SMB = re.compile(r"\b(?:smb|cifs|share)\b", re.I)
_NOT_CONFIGURED = re.compile(r"\bnot\s+(?:been\s+|yet\s+)?(?:configured|set\s+up)\b", re.I)
_STANDALONE = re.compile(
    r"\bstand[\s-]?alone\b"
    r"|\bnot\s+(?:part\s+of|configured\s+(?:for|as)|a\s+member\s+of|in)\s+(?:an?\s+)?"
    r"(?:high[\s-]+availability|ha)\b",
    re.I,
)
_BLOCK_LABELS = re.compile(r"\b(?:state|status|ip|ipv4|ipv6|address|server|role|node|host)\b", re.I)
_STATE_WORDS = {
    "active": NodeState.ACTIVE,
    "standby": NodeState.STANDBY,
    "demoted": NodeState.DEMOTED,
    "failed": NodeState.FAILED,
    "inactive": NodeState.INACTIVE,
}


@dataclass(frozen=True)
class RoleEntry:
    """One server as a report describes it."""

    role: Role
    state: NodeState | None = None
    ip: str | None = None
    this_host: bool = False

    def merged(self, other: RoleEntry) -> RoleEntry:
        """Fill this entry's gaps from another description of the same role."""
        return RoleEntry(
            self.role,
            self.state or other.state,
            self.ip or other.ip,
            self.this_host or other.this_host,
        )


#: A line's fate when the built-in rules read it (a pattern's fate names its setting),
#: and a table's border (nothing to read, nothing missed).
BUILT_IN_RULES = "built-in"
BORDER = "border"


@dataclass(frozen=True)
class LineFate:
    """What became of one line of output: which rule read it (a pattern's setting, or
    the built-in rules) and what it gave — or None: nothing understood it."""

    number: int  # 1-based, in the output as it came
    text: str
    by: str | None
    gave: tuple[str, ...] = ()

    @property
    def understood(self) -> bool:
        """Whether some rule read the line."""
        return self.by is not None


@dataclass(frozen=True)
class StatusReport:
    """What one node's ``ha-status`` said, as far as it could be understood."""

    raw: str
    parsed: bool
    standalone: bool = False
    entries: tuple[RoleEntry, ...] = ()
    health: Health | None = None
    floating_ip: str | None = None
    smb_not_configured: bool = False
    smb_percent_full: float | None = None
    unrecognised: tuple[str, ...] = ()
    anomalies: tuple[str, ...] = ()
    #: Every line with text, in order, and what became of it (borders and blanks left out).
    lines: tuple[LineFate, ...] = ()

    def entry(self, role: Role) -> RoleEntry | None:
        """The report's description of a role, if any."""
        return next((e for e in self.entries if e.role is role), None)

    @property
    def this_host(self) -> Role | None:
        """The role marked "this host", when exactly one is."""
        marked = [e.role for e in self.entries if e.this_host]
        return marked[0] if len(marked) == 1 else None


@dataclass
class _Draft:
    """Mutable accumulator used only inside :func:`parse_status`."""

    entries: dict[Role, RoleEntry] = field(default_factory=dict)
    block: Role | None = None
    health: Health | None = None
    floating_ip: str | None = None
    standalone: bool = False
    smb_not_configured: bool = False
    smb_percent_full: float | None = None
    unrecognised: list[str] = field(default_factory=list)
    lines: list[LineFate] = field(default_factory=list)

    def add(self, entry: RoleEntry) -> None:
        known = self.entries.get(entry.role)
        self.entries[entry.role] = known.merged(entry) if known else entry

    def facts(self) -> set[str]:
        """What the draft knows so far, in words (to say what one line added)."""
        said = {f"{e.role.label} {what}" for e in self.entries.values() for what in _said(e)}
        said |= self._pair_facts()
        if self.block is not None:
            said.add(f"{self.block.label} block starts")
        return said

    def _pair_facts(self) -> set[str]:
        health = {Health.OK: "OK", Health.DEGRADED: "Degraded"}
        said = {f"HA health {health[self.health]}"} if self.health else set()
        said |= {f"floating IP {self.floating_ip}"} if self.floating_ip else set()
        said |= {"standalone"} if self.standalone else set()
        said |= {"SMB share not configured"} if self.smb_not_configured else set()
        if self.smb_percent_full is not None:
            said.add(f"SMB share {self.smb_percent_full:g}% full")
        return said


def _said(entry: RoleEntry) -> list[str]:
    said = [f"state {entry.state.label}"] if entry.state else []
    said += [f"IP {entry.ip}"] if entry.ip else []
    return said + (["is this host"] if entry.this_host else [])


def parse_status(raw: str, patterns: Patterns = BUILT_IN) -> StatusReport:
    """Parse ``ha-status`` output (a pair's own line patterns first); never raises,
    whatever the text."""
    draft = _Draft()
    for number, (shown, line) in enumerate(_clean_lines(raw), 1):
        if line is None:
            if shown.strip():
                draft.lines.append(LineFate(number, shown.strip(), BORDER))
            continue
        before = draft.facts()
        by = _consume_pattern(draft, line, patterns) or (
            BUILT_IN_RULES if _consume(draft, line) else None
        )
        if by is None:
            draft.unrecognised.append(line.strip())
        gave = tuple(sorted(draft.facts() - before))
        draft.lines.append(LineFate(number, line.strip(), by, gave))
    return _finish(raw, draft)


def _consume_pattern(draft: _Draft, line: str, patterns: Patterns) -> str | None:
    """Apply the first of the pair's patterns that matches the line and whose values mean
    something; the setting it came from, or None."""
    for setting, pattern in patterns.status_lines:
        match = pattern.search(line)
        if match and _apply(draft, match.groupdict(), patterns):
            return setting
    return None


def _apply(draft: _Draft, found: dict[str, str | None], patterns: Patterns) -> bool:
    """Fill the draft from a pattern's groups; False (nothing changed) when a value means
    nothing habot knows, or a server's detail comes with no server to give it to."""
    got = {name: value.strip() for name, value in found.items() if value and value.strip()}
    meant = {name: patterns.meaning(value) for name, value in got.items()}
    role = meant.get("role") if "role" in got else draft.block
    state, health = meant.get("state"), meant.get("health")
    ips = find_ips(got.get("ip", ""))
    floating = find_ips(got.get("floating_ip", ""))
    wrong = (
        ("role" in got and not isinstance(role, Role))
        or ("state" in got and not isinstance(state, NodeState))
        or ("health" in got and not isinstance(health, Health))
        or ("ip" in got and not ips)
        or ("floating_ip" in got and not floating)
    )
    detail = bool({"state", "ip", "this_host"} & set(got))
    if wrong or not got or (detail and not isinstance(role, Role)):
        return False
    if isinstance(role, Role):
        entry = RoleEntry(role, state if isinstance(state, NodeState) else None,
                          ips[0] if ips else None, "this_host" in got)  # fmt: skip
        draft.add(entry)
        draft.block = role if "role" in got and not detail else draft.block
    if isinstance(health, Health):
        draft.health = health
    if floating:
        draft.floating_ip = floating[0]
    return True


def _clean_lines(raw: str) -> list[tuple[str, str | None]]:
    """Each line as shown (line ends normalised, colour codes stripped) and as read (table
    pipes gone), or ``None`` for a blank or border line."""
    text = _ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    out: list[tuple[str, str | None]] = []
    for line in text.split("\n"):
        if not line.strip() or _BORDER_ONLY.match(line):
            out.append((line, None))
        else:
            out.append((line, _PIPES.sub("  ", line).strip(" +")))
    return out


def _consume(draft: _Draft, line: str) -> bool:
    """Apply one line to the draft; False when nothing in it was understood."""
    if match := _HEALTH.search(line):
        draft.health = Health((match.group(1) or match.group(2)).lower())
        draft.block = None
        return True
    if match := _FLOATING.search(line):
        ips = find_ips(match.group(1))
        draft.floating_ip = ips[0] if ips else None
        draft.block = None
        return True
    if _consume_smb(draft, line):
        return True
    if _consume_roles(draft, line):
        return True
    if draft.block is not None and _consume_block_line(draft, line):
        return True
    if _STANDALONE.search(line):
        draft.standalone = True
        return True
    return _is_table_header(line)


def _is_table_header(line: str) -> bool:
    """ "Server   State   IP address": a table's header, only column labels."""
    labels = _BLOCK_LABELS.findall(line)
    return len(labels) >= 2 and not re.sub(r"[\W_]+", "", _BLOCK_LABELS.sub("", line))


def _consume_smb(draft: _Draft, line: str) -> bool:
    if match := _PERCENT_FULL.search(line):
        draft.smb_percent_full = float(match.group(1))
        draft.block = None
        return True
    if _SMB.search(line) and _NOT_CONFIGURED.search(line):
        draft.smb_not_configured = True
        draft.block = None
        return True
    return False


def _consume_roles(draft: _Draft, line: str) -> bool:
    """A line naming Primary and/or Secondary: inline entries, or a block header."""
    starts = [m.start() for m in _ROLE.finditer(line)]
    if not starts:
        return False
    # One role named: the whole line describes it. Several: each starts a segment.
    bounds = zip([0, *starts[1:]], [*starts[1:], None], strict=True)
    segments = [line[a:b] for a, b in bounds]
    entries = [_entry_from(segment) for segment in segments]
    if len(entries) == 1 and entries[0].state is None and entries[0].ip is None:
        if not _is_block_header(line):
            return False
        draft.add(entries[0])
        draft.block = entries[0].role
        return True
    useful = [e for e in entries if e.state or e.ip]
    for entry in useful:
        draft.add(entry)
    draft.block = None
    return bool(useful)


def _is_block_header(line: str) -> bool:
    """ "Primary server:", "Secondary (this host)": a role named with nothing else said."""
    rest = _BLOCK_LABELS.sub("", _THIS_HOST.sub("", _ROLE.sub("", line)))
    return not re.sub(r"[\W_]+", "", rest)


def _entry_from(segment: str) -> RoleEntry:
    role_match = _ROLE.search(segment)
    assert role_match is not None
    ips = find_ips(segment)
    return RoleEntry(
        role=Role(role_match.group(1).lower()),
        state=_state_in(segment),
        ip=ips[0] if ips else None,
        this_host=bool(_THIS_HOST.search(segment)),
    )


def _consume_block_line(draft: _Draft, line: str) -> bool:
    """A line under a role header that holds only a state, an IP and/or the this-host marker."""
    assert draft.block is not None
    state = _state_in(line)
    ips = find_ips(line)
    this_host = bool(_THIS_HOST.search(line))
    rest = _THIS_HOST.sub("", _STATE.sub("", _IPV6.sub("", _IPV4.sub("", line))))
    rest = _BLOCK_LABELS.sub("", rest)
    if re.sub(r"[\W_]+", "", rest) or not (state or ips or this_host):
        return False
    draft.add(RoleEntry(draft.block, state, ips[0] if ips else None, this_host))
    return True


def _state_in(text: str) -> NodeState | None:
    match = _STATE.search(text)
    if match is None:
        return None
    word = match.group(1).lower()
    return NodeState.PROMOTED_ACTIVE if word.startswith("promoted") else _STATE_WORDS[word]


#: What an IPv4 or IPv6 address looks like in text (each match still checked by find_ips).
IP_SHAPES = (_IPV4, _IPV6)


def find_ips(text: str) -> list[str]:
    """Every valid IPv4/IPv6 address in the text, in order, normalised."""
    found: list[tuple[int, str]] = []
    for pattern in (_IPV4, _IPV6):
        for match in pattern.finditer(text):
            try:
                found.append((match.start(), str(ipaddress.ip_address(match.group(0)))))
            except ValueError:
                continue
    return [ip for _, ip in sorted(found)]


def _finish(raw: str, draft: _Draft) -> StatusReport:
    entries = tuple(draft.entries[r] for r in Role if r in draft.entries)
    complete = all(draft.entries.get(r) and draft.entries[r].state for r in Role)
    anomalies: list[str] = []
    if sum(e.this_host for e in entries) > 1:
        anomalies.append("more than one server is marked 'this host'")
    standalone = draft.standalone and not complete
    if draft.standalone and complete:
        draft.unrecognised.append("(a standalone remark beside a full pair listing was ignored)")
    return StatusReport(
        raw=raw,
        parsed=complete or standalone,
        standalone=standalone,
        entries=entries,
        health=draft.health,
        floating_ip=draft.floating_ip,
        smb_not_configured=draft.smb_not_configured,
        smb_percent_full=draft.smb_percent_full,
        unrecognised=tuple(draft.unrecognised),
        anomalies=tuple(anomalies),
        lines=tuple(draft.lines),
    )
