"""One leader among replicas: only the holder of the scheduler lease runs scheduled jobs
(status polls, alerts, expiry, outbox delivery, the digest), so two replicas on one
database never alert twice or send a message twice."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from habot.errors import StoreError
from habot.services.outage import Outage
from habot.services.ports import Clock, Leases

log = logging.getLogger(__name__)
SCHEDULER_LEASE = "scheduler"
#: A leader that stops renewing (crashed, frozen, cut off) is replaced after this long.
LEASE_TTL = timedelta(seconds=15)
#: A replica whose heartbeat is older than this is taken for dead: an operation it was
#: running is marked "unknown" (never re-run).
REPLICA_TTL = timedelta(seconds=10)
#: How often a replica says it is alive: several beats fit in one REPLICA_TTL.
HEARTBEAT_EVERY = timedelta(seconds=2)
#: Beats further apart than this (a failed beat, a stalled write) are a gap: after one, a
#: replica does not judge others by their heartbeats until it has beaten steadily again.
_GAP = REPLICA_TTL.total_seconds() / 2


def replica_id() -> str:
    """This process start, uniquely: where it runs (host, kernel and pid namespace), its
    pid, and a random tag — so two machines or containers with the same hostname and pid 1
    are never the same replica, and a restarted process is never its predecessor."""
    return f"{_place()}:{os.getpid()}:{secrets.token_hex(6)}"


def place(hostname: str, kernel: str, namespace: str) -> str:
    """Where pids can be compared: one running kernel (its boot id — two VMs cloned from one
    image share a host name, a machine id and the initial pid namespace's number, but never
    a boot id) and one pid namespace on it (two containers on one kernel may both run pid
    1). The host name is there for people reading it."""
    return f"{hostname[:40]}+{kernel[:12]}+{namespace}"


@functools.cache
def _place() -> str:
    return place(socket.gethostname(), _kernel(), _namespace())


def _kernel() -> str:
    """This boot of this kernel; a random id when it cannot be read (then no other process
    is ever judged dead from here: only heartbeats decide)."""
    for source in ("/proc/sys/kernel/random/boot_id", "/etc/machine-id"):
        try:
            with open(source, encoding="ascii") as f:
                if found := "".join(c for c in f.read() if c.isalnum()):
                    return found
        except (OSError, UnicodeDecodeError):
            continue
    return secrets.token_hex(6)


def _namespace() -> str:
    try:
        return "".join(c for c in os.readlink("/proc/self/ns/pid") if c.isdigit())
    except OSError:
        return secrets.token_hex(6)  # unknown: like an unknown kernel, never comparable


def gone(replica: str, me: str) -> bool:
    """Whether ``replica`` is certainly dead: it ran in this very place (host and pid
    namespace on this very boot) and its process is gone, or it was an earlier process with
    this very pid there. Anything else — another machine, boot or container, a pid that
    exists — counts as possibly alive, and only its lapsed heartbeat can tell."""
    host, pid_text, *_ = [*replica.split(":"), "", ""]
    if host != me.split(":")[0] or not pid_text.isdigit() or replica == me:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # same pid, different tag: an earlier life of this process slot
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


class Leadership:
    """Claims and renews the scheduler lease; says whether this replica leads right now."""

    def __init__(
        self,
        *,
        store: Leases,
        clock: Clock,
        me: str | None = None,
        ttl: timedelta = LEASE_TTL,
        outage: Outage | None = None,
        steady: Callable[[], float] | None = None,
        ticks: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ticks = ticks  # when this replica last renewed: its own affair, monotonic
        self._outage = outage or Outage()
        #: Seconds this replica's own heartbeats have gone through without a gap (None:
        #: no heartbeat here to judge by).
        self._steady = steady
        self._store = store
        self._clock = clock
        self.me = me or replica_id()
        self._ttl = ttl
        self.leading = False
        self._renewed: float | None = None
        self._asked = False
        #: Called when this replica takes the lead from another (not at its first claim):
        #: the new leader should look at the pairs now, not an interval later.
        self.on_lead: Callable[[], None] | None = None

    async def held(self) -> bool:
        """Claim or renew; True while this replica leads. A database error means not leading.
        A fresh lease is renewed at most every ``ttl / 5``, so frequent jobs cost no writes."""
        now, started = self._clock(), self._ticks()
        fresh = self._ttl.total_seconds() / 5
        if self.leading and self._renewed is not None and started - self._renewed < fresh:
            return True
        try:
            leads = await self._claim(now)
        except StoreError as exc:
            self._outage.failed(exc, "claiming the scheduler lease; not leading meanwhile")
            leads = False
        except Exception:
            log.exception("could not claim the scheduler lease; not leading")
            leads = False
        if leads != self.leading:
            log.info("%s the scheduler lead (%s)", "took" if leads else "lost", self.me)
            if leads and self._asked and self.on_lead is not None:
                self.on_lead()
        self._asked = True
        self.leading = leads
        self._renewed = started if leads else None
        return leads

    async def _claim(self, now: datetime) -> bool:
        if await self._store.claim(SCHEDULER_LEASE, self.me, now, self._ttl):
            return True
        holder = await self._store.holder(SCHEDULER_LEASE, now)
        if holder is None or not gone(holder, self.me):
            return False
        log.info("the scheduler lead's holder %s is gone; taking over now", holder)
        return await self._store.take_over(SCHEDULER_LEASE, holder, self.me, now, self._ttl)

    async def release(self) -> None:
        """Step down (at shutdown) so another replica takes over at once."""
        if self.leading:
            await self._store.release(SCHEDULER_LEASE, self.me)
            self.leading = False

    async def alive(self, replica: str) -> bool:
        """Whether a replica may still be alive: its heartbeat is current — or this replica
        cannot tell, because its own heartbeats have not gone through steadily for a whole
        REPLICA_TTL (a database that stalled or failed for us failed for the others too:
        their lapsed heartbeats say nothing about them then)."""
        if gone(replica, self.me):
            return False
        if self._steady is not None and self._steady() < REPLICA_TTL.total_seconds():
            return True
        holder = await self._store.holder(_alive(replica), self._clock())
        return holder == replica


def _alive(replica: str) -> str:
    return f"alive:{replica}"


def beat_sync(store: Leases, me: str, now: datetime) -> None:
    """One heartbeat: this replica is alive until ``now + REPLICA_TTL``."""
    store.claim_sync(_alive(me), me, now, REPLICA_TTL)


class Heartbeat:
    """This replica's heartbeat, on a thread of its own.

    The heartbeat is what other replicas read to decide whether an operation this replica
    runs was interrupted, so it must not depend on the event loop: a flood of requests, a
    slow handler or a blocking call there would otherwise hold it off until another
    replica declared a live operation ``unknown``. Only a stopped process (SIGSTOP, a
    frozen VM) stops it — and such a process cannot pass the point of no return either,
    because ownership is checked in the database at that moment."""

    def __init__(
        self,
        *,
        store: Leases,
        me: str,
        clock: Clock,
        every: timedelta = HEARTBEAT_EVERY,
        outage: Outage | None = None,
        ticks: Callable[[], float] = time.monotonic,
        sample: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        #: Refreshes the shared clock ``clock`` reads (the database server's), each beat.
        self._sample = sample
        self.me = me
        self._clock = clock
        self._every = every.total_seconds()
        self._outage = outage or Outage()
        self._ticks = ticks  # monotonic: a wall clock stepped by NTP would fake a gap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="habot-heartbeat", daemon=True)
        self.failures = 0
        self._last: float | None = None  # when the last beat went through
        self._steady_since: float | None = None  # the first beat after the last gap

    def start(self) -> None:
        """Beat once now (so this replica counts as alive before it recovers anything),
        then keep beating on the thread."""
        self._beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (at shutdown, after running operations have drained)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._every + 5)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._beat()

    def steady(self) -> float:
        """Seconds this replica's beats have gone through without a gap (0 when the last
        one failed or is overdue): a gap is a failed beat, or one that took long enough to
        let this replica's own heartbeat lapse."""
        last, since, now = self._last, self._steady_since, self._ticks()
        if last is None or since is None or now - last > _GAP:
            return 0.0
        return now - since

    def _beat(self) -> None:
        try:
            if self._sample is not None:
                self._sample()
            beat_sync(self._store, self.me, self._clock())
        except Exception as exc:
            self.failures += 1
            self._steady_since = None  # a gap: others are not judged until steady again
            self._outage.failed(exc, "the replica heartbeat")
            return
        now = self._ticks()
        if self._last is None or self._steady_since is None or now - self._last > _GAP:
            self._steady_since = now
        self._last = now
        self._outage.worked()
