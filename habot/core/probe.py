"""`habot probe`: what a real appliance said, verbatim, and what habot made of it (pure).

A probe is read-only: it logs in, reads ``ha-status`` and the last lines of both logs, and
types nothing else. Its transcript keeps every word as it came (the host key, the console's
banner and prompt, the commands offered, the output) beside habot's reading of it — which
rule read each line and what it gave, the lines nothing understood, the verdict — so a team
can see why habot judges as it does, send the transcript to support, or replay it with
``habot sim run --replay``. Redacted, it names no address, host, user or secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from habot.core.model import Role
from habot.core.replies import not_understood_words, plural
from habot.core.status_parser import BORDER, IP_SHAPES, LineFate, find_ips

#: The transcript's format (``habot sim run --replay`` reads this version).
TRANSCRIPT_VERSION = 1


@dataclass(frozen=True)
class Step:
    """One step of a probe: what was tried, how long it took, and what came of it."""

    name: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class NodeProbe:
    """One node, as the probe found it."""

    role: Role
    address: str
    transport: str
    user: str
    steps: tuple[Step, ...] = ()
    host_key: str | None = None
    banner: str | None = None
    prompt: str | None = None
    offered: tuple[str, ...] | None = None
    status: str | None = None  # ha-status's output, verbatim
    logs: Mapping[str, str] = field(default_factory=dict)  # path → its last lines
    lines: tuple[LineFate, ...] = ()
    state: str | None = None  # what habot takes the node to be (its label)
    unsure: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """A whole probe: its nodes and the verdict habot would judge."""

    target: str
    taken_at: str
    nodes: tuple[NodeProbe, ...]
    verdict: str | None = None  # the identifier (JSON); ``verdict_words`` for people
    verdict_words: str | None = None
    reason: str | None = None
    redacted: bool = False
    version: int = TRANSCRIPT_VERSION


def transcript_to_dict(transcript: Transcript) -> dict[str, Any]:
    """The transcript as JSON (``--save probe.json``)."""
    data = asdict(transcript)
    data["nodes"] = list(data["nodes"])
    for node in data["nodes"]:
        node["role"] = str(node["role"])
        node["offered"] = list(node["offered"]) if node["offered"] is not None else None
    return data


def transcript_from_dict(data: Mapping[str, Any]) -> Transcript:
    """The inverse of :func:`transcript_to_dict`; ValueError when it is not a transcript."""
    if data.get("version") != TRANSCRIPT_VERSION or not isinstance(data.get("nodes"), list):
        raise ValueError(
            f"not a habot probe transcript (version {TRANSCRIPT_VERSION}); make one with "
            "habot probe PAIR --save probe.json"
        )
    nodes = tuple(_node_from(n) for n in data["nodes"])
    return Transcript(str(data["target"]), str(data["taken_at"]), nodes, data.get("verdict"),
                      data.get("verdict_words"), data.get("reason"),
                      redacted=bool(data.get("redacted")))  # fmt: skip


def _node_from(node: Mapping[str, Any]) -> NodeProbe:
    lines = tuple(LineFate(int(f["number"]), str(f["text"]), f.get("by"), tuple(f.get("gave", ())))
                  for f in node.get("lines", ()))  # fmt: skip
    steps = tuple(Step(str(s["name"]), float(s["seconds"]), bool(s["ok"]), str(s["detail"]))
                  for s in node.get("steps", ()))  # fmt: skip
    offered = node.get("offered")
    return NodeProbe(
        Role(node["role"]), str(node["address"]), str(node["transport"]), str(node["user"]),
        steps, node.get("host_key"), node.get("banner"), node.get("prompt"),
        tuple(offered) if offered is not None else None, node.get("status"),
        dict(node.get("logs") or {}), lines, node.get("state"), tuple(node.get("unsure", ())),
    )  # fmt: skip


# -- in words, for a terminal and the .txt transcript ------------------------------------


def transcript_text(transcript: Transcript) -> str:
    """The transcript as a person reads it: each node's steps and words, then line by line
    what habot made of ``ha-status``, then the verdict."""
    out = [f"habot probe {transcript.target} — {transcript.taken_at}"
           + (" (redacted)" if transcript.redacted else "")]  # fmt: skip
    for node in transcript.nodes:
        out += ["", f"== {node.role.label} {node.address} ({node.transport}, as {node.user})"]
        out += [f"  {'✓' if s.ok else '✗'} {s.name} ({s.seconds * 1000:.0f} ms)"
                + (f": {s.detail}" if s.detail else "") for s in node.steps]  # fmt: skip
        out += _verbatim(node)
        out += _fates(node)
    if transcript.verdict_words:
        out += ["", f"Verdict habot would judge: {transcript.verdict_words}"
                + (f" — {transcript.reason}" if transcript.reason else "")]  # fmt: skip
    return "\n".join(out) + "\n"


def _verbatim(node: NodeProbe) -> list[str]:
    out = [f"  host key: {node.host_key}"] if node.host_key else []
    if node.banner is not None:
        out += ["  banner:", *_indented(node.banner)]
    if node.prompt is not None:
        out.append(f"  prompt it learned: {node.prompt!r}")
    if node.offered is not None:
        out.append("  commands offered: " + (", ".join(node.offered) or "none"))
    if node.status is not None:
        out += ["  ha-status said:", *_indented(node.status)]
    for path, text in node.logs.items():
        out += [f"  last lines of {path}:", *_indented(text or "(empty)")]
    return out


def _fates(node: NodeProbe) -> list[str]:
    if not node.lines:
        return []
    out = ["  what habot made of it:"]
    for fate in node.lines:
        if fate.by is None:
            out.append(f"    line {fate.number:>3} ? not understood: {fate.text!r}")
            continue
        if fate.by == BORDER:
            out.append(f"    line {fate.number:>3}   a border   ← {fate.text!r}")
            continue
        gave = "; ".join(fate.gave) if fate.gave else "nothing to take (headings, a remark)"
        out.append(f"    line {fate.number:>3} ✓ {fate.by}: {gave}   ← {fate.text!r}")
    missed = sum(not f.understood for f in node.lines)
    out.append(f"    {not_understood_words(missed) if missed else 'every line understood'}; "
               f"habot takes this node to be {node.state or 'unknown'}")  # fmt: skip
    out += [f"    unsure: {u}" for u in node.unsure]
    return out


def _indented(text: str) -> list[str]:
    return [f"    | {line}" for line in text.rstrip("\n").split("\n")]


def pattern_matches(lines: Sequence[LineFate]) -> list[str]:
    """ "your pattern patterns.status_lines[0] matched line 4: 'Primary: Active'", for
    each line a pair's own pattern read (and each of its patterns that read nothing)."""
    return [f"your pattern {f.by} matched line {f.number}: {f.text!r}" for f in lines
            if f.by is not None and f.by.startswith("patterns.")]  # fmt: skip


def unused_patterns(settings: Sequence[str], lines: Sequence[LineFate]) -> list[str]:
    """The pair's patterns no line matched (a typo, or a line the appliance no longer prints)."""
    used = {f.by for f in lines}
    return [f"your pattern {s} matched no line" for s in settings if s not in used]


def summary(transcript: Transcript) -> str:
    """One line: how many lines were read and the verdict."""
    lines = [f for n in transcript.nodes for f in n.lines]
    missed = sum(not f.understood for f in lines)
    read = f"{plural(len(lines), 'line')} read, {missed} not understood"
    return f"{transcript.target}: {read}; verdict {transcript.verdict_words or 'none'}"


# -- redaction -------------------------------------------------------------------------

_HOSTNAME = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b")
_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/=]+")


@dataclass
class Redactor:
    """Replaces each address, host name and user with a stand-in, the same one every time
    (so a redacted transcript still judges the same: the nodes' addresses still agree)."""

    names: Sequence[str]  # the host names and users to hide (from the config and flags)
    secrets: Sequence[str] = ()
    #: Whether addresses, host names and users are replaced (secrets always are).
    places: bool = True
    _seen: dict[str, str] = field(default_factory=dict)

    def text(self, text: str) -> str:
        """Text with every secret replaced — and every address, host name and user."""
        for secret in sorted(filter(None, self.secrets), key=len, reverse=True):
            text = text.replace(secret, "[secret]")
        if not self.places:
            return text
        for shape in IP_SHAPES:
            text = shape.sub(self._ip, text)
        for name in sorted(filter(None, self.names), key=len, reverse=True):
            text = re.sub(re.escape(name), lambda m: self._stand_in(m.group(0), "name"), text,
                          flags=re.I)  # fmt: skip
        text = _FINGERPRINT.sub("SHA256:[host key]", text)
        return _HOSTNAME.sub(lambda m: self._host(m.group(0)), text)

    def _ip(self, match: re.Match[str]) -> str:
        found = find_ips(match.group(0))
        return self._stand_in(found[0], "ip") if found else match.group(0)

    def _host(self, name: str) -> str:
        return name if name.endswith(".invalid") or _is_word(name) else self._stand_in(name, "host")

    def _stand_in(self, value: str, kind: str) -> str:
        key = value.lower()
        if key not in self._seen:
            n = sum(v.startswith(_PREFIX[kind]) for v in self._seen.values()) + 1
            self._seen[key] = _STAND_IN[kind](n)
        return self._seen[key]


_PREFIX = {"ip": "192.0.2.", "name": "name-", "host": "host-"}
_STAND_IN: dict[str, Callable[[int], str]] = {
    "ip": lambda n: f"192.0.2.{n}",  # RFC 5737's documentation range
    "name": lambda n: f"name-{n}",
    "host": lambda n: f"host-{n}.invalid",
}


def _is_word(name: str) -> bool:
    """A dotted word that is not a host name: a version, a file name, a stand-in."""
    return bool(re.fullmatch(r"v?[\d.]+|.*\.(?:log|txt|json|toml|py|sh|conf)|192\.0\.2\.\d+",
                             name, re.I))  # fmt: skip


def redacted(transcript: Transcript, redactor: Redactor) -> Transcript:
    """The transcript with every address, host name, user and secret replaced."""
    r = redactor.text
    nodes = tuple(
        replace(
            node,
            address=r(node.address),
            user=r(node.user),
            steps=tuple(replace(s, detail=r(s.detail)) for s in node.steps),
            host_key=r(node.host_key) if node.host_key else None,
            banner=r(node.banner) if node.banner is not None else None,
            prompt=r(node.prompt) if node.prompt is not None else None,
            status=r(node.status) if node.status is not None else None,
            logs={path: r(text) for path, text in node.logs.items()},
            lines=tuple(
                replace(f, text=r(f.text), gave=tuple(r(g) for g in f.gave)) for f in node.lines
            ),
            unsure=tuple(r(u) for u in node.unsure),
        )
        for node in transcript.nodes
    )
    reason = r(transcript.reason) if transcript.reason else None
    return replace(transcript, target=r(transcript.target), nodes=nodes, reason=reason,
                   redacted=redactor.places)  # fmt: skip
