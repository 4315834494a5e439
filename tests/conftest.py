"""Shared fixtures: the appliance simulator, a real OpenSSH sshd, a real PostgreSQL, and
settings pointing at them."""

from __future__ import annotations

import inspect
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from habot.config import Settings
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from habot.ssh.executor import SshExecutor
from habot.store import sql_stores
from habot.store.db import make_engine, upgrade
from habot.store.memory import memory_stores
from tests.kit.factories import serving, settings_from, skip_or_fail, system_binary
from tests.kit.fakepager import FakePagers
from tests.kit.fakeslack import MESSAGE_LIMIT, STARTED, FakeSlack
from tests.kit.plainwords import HEARD
from tests.kit.postgres import PostgresServer, fresh_database, postgres_bin, postgres_server
from tests.kit.slack import bot as bot  # the running-bot fixture, for every module
from tests.kit.sshd import Sshd, prepare
from tests.kit.world import world as world  # the service-world fixture, for every module

#: Fixtures that start a system binary (OpenSSH's sshd, PostgreSQL).
SYSTEM_FIXTURES = frozenset(
    {
        "sshd",
        "postgres_admin",
        "restartable_postgres",
        "console",
        "password_sshd",
        "account",
        "chromium",
    }
)
#: What a test does when it runs habot (or its simulator) as a process of its own.
PROCESS_CALLS = ("start_bot(", "habot(", "_habot(", "subprocess.", "create_subprocess")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by what it needs (docs/development.md): ``system`` when it needs a
    system binary (its fixtures start sshd or PostgreSQL, or it runs on PostgreSQL), and
    ``process`` when it runs habot as a separate process (the end-to-end tests: it, a
    fixture it uses, or a helper either calls starts one). The quick loop
    (`scripts/check --quick`) runs neither."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and "postgresql" in params.params.values()
        if on_postgres or SYSTEM_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.system)
        if _starts_a_process(item):
            item.add_marker(pytest.mark.process)


def _starts_a_process(item: pytest.Function) -> bool:
    defs = item._fixtureinfo.name2fixturedefs.values()
    functions = [item.function, *(d.func for group in defs for d in group)]
    starters = _starters(item.module)
    return any(_calls(f, starters) for f in functions)


_STARTERS: dict[str, frozenset[str]] = {}


def _starters(module: Any) -> frozenset[str]:
    """Names of the module's functions (and conftest's helpers) that start a process,
    directly or through one another."""
    if module.__name__ in _STARTERS:
        return _STARTERS[module.__name__]
    found: set[str] = set()
    sources = {n: _source(f) for n, f in vars(module).items() if inspect.isfunction(f)}
    while True:
        calls = (*PROCESS_CALLS, *(f"{n}(" for n in found))
        more = {n for n, src in sources.items() if n not in found and any(c in src for c in calls)}
        if not more:
            break
        found |= more
    _STARTERS[module.__name__] = frozenset(found)
    return _STARTERS[module.__name__]


def _calls(function: Callable[..., Any], starters: frozenset[str]) -> bool:
    src = _source(function)
    body = src.split(":", 1)[1] if ":" in src else src  # not its own def line
    return any(c in body for c in (*PROCESS_CALLS, *(f"{n}(" for n in starters)))


def _source(function: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    """A private PostgreSQL server for the whole run (Debian's `postgresql` binaries)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        skip_or_fail("PostgreSQL is not installed (apt-get install postgresql)")
    assert bin_dir is not None
    base = Path(tempfile.mkdtemp(prefix="habot-pg-"))
    try:
        with postgres_server(bin_dir, base) as url:
            yield url
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def restartable_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own, which the test may stop and start again."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        skip_or_fail("PostgreSQL is not installed (apt-get install postgresql)")
    assert bin_dir is not None
    base = Path(tempfile.mkdtemp(prefix="habot-pg-"))
    server = PostgresServer(bin_dir, base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def engines() -> Iterator[Callable[[str], Engine]]:
    """make_engine for a test: every engine made is disposed of when the test ends."""
    made: list[Engine] = []

    def make(url: str) -> Engine:
        made.append(make_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind habot supports (SQLite file, real PostgreSQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'habot.db'}"
    return fresh_database(request.getfixturevalue("postgres_admin"))


@pytest.fixture(autouse=True)
def every_message_fits() -> Iterator[None]:
    """Over the whole suite: no message habot sent to any fake Slack (chat.*, views.*, a
    response_url or an ack) was over Slack's size limit, or carried a bare internal
    identifier where people read it (tests/plainwords.py). A test that sends one on
    purpose takes the record away (``fake.oversized.clear()``) after asserting on it."""
    STARTED.clear()
    HEARD.clear()
    yield
    jargon = [*HEARD, *(said for slack in STARTED for said in slack.jargon)]
    HEARD.clear()
    oversized = [(call, size) for slack in STARTED for call, size in slack.oversized]
    STARTED.clear()
    assert not oversized, f"messages over Slack's {MESSAGE_LIMIT} characters: {oversized}"
    assert not jargon, f"internal identifiers where people read: {jargon}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack on 127.0.0.1 (no user groups)."""
    slack = FakeSlack()
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
async def pagers() -> AsyncIterator[FakePagers]:
    """Fake PagerDuty Events API v2 and Opsgenie Alert API on 127.0.0.1."""
    fakes = FakePagers()
    await fakes.start()
    yield fakes
    await fakes.stop()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two simulated pairs, "prod" and "dr", listening on 127.0.0.1."""
    async with Simulator(tmp_path / "sim", ("prod", "dr")) as simulator:
        yield simulator


@pytest.fixture
def sim_settings(sim: Simulator) -> Settings:
    """Settings for the simulated pairs, as `habot sim` writes them."""
    return settings_from(sim.kit.config_path)


@pytest.fixture
async def executor(sim_settings: Settings) -> AsyncIterator[SshExecutor]:
    """An SSH executor configured for the simulator."""
    async with SshExecutor(sim_settings.ssh) as ex:
        yield ex


@pytest.fixture
async def sshd(tmp_path: Path) -> AsyncIterator[Sshd]:
    """A real OpenSSH sshd on 127.0.0.1 whose ha-* commands are small shell scripts."""
    binary = system_binary("sshd", "openssh-server")
    system_binary("ssh-keygen", "openssh-client")
    async with serving(*prepare(tmp_path / "sshd", binary)) as handle:
        yield handle


@pytest.fixture
async def console_sshd(tmp_path: Path) -> AsyncIterator[Sshd]:
    """A real OpenSSH sshd offering only the appliance's interactive HA console (key login,
    so it runs without root)."""
    binary = system_binary("sshd", "openssh-server")
    system_binary("ssh-keygen", "openssh-client")
    async with serving(*prepare(tmp_path / "sshd", binary, console=True)) as handle:
        yield handle


@pytest.fixture
def migrated(database_url: str, engines: Callable[[str], Engine]) -> Engine:
    """A migrated engine on each kind of database."""
    engine = engines(database_url)
    upgrade(engine)
    return engine


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, engines: Callable[[str], Engine]
) -> Stores:
    """Every store port, on each implementation: the store contract holds for all three."""
    if request.param == "memory":
        return memory_stores()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'habot.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_admin"))
    engine = engines(url)
    upgrade(engine)
    return sql_stores(engine)


@pytest.fixture
def memory() -> Stores:
    """Every store port in memory: for tests about rules rather than SQL."""
    return memory_stores()
