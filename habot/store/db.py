"""Engine creation and schema migration."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from habot.errors import StoreBusy, StoreError, StoreUnavailable

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


WRITE_LOCK = "habot_write_lock"
_BUSY_WORDS = ("database is locked", "database is busy", "lock timeout", "could not obtain lock")
_P = ParamSpec("_P")
_T = TypeVar("_T")
_S = TypeVar("_S")


def is_busy(exc: BaseException) -> bool:
    """Whether a database error only means another writer held the lock (worth retrying)."""
    return isinstance(exc, OperationalError) and any(w in str(exc).lower() for w in _BUSY_WORDS)


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means it could not be reached or could not write right now
    (connection refused or dropped, server shutting down, disk full, I/O error): nothing was
    written, and the same write may succeed once the database is back."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def translated(exc: SQLAlchemyError) -> StoreError:
    """The habot error for a database error: :class:`StoreBusy` when another writer held the
    lock, :class:`StoreUnavailable` when the database could not be reached or could not
    write (both: trying again may succeed), :class:`StoreError` for anything else."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_busy(exc):
        return StoreBusy(f"the database was busy: {first}")
    if is_unavailable(exc):
        return StoreUnavailable(f"the database is unavailable: {first}")
    return StoreError(f"the database failed: {first}")


def store_errors(
    fn: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Translate SQLAlchemy's errors to the habot tree at the store's boundary."""

    @wraps(fn)
    async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise translated(exc) from exc

    return call


def threaded(
    fn: Callable[Concatenate[_S, _P], _T],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """The async form of a store's blocking method: run on a worker thread, with SQLAlchemy's
    errors translated. ``last = threaded(last_sync)`` in a store's body gives it the async
    API its port declares. A store with an ``own_thread`` (an :class:`OwnThread`) runs there,
    never queued behind request work; the others use the default executor."""

    @wraps(fn)
    async def call(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        own: OwnThread | None = getattr(self, "own_thread", None)
        try:
            if own is not None:
                return await own.run(fn, self, *args, **kwargs)
            return await asyncio.to_thread(fn, self, *args, **kwargs)
        except SQLAlchemyError as exc:
            raise translated(exc) from exc

    return call


class OwnThread:
    """A thread of its own for a few small database calls that must never queue behind
    request work in the default executor (the health check, the scheduler lease): a flood
    of requests may fill that executor, and then /healthz would say 503 and the lease
    lapse while the database itself was fine."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)

    async def run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """``fn(*args, **kwargs)`` on this thread."""
        call = partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL mode, a busy timeout and foreign keys.

    A connection with the execution option ``habot_write_lock=True`` starts its SQLite
    transaction with ``BEGIN IMMEDIATE``, taking the write lock before it reads, so
    read-then-append (the audit chain's head) cannot race another process.
    """
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes the write lock before it reads (SQLite: BEGIN IMMEDIATE);
    committed when the block ends, rolled back if it raises."""
    with engine.connect().execution_options(**{WRITE_LOCK: True}) as conn, conn.begin():
        yield conn


def _sqlite_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get(WRITE_LOCK, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" hook issues BEGIN itself
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class LaneOrder:
    """One write at a time per lane, first called first (asyncio's lock is fair), per event
    loop: a process's writes into one lane keep the order in which they were made."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def of(self, lane: str) -> asyncio.Lock:
        """The lane's lock in the running loop."""
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(lane, asyncio.Lock())
