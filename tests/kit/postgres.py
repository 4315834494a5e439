"""A throwaway PostgreSQL server for the tests: Debian's binaries, a private data directory,
loopback only, trust authentication, fsync off. Each test gets a fresh database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INITDB_GLOB = "/usr/lib/postgresql/*/bin/initdb"


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL bin directory (the newest major installed), or None."""
    found = sorted(Path("/").glob(INITDB_GLOB.lstrip("/")), key=lambda p: p.parts[-3])
    return found[-1].parent if found else None


def _as_owner(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


class PostgresServer:
    """One private server in ``base``: started, stopped (a fast shutdown, as a restart or a
    managed database's fail-over does it) and started again on the same port and data."""

    def __init__(self, bin_dir: Path, base: Path) -> None:
        self._bin, self._base = bin_dir, base
        self._data, self._sockets = base / "data", base / "sockets"
        self._sockets.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
            shutil.chown(self._sockets, "postgres")
        subprocess.run(
            _as_owner([str(bin_dir / "initdb"), "-D", str(self._data), "-U", "habot",
                       "--auth=trust"]),
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.port = free_port()
        self._server: subprocess.Popen[bytes] | None = None
        #: The admin URL (database ``postgres``).
        self.url = f"postgresql+psycopg://habot@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        with (self._base / "server.log").open("ab") as log:
            self._server = subprocess.Popen(
                _as_owner(
                    [
                        str(self._bin / "postgres"),
                        "-D", str(self._data),
                        "-p", str(self.port),
                        "-k", str(self._sockets),
                        "-c", "listen_addresses=127.0.0.1",
                        "-c", "fsync=off",
                        "-c", "synchronous_commit=off",
                        "-c", "full_page_writes=off",
                        "-c", "max_connections=200",
                    ]
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        _wait_ready(self._bin, self.port, self._server)

    def stop(self) -> None:
        """A fast shutdown (`pg_ctl stop -m fast`): every session is
        disconnected at once, and new connections are refused until :meth:`start`."""
        if self._server is not None and self._server.poll() is None:
            pg_ctl = [str(self._bin / "pg_ctl"), "stop", "-D", str(self._data), "-m", "fast"]
            subprocess.run(_as_owner(pg_ctl), check=True, capture_output=True, timeout=60)
            self._server.wait(30)
        self._server = None


@contextmanager
def postgres_server(bin_dir: Path, base: Path) -> Iterator[str]:
    """Start a server in ``base``; yield its admin URL (database ``postgres``)."""
    server = PostgresServer(bin_dir, base)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _wait_ready(bin_dir: Path, port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("postgres exited at start")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
            capture_output=True,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("postgres did not become ready within 60 s")


def fresh_database(admin_url: str) -> str:
    """Create an empty database; return its URL."""
    from sqlalchemy import create_engine, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"
