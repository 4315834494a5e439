"""The simulator's SSH side: one asyncssh server per simulated node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

import asyncssh

from habot.core.model import Role
from habot.sim.appliance import PairSim, Plan

log = logging.getLogger(__name__)
GARBAGE = "\x1b[31m#?\x00 Segmentation fault (core dumped)\n%%%%%%%%%%\n0xDEADBEEF ???\n"


def utc_now() -> datetime:
    """The real clock (the simulator is an adapter, so it may read one)."""
    return datetime.now(UTC)


class _Tracker(asyncssh.SSHServer):
    """Keeps the node's open connections so 'down' can cut them; with a ``login``
    (username, password), takes that password login and nothing else."""

    def __init__(
        self,
        connections: set[asyncssh.SSHServerConnection],
        login: tuple[str, str] | None = None,
    ) -> None:
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None
        self._login = login

    def password_auth_supported(self) -> bool:
        return self._login is not None

    def validate_password(self, username: str, password: str) -> bool:
        if self._login is None:
            return False
        name, expected = self._login
        return username == name and secrets.compare_digest(password, expected)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.discard(self._conn)


class SimNodeServer:
    """A simulated node listening for SSH on ``host:port``: exec requests with key logins,
    or — with ``console_login`` (username, password) — the interactive HA console with
    that password login, and no exec at all."""

    def __init__(
        self,
        pair: PairSim,
        role: Role,
        *,
        host: str,
        port: int,
        host_key: asyncssh.SSHKey,
        authorized: asyncssh.SSHAuthorizedKeys,
        clock: Callable[[], datetime] = utc_now,
        console_login: tuple[str, str] | None = None,
    ) -> None:
        self.pair, self.role, self.host, self.port = pair, role, host, port
        self.console_login = console_login
        self._host_key, self._authorized, self._clock = host_key, authorized, clock
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._connections: set[asyncssh.SSHServerConnection] = set()

    async def start(self) -> None:
        """Listen (again, on the same port once one was chosen); listening already: nothing
        more to do."""
        if self._acceptor is not None:
            self.pair.nodes[self.role].up = True
            return
        self._acceptor = await asyncssh.listen(
            self.host,
            self.port,
            server_host_keys=[self._host_key],
            authorized_client_keys=None if self.console_login else self._authorized,
            process_factory=self._handle,
            server_factory=lambda: _Tracker(self._connections, self.console_login),
            reuse_address=True,
            encoding="utf-8",
            keepalive_interval=0,
        )
        self.port = self._acceptor.get_port()
        self.pair.nodes[self.role].up = True

    async def stop(self, still_up: bool = False) -> None:
        """Stop listening and cut every open connection: the node is down — or, when
        ``still_up``, only habot's path to it is cut (its peer still sees it)."""
        self.pair.nodes[self.role].up = still_up
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for conn in list(self._connections):
            conn.abort()

    async def _handle(self, process: asyncssh.SSHServerProcess[str]) -> None:
        node = self.pair.nodes[self.role]
        try:
            if node.slow:
                await asyncio.sleep(node.slow)
            if node.hang:
                await process.wait_closed()
                return
            if node.babble:  # before any command or prompt: the banner never ends either
                await _babble(process)
                return
            if self.console_login is None:
                status = await self._command(process, process.command or "")
            else:
                status = await self._console(process)
            if status is not None:
                process.exit(status)
        except (asyncssh.Error, BrokenPipeError, ConnectionError):
            log.debug("simulated %s: client went away", self.role)

    async def _command(self, process: asyncssh.SSHServerProcess[str], line: str) -> int | None:
        """Run one command line; its exit status, or None when the node 'crashed'."""
        node = self.pair.nodes[self.role]
        if node.garbage and line.strip() == "ha-status":
            process.stdout.write(GARBAGE)
            return 0
        plan = self.pair.plan(self.role, line, self._clock())
        if node.crash:
            await self._crash(process, plan)
            return None
        return await self._play(process, plan)

    async def _console(self, process: asyncssh.SSHServerProcess[str]) -> int | None:
        """The interactive console: banner, prompt, one command per line, until exit."""
        if process.command is not None:
            process.stdout.write(
                "This server offers its HA console only: log in without a command.\n"
            )
            return 1
        prompt = f"{self.pair.name}-{self.role.value}> "
        process.stdout.write(self.pair.banner(self.role) + prompt)
        while line := await process.stdin.readline():
            typed = line.strip()
            if typed in {"exit", "logout"}:
                return 0
            if typed and await self._typed(process, typed) is None:
                return None
            process.stdout.write(prompt)
        return 0

    async def _typed(self, process: asyncssh.SSHServerProcess[str], typed: str) -> int | None:
        name = typed.split()[0]
        if name.startswith("ha-") and name not in self.pair.offered(self.role):
            process.stdout.write(f"{name}: not available on this server now\n")
            return 1
        return await self._command(process, typed)

    async def _play(self, process: asyncssh.SSHServerProcess[str], plan: Plan) -> int:
        process.stdout.write(plan.preamble)
        if plan.question is None or plan.on_yes is None:
            return plan.exit_status
        if self.pair.nodes[self.role].think:
            await asyncio.sleep(self.pair.nodes[self.role].think)
        if plan.code_question is not None and plan.code_ok is not None:
            process.stdout.write(plan.code_question)
            typed = (await process.stdin.readline()).strip()
            if not plan.code_ok(typed):
                process.stdout.write("\nInvalid joining code. Nothing was changed.\n")
                return 1
            process.stdout.write("\nJoining code accepted.\n")
        process.stdout.write(plan.question)
        answer = await process.stdin.readline()
        if answer.strip().lower() in {"y", "yes"}:
            process.stdout.write(plan.on_yes())
            if self.pair.nodes[self.role].ask_twice:  # the change is made; one more question
                process.stdout.write("Restart the HA services now? [y/N] ")
                await process.stdin.readline()
            return 0
        if plan.on_no is not None:
            plan.on_no()
        process.stdout.write("\nAborted: not confirmed.\n")
        return 1

    async def _crash(self, process: asyncssh.SSHServerProcess[str], plan: Plan) -> None:
        """Print half the output, then drop the connection as a dying node would."""
        process.stdout.write(plan.preamble[: max(1, len(plan.preamble) // 2)])
        with contextlib.suppress(Exception):
            await process.stdout.drain()
        await asyncio.sleep(0.05)
        conn = process.get_extra_info("connection")
        if conn is not None:
            conn.abort()


#: What a babbling node prints, over and over: status-like lines, with terminal escapes.
BABBLE = ("\x1b[0KPrimary:   Active   10.0.0.1   still printing\r\n" * 200)[:8192]


async def _babble(process: asyncssh.SSHServerProcess[str]) -> None:
    """Print 8 KB writes until the client goes away (SSH's flow control paces them)."""
    conn = process.channel.get_connection()
    while not process.is_closing() and not conn.is_closed():
        process.stdout.write(BABBLE)
        await process.stdout.drain()
