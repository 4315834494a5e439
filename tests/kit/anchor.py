"""A habot whose audit chain is anchored, and a chain someone rewrote."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from habot.core.audit import AuditRecord, chain
from habot.store.db import make_engine, upgrade

KEY = "k3y-from-the-keyring-not-the-db"


def rechained(records: list[AuditRecord], edit_seq: int) -> list[AuditRecord]:
    """The log rewritten from ``edit_seq`` on, every hash recomputed (what someone with
    write access and this source code could do)."""
    out = records[: edit_seq - 1]
    for record in records[edit_seq - 1 :]:
        changed = record.event
        if record.seq == edit_seq:
            changed = replace(changed, outcome="refused")
        out.append(chain(record.seq, changed, out[-1].hash if out else "0" * 64))
    return out


def _habot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HABOT_CONFIG": str(config), "HABOT_AUDIT_KEY": KEY}
    return subprocess.run(
        [sys.executable, "-m", "habot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def config_for(tmp_path: Path) -> tuple[Path, Path]:
    """A config naming an SQLite file, and that file (migrated)."""
    db = tmp_path / "audit.db"
    config = tmp_path / "habot.toml"
    config.write_text(
        '[ssh]\nclient_keys = ["/dev/null"]\nknown_hosts = "/dev/null"\n'
        f'[[pairs]]\nname = "prod"\nprimary = "10.0.0.1"\nsecondary = "10.0.0.2"\n'
        f'[database]\nurl = "sqlite:///{db}"\n'
    )
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    return config, db
