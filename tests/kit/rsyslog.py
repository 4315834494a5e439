"""A real syslog server for the SIEM tests: Debian's rsyslog on 127.0.0.1, with a plain TCP
and a TLS listener (its own test CA), writing what each receives to a file; stopped and
started again at will."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.kit.factories import skip_or_fail, system_binary

GTLS = Path("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so")
CONF = """
global(workDirectory="{dir}"
       DefaultNetstreamDriverCAFile="{dir}/habot-test-CA.pem"
       DefaultNetstreamDriverCertFile="{dir}/cert.pem"
       DefaultNetstreamDriverKeyFile="{dir}/key.pem")
module(load="imtcp" MaxSessions="50")
input(type="imtcp" address="127.0.0.1" port="{plain}" name="plain")
input(type="imtcp" address="127.0.0.1" port="{tls}" name="tls"
      StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="received" type="string" string="%inputname% %structured-data% %msg%\\n")
if $inputname == "plain" or $inputname == "tls" then {{
  action(type="omfile" file="{dir}/received.log" template="received")
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_ca(folder: Path, name: str) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A throwaway certificate authority: its PEM file, key and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = folder / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def server_cert(folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate) -> None:
    """cert.pem and key.pem for 127.0.0.1 and localhost, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ))  # fmt: skip


#: What the template writes: the listener, the structured data (its "]" escaped inside
#: values), the MSG.
_LINE = re.compile(r"(\S+) (\[(?:[^\]\\]|\\.)*\]) (.*)")


@dataclass
class Received:
    """One message as rsyslog wrote it: which listener, its structured data, its MSG."""

    listener: str
    structured: str
    msg: str

    @property
    def seq(self) -> int:
        return int(self.structured.split('seq="')[1].split('"')[0])

    @property
    def hash(self) -> str:
        return self.structured.split('hash="')[1].split('"')[0]


@dataclass
class Rsyslog:
    """The running server."""

    folder: Path
    binary: str
    plain: int = field(default_factory=free_port)
    tls: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None

    @property
    def ca(self) -> Path:
        return self.folder / "habot-test-CA.pem"

    def received(self) -> list[Received]:
        """Every message received so far, in order."""
        path = self.folder / "received.log"
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [Received(*m.groups()) for line in lines if (m := _LINE.fullmatch(line))]

    async def start(self) -> None:
        conf = self.folder / "rsyslog.conf"
        conf.write_text(CONF.format(dir=self.folder, plain=self.plain, tls=self.tls))
        self.process = await asyncio.create_subprocess_exec(
            self.binary, "-n", "-f", str(conf), "-i", str(self.folder / "rsyslog.pid"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for port in (self.plain, self.tls):
            await _listening(port)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 10)
        self.process = None

    async def wait_for(self, count: int, within: float = 60) -> list[Received]:
        """The messages received, once there are at least ``count``."""
        deadline = asyncio.get_running_loop().time() + within
        while len(got := self.received()) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"rsyslog received {len(got)} of {count} messages")
            await asyncio.sleep(0.2)
        return got


async def _listening(port: int, within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


def _prepare(folder: Path) -> None:
    """The TLS driver present, the folder, the CA and the server's certificate."""
    if not GTLS.exists():
        skip_or_fail(f"{GTLS} is missing (apt-get install rsyslog-gnutls)")
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o755)
    _, ca_key, ca = make_ca(folder, "habot test CA")
    server_cert(folder, ca_key, ca)


@contextlib.asynccontextmanager
async def running_rsyslog(folder: Path) -> AsyncIterator[Rsyslog]:
    """rsyslog with its CA, certificate and both listeners; stopped afterwards."""
    binary = system_binary("rsyslogd", "rsyslog")
    _prepare(folder)
    server = Rsyslog(folder, binary)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
