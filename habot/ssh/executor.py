"""Run catalogue commands on nodes over SSH: strict host keys, timeouts, output cap, prompts.

Only :class:`~habot.core.catalogue.RemoteCommand` values are accepted, so no user text can
reach a remote shell. Library errors become :mod:`habot.errors` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import asyncssh

from habot.config import SshSettings
from habot.core.addresses import NodeAddress
from habot.core.catalogue import RemoteCommand
from habot.core.console import clean, offered, refusal, reply
from habot.core.model import NODE_UP_HINT
from habot.core.results import CommandResult
from habot.errors import (
    AuthenticationFailed,
    CommandTimedOut,
    ConfigError,
    ConnectionLostError,
    HostKeyChanged,
    HostKeyUnknown,
    NodeError,
    NodeUnreachable,
)
from habot.ssh.console import ConsoleSession
from habot.ssh.pool import NodePool
from habot.ssh.session import Conversation, ExecSession

log = logging.getLogger(__name__)
OutputCallback = Callable[[str], None]
Session = ConsoleSession | ExecSession


@dataclass(frozen=True)
class NodeLogin:
    """How to log in to one node: the account, and its password — or None for key auth
    (the password is never shown: ``repr`` hides it); whether commands are typed at the
    interactive console rather than sent as exec requests, and the console's prompt
    pattern when it is not the default one."""

    username: str
    password: str | None = field(default=None, repr=False)
    console: bool = False
    prompt: str | None = None
    #: Where the password came from (a keyring entry or a variable's name: never the
    #: password), said when the node refuses it.
    source: str | None = None
    #: Why habot cannot log in at all (a password login with no password anywhere): said
    #: for this pair's nodes; every other pair is still read.
    missing: str | None = None
    #: The pair's own confirmation question and refusal words (None: the built-in ones).
    confirmation: str | None = None
    refusal: str | None = None


#: AES-GCM first (then asyncssh's defaults): asyncssh's ChaCha20-Poly1305 builds two cipher
#: contexts per packet and cost ~4 ms of CPU per status read; AES-GCM is one call with
#: AES-NI. Every OpenSSH offers both. Measured in benches/bench_fleet.py.
PREFERRED_CIPHERS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"

#: After a node refused a password, habot does not offer it again for this long: appliances
#: lock an account after a few failures, and one attempt per node per poll is the most
#: habot may cost it (the poll runs every [schedule] status_every, 5 min by default).
PASSWORD_REFUSED_PAUSE = 60.0


class SshExecutor:
    """Runs catalogue commands on nodes; use as ``async with SshExecutor(...) as ex``.

    ``logins`` says how to log in to particular nodes (per pair: a username and, for
    password auth, the password); any other node uses ``[ssh] username`` and the keys."""

    def __init__(
        self,
        settings: SshSettings,
        passphrase: str | None = None,
        logins: Mapping[NodeAddress, NodeLogin] | None = None,
        *,
        observe: Callable[[float, bool], None] | None = None,
    ) -> None:
        self._observe = observe  # each command's seconds, and whether it changes the node
        self._settings = settings
        self._keys = load_client_keys(settings.client_keys, passphrase)
        self._known_hosts = load_known_hosts(settings.known_hosts)
        self._pools: dict[NodeAddress, NodePool] = {}
        self._logins = dict(logins or {})
        self._refused: dict[NodeAddress, tuple[float, AuthenticationFailed]] = {}
        self._prompts: dict[NodeAddress, str] = {}  # each console node's prompt, last seen
        self._banners: dict[NodeAddress, str] = {}  # ... and its banner (for habot probe)

    async def __aenter__(self) -> SshExecutor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(pool.aclose() for pool in pools))

    def pool(self, address: NodeAddress) -> NodePool:
        """The connection pool of one node (created on first use)."""
        if address not in self._pools:
            self._pools[address] = NodePool(
                lambda: self._connect(address), self._settings.pool_size
            )
        return self._pools[address]

    async def run(
        self,
        address: NodeAddress,
        command: RemoteCommand,
        *,
        answer_prompt: bool = False,
        time_limit: timedelta | None = None,
        on_output: OutputCallback | None = None,
        joining_code: str | None = None,
        confirm_gate: Callable[[], Awaitable[bool]] | None = None,
        urgent: bool = False,
    ) -> CommandResult:
        """Run one catalogue command on a node.

        With ``answer_prompt`` the first ``[y/N]`` question is answered ``y``; any other
        question, or any question when ``answer_prompt`` is false, aborts the command
        with :class:`~habot.errors.UnexpectedPrompt`. With ``joining_code``, a question
        asking for a joining code is answered with it, once (it never appears in output).
        ``confirm_gate`` is asked right before the confirmation is answered; False aborts
        with :class:`~habot.errors.OwnershipLost`.

        At most ``pool_size`` commands run on one node at once; a mutating or ``urgent``
        command (an operation's own reading) waits ahead of every other. The time limit
        starts once the command has its slot: waiting for one does not eat it.
        """
        async with self.pool(address).slot(urgent or command.mutating):
            started = time.monotonic()
            try:
                return await self._run_limited(
                    address,
                    command,
                    answer_prompt,
                    time_limit,
                    on_output,
                    joining_code,
                    confirm_gate,
                )
            finally:
                if self._observe is not None:
                    self._observe(time.monotonic() - started, command.mutating)

    async def _run_limited(
        self,
        address: NodeAddress,
        command: RemoteCommand,
        answer_prompt: bool,
        time_limit: timedelta | None,
        on_output: OutputCallback | None,
        joining_code: str | None,
        confirm_gate: Callable[[], Awaitable[bool]] | None,
    ) -> CommandResult:
        limit = (time_limit or self._settings.command_timeout).total_seconds()
        started = time.monotonic()
        log.info("running %s on %s", command.line, address)
        tried: list[Session] = []
        try:
            async with asyncio.timeout(limit):
                session = await self._run_session(
                    address, command, answer_prompt, on_output, joining_code, confirm_gate, tried
                )
        except TimeoutError:
            raise CommandTimedOut(
                str(address),
                f"{command.line} did not finish within {_secs(limit)}{_prompt_hint(tried)}",
            ) from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, BrokenPipeError) as exc:
            raise ConnectionLostError(
                str(address), f"connection lost while {command.line} ran: {exc}"
            ) from exc
        refused = self._login(address).refusal
        return _result(address, command, session, time.monotonic() - started, refused)

    async def _run_session(
        self,
        address: NodeAddress,
        command: RemoteCommand,
        answer_prompt: bool,
        on_output: OutputCallback | None,
        joining_code: str | None = None,
        confirm_gate: Callable[[], Awaitable[bool]] | None = None,
        tried: list[Session] | None = None,
    ) -> Session:
        """Run on a pooled connection; if a reused one turns out dead before a read-only
        command started, run it once more on a fresh one. A mutating command always gets a
        fresh connection and is never retried, so it cannot run twice. Each session tried
        is added to ``tried`` (an error can then say what it learned)."""
        attempts = (True,) if command.mutating else (False, True)
        for fresh in attempts:
            talk = Conversation(
                str(address),
                self._settings.max_output_chars,
                answer_prompt=answer_prompt,
                on_output=on_output,
                joining_code=joining_code,
                confirm_gate=confirm_gate,
                console=self._login(address).console,
                confirmation=self._login(address).confirmation,
            )
            session = self._session(address, talk)
            if tried is not None:
                tried.append(session)
            async with self.pool(address).connection(fresh=fresh) as lease:
                try:
                    await session.run(lease.conn, command.line)
                    return session
                except (asyncssh.Error, OSError):
                    if session.started or not lease.reused:
                        raise
                finally:
                    self._learn(address, session)
            log.info("pooled connection to %s was stale; reconnecting", address)
        raise AssertionError("unreachable: the fresh attempt returns or raises")

    def _session(self, address: NodeAddress, talk: Conversation) -> Session:
        """The node's transport: the interactive console, or an exec request."""
        idle = self._settings.prompt_idle.total_seconds()
        login = self._login(address)
        if login.console:
            limit = self._settings.connect_timeout.total_seconds()
            known = self._prompts.get(address)
            return ConsoleSession(
                talk, prompt_idle=idle, login_limit=limit, prompt=login.prompt, known=known
            )
        return ExecSession(talk, idle)

    def _learn(self, address: NodeAddress, session: Session) -> None:
        """Remember the prompt a console showed, so the next login need not wait to be sure
        of it."""
        if isinstance(session, ConsoleSession) and session.login is not None:
            self._prompts[address] = session.login.prompt
            self._banners[address] = session.login.banner

    def learned(self, address: NodeAddress) -> tuple[str | None, str | None]:
        """The prompt and the banner a console node showed at its last login (None, None
        for an exec node, or before any login)."""
        return self._prompts.get(address), self._banners.get(address)

    async def host_key(self, address: NodeAddress) -> str:
        """Log in to a node and say its host key's fingerprint (raises the NodeError a
        command would: unreachable, host key unknown or changed, login refused)."""
        async with self.pool(address).connection(fresh=True) as lease:
            key = lease.conn.get_server_host_key()
            return key.get_fingerprint() if key is not None else "(none shown)"

    def _login(self, address: NodeAddress) -> NodeLogin:
        return self._logins.get(address, NodeLogin(self._settings.username))

    async def _connect(self, address: NodeAddress) -> asyncssh.SSHClientConnection:
        s = self._settings
        login = self._login(address)
        if login.missing:
            raise AuthenticationFailed(str(address), login.missing)
        self._check_not_refused(address, login)
        try:
            async with asyncio.timeout(s.connect_timeout.total_seconds() + 1):
                return await asyncssh.connect(
                    address.host,
                    address.port,
                    username=login.username,
                    # A password login offers the password once and nothing else: no keys,
                    # no keyboard-interactive (a second method would be a second attempt).
                    client_keys=() if login.password else self._keys,
                    known_hosts=self._known_hosts,
                    agent_path=None,
                    password=login.password,
                    kbdint_auth=False,
                    encryption_algs=PREFERRED_CIPHERS,
                    connect_timeout=s.connect_timeout.total_seconds(),
                    keepalive_interval=s.keepalive_interval.total_seconds(),
                    config=[],
                )
        except Exception as exc:
            error = self._connect_error(address, exc, login)
            if login.password and isinstance(error, AuthenticationFailed):
                self._refused[address] = (time.monotonic(), error)
            raise error from exc

    def _check_not_refused(self, address: NodeAddress, login: NodeLogin) -> None:
        """A node that refused the password recently is not offered it again yet."""
        refused = self._refused.get(address)
        if login.password is None or refused is None:
            return
        at, error = refused
        left = PASSWORD_REFUSED_PAUSE - (time.monotonic() - at)
        if left <= 0:
            del self._refused[address]
            return
        raise AuthenticationFailed(
            error.address,
            f"{error.detail} (not tried again for {left:.0f}s, so the account is not locked)",
        )

    def _connect_error(self, address: NodeAddress, exc: Exception, login: NodeLogin) -> NodeError:
        where = str(address)
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            if self._has_known_key(address):
                known = self._settings.known_hosts
                entry = address.host if address.port == 22 else f"[{address.host}]:{address.port}"
                return HostKeyChanged(
                    where,
                    f"HOST KEY CHANGED — the node presented a key other than the one in {known}; "
                    "this may be a man-in-the-middle attack. Not connecting. If the node was "
                    "rebuilt or its key rotated, compare the new key's fingerprint with the one "
                    "its own console shows, then replace it: "
                    f"ssh-keygen -f {known} -R '{entry}' && "
                    f"ssh-keyscan -p {address.port} {address.host} >> {known}",
                )
            return HostKeyUnknown(
                where,
                f"host key not in {self._settings.known_hosts}; habot never trusts a key on "
                f"first use: verify the node's key and add it (ssh-keyscan -p {address.port} "
                f"{address.host})",
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            if login.password:
                return AuthenticationFailed(
                    where,
                    f"authentication failed: the node refused the password for user "
                    f"{login.username!r}, taken from the {login.source or 'configured secret'}: "
                    "check it there",
                )
            return AuthenticationFailed(
                where, f"the node refused habot's client keys for user {login.username!r}"
            )
        if isinstance(exc, TimeoutError):
            return NodeUnreachable(
                where, f"no SSH answer within {_secs(self._settings.connect_timeout)}"
            )
        if isinstance(exc, ConnectionRefusedError):
            return NodeUnreachable(where, f"connection refused{NODE_UP_HINT}")
        if isinstance(exc, OSError):
            return NodeUnreachable(where, exc.strerror or str(exc) or type(exc).__name__)
        if isinstance(exc, asyncssh.Error):
            return NodeUnreachable(where, f"SSH failed: {exc.reason}")
        return NodeUnreachable(where, f"{type(exc).__name__}: {exc}")

    def _has_known_key(self, address: NodeAddress) -> bool:
        port = None if address.port == 22 else address.port
        keys, ca_keys, *_ = self._known_hosts.match(address.host, address.host, port)
        return bool(keys or ca_keys)


def _result(
    address: NodeAddress,
    command: RemoteCommand,
    session: Session,
    seconds: float,
    refused: str | None = None,
) -> CommandResult:
    talk = session.talk
    result = CommandResult(
        address=str(address),
        command=command.line,
        exit_status=None,
        output=talk.text(),
        duration=timedelta(seconds=seconds),
        truncated=talk.truncated,
        prompt_answered=talk.answered,
    )
    if isinstance(session, ExecSession):
        return replace(result, exit_status=session.exit_status)
    assert session.login is not None  # a reply came, so the login did
    output = reply(clean(result.output), command.line, session.login.prompt)
    listed = offered(session.login.banner)
    return replace(
        result,
        output=output,
        console=True,
        refusal=refusal(output, refused),
        offered=listed or None,
    )


def load_client_keys(paths: tuple[Path, ...], passphrase: str | None) -> list[asyncssh.SSHKey]:
    """Read the client keys at start, so a bad key or passphrase is a config error."""
    keys: list[asyncssh.SSHKey] = []
    for path in paths:
        try:
            keys.append(asyncssh.read_private_key(path, passphrase))
        except FileNotFoundError:
            raise ConfigError(f"ssh.client_keys: {path}: no such file") from None
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            hint = (
                " (set the keyring entry habot/ssh_key_passphrase or HABOT_SSH_KEY_PASSPHRASE)"
                if "passphrase" in str(exc).lower()
                else ""
            )
            raise ConfigError(f"ssh.client_keys: {path}: {exc}{hint}") from None
        except OSError as exc:
            raise ConfigError(f"ssh.client_keys: {path}: {exc.strerror}") from None
    return keys


def load_known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    """Read known_hosts at start; it must exist, since unknown hosts are always refused."""
    try:
        return asyncssh.read_known_hosts(str(path))
    except FileNotFoundError:
        raise ConfigError(
            f"ssh.known_hosts: {path}: no such file (habot only connects to known host keys)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"ssh.known_hosts: {path}: {exc}") from None


def _prompt_hint(tried: list[Session]) -> str:
    """For a console reply that never ended on the prompt habot learned by itself: the
    likely cause (a banner line taken for the prompt) and the setting that fixes it."""
    last = tried[-1] if tried else None
    if not isinstance(last, ConsoleSession) or last.login is None or last.custom_prompt:
        return ""
    return (
        f" (the console's reply never ended on the prompt habot learned at login, "
        f"{last.login.prompt!r}: if that is not its prompt — a banner line ending in ':' "
        "followed by a pause looks like one — set the pair's `prompt` pattern)"
    )


def _secs(value: timedelta | float) -> str:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    return f"{seconds:g}s"
