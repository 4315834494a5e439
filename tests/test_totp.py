"""Authenticator codes on top of the typed name (``totp = true``): each approver enrols once
(`habot approver enrol USER`, shown once), their secret is sealed in the database, and a
code is accepted once — a wrong, stale or replayed one approves nothing."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from cryptography.fernet import Fernet

from habot.config import parse_settings
from habot.core.replies import plain
from habot.core.totp import STEP, code_problem, matched_step, new_secret, provisioning_uri
from habot.errors import ConfigError
from habot.services.ports import Stores
from habot.sim.simulator import Simulator
from habot.store.db import make_engine, upgrade
from habot.store.totp import SealedCodes, TotpStore
from tests.kit.botproc import start_bot
from tests.kit.cli import habot as run_habot
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import LEAD as LEAD_USER
from tests.kit.slack import ask, cards, opened_form, outcome_told, runs, send_form
from tests.kit.stepup import STEP_UP
from tests.kit.stepup import stepped as stepped  # the fixture, reused
from tests.kit.world import LEAD, LEAD2, World

T0 = datetime(2026, 12, 3, 3, 0, 15, tzinfo=UTC)
KEY = Fernet.generate_key().decode()


def code_at(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret, interval=STEP).at(at)


def test_a_code_is_matched_to_its_step_within_one_step_either_side() -> None:
    """An authenticator code is matched to its time step, within one step either side."""
    secret = new_secret()
    now = int(T0.timestamp()) // STEP
    assert matched_step(secret, code_at(secret, T0), T0) == now
    assert matched_step(secret, code_at(secret, T0 - timedelta(seconds=STEP)), T0) == now - 1
    assert matched_step(secret, code_at(secret, T0 + timedelta(seconds=STEP)), T0) == now + 1
    assert matched_step(secret, code_at(secret, T0 - timedelta(seconds=3 * STEP)), T0) is None
    assert matched_step(secret, "12345a", T0) is None
    assert matched_step(secret, " ".join(code_at(secret, T0)), T0) == now  # "123 456" typed


def test_each_way_a_code_fails_says_why() -> None:
    """Each way a code fails (not enrolled, empty, wrong, reused) says why."""
    secret = new_secret()
    good = code_at(secret, T0)
    assert "habot approver enrol U0LEAD1" in (code_problem(None, good, T0, "U0LEAD1")[0] or "")
    assert "6-digit code" in (code_problem((secret, None), "", T0, "U0LEAD1")[0] or "")
    wrong = "000000" if good != "000000" else "111111"
    assert "not the current one" in (code_problem((secret, None), wrong, T0, "U0LEAD1")[0] or "")
    step = int(T0.timestamp()) // STEP
    assert code_problem((secret, None), good, T0, "U0LEAD1") == (None, step)
    assert "already used" in (code_problem((secret, step), good, T0, "U0LEAD1")[0] or "")


def test_the_enrolment_uri_is_what_an_authenticator_app_scans() -> None:
    """The enrolment URI is the otpauth URI an authenticator app scans."""
    secret = new_secret()
    uri = urlsplit(provisioning_uri(secret, "U0LEAD1"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [secret]
    assert parse_qs(uri.query)["issuer"] == ["habot"]


def test_totp_needs_the_typed_form() -> None:
    """totp needs the typed confirmation form, or the configuration is refused."""
    base = {"ssh": {"client_keys": ["/k"], "known_hosts": "/kh"},
            "pairs": [{"name": "prod", "primary": "a", "secondary": "b"}]}  # fmt: skip
    with pytest.raises(ConfigError, match="totp = true needs confirm"):
        parse_settings({**base, "approval": {"operations": {"switchover": {"totp": True}}}})
    parse_settings({**base, "approval": {"operations": {"make-standalone": {"totp": True}}}})


async def test_secrets_are_sealed_in_the_database_and_opened_only_with_the_key(
    tmp_path: Path,
) -> None:
    """Authenticator secrets are sealed in the database and opened only with the key."""
    db = tmp_path / "habot.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    codes = SealedCodes(TotpStore(engine), KEY)
    secret = new_secret()
    await codes.enrol("U0LEAD1", secret, T0)
    assert await codes.enrolled("U0LEAD1") == (secret, None)
    stored = sqlite3.connect(db).execute("SELECT sealed FROM approver_totp").fetchone()[0]
    assert secret not in stored
    other = SealedCodes(TotpStore(engine), Fernet.generate_key().decode())
    assert await other.enrolled("U0LEAD1") is None  # another key opens nothing
    assert await codes.use("U0LEAD1", 5)
    assert not await codes.use("U0LEAD1", 5)  # once
    assert not await codes.use("U0LEAD1", 4)  # nor an earlier one
    with pytest.raises(ConfigError, match="habot approver new-key"):
        SealedCodes(TotpStore(engine), "not-a-key")
    engine.dispose()


# -- the service ---------------------------------------------------------------------------


@pytest.fixture
async def coded(stepped: World, memory: Stores) -> World:
    """make-standalone needs the typed name and an authenticator code; U0LEAD1 and
    U0LEAD2 are enrolled."""
    world = stepped
    operations = dict(world.settings.approval.operations)
    operations["make-standalone"] = operations["make-standalone"].model_copy(update={"totp": True})
    approval = world.settings.approval.model_copy(update={"operations": operations})
    world.settings = world.settings.model_copy(update={"approval": approval})
    codes = SealedCodes(memory.totp, KEY)
    world.secrets = {}  # type: ignore[attr-defined]
    for user in (LEAD.user, LEAD2.user):
        world.secrets[user] = new_secret()  # type: ignore[attr-defined]
        await codes.enrol(user, world.secrets[user], world.clock())  # type: ignore[attr-defined]
    world.service = world.with_service(settings=world.settings, codes=codes)
    return world


async def test_a_wrong_or_replayed_code_approves_nothing(coded: World) -> None:
    """A wrong or replayed code approves nothing, saying why."""
    world = coded
    secrets: dict[str, str] = world.secrets  # type: ignore[attr-defined]
    await world.ask("make-standalone prod secondary")
    rid = world.request_id()
    wrong = "000000" if code_at(secrets[LEAD.user], world.clock()) != "000000" else "111111"
    said = plain((await world.service.approve(LEAD, rid, "prod", wrong)).parts)
    assert "not the current one" in said
    good = code_at(secrets[LEAD.user], world.clock())
    assert "1 more needed" in plain((await world.service.approve(LEAD, rid, "prod", good)).parts)
    [approved] = [r.event for r in await world.records() if r.event.kind == "approved"]
    assert approved.detail == {"request": rid, "confirm": "type-pair-name", "totp": True,
                               "approvals": 1}  # fmt: skip
    assert good not in json.dumps([r.event.detail for r in await world.records()])
    await world.service.cancel(LEAD, rid)
    await world.ask("make-standalone prod secondary")
    again = plain((await world.service.approve(LEAD, world.request_id(), "prod", good)).parts)
    assert "already used" in again


# -- the command line and the bot ----------------------------------------------------------


async def test_the_cli_enrols_an_approver_once_and_says_what_a_key_is(
    sim: Simulator, tmp_path: Path
) -> None:
    """The CLI makes a key, enrols an approver once, and says what a key is for."""
    config = tmp_path / "habot.toml"
    db = tmp_path / "enrol.db"
    config.write_text(sim.kit.config_path.read_text().replace(
        f"sqlite:///{sim.kit.database_path}", f"sqlite:///{db}"))  # fmt: skip
    key = await run_habot("approver", "new-key")
    assert key.code == 0
    Fernet(key.out.strip().encode())  # a key Fernet takes
    missing = await run_habot("--config", str(config), "approver", "enrol", "U0LEAD1")
    assert missing.code != 0
    assert "habot approver new-key" in missing.err
    bad = await run_habot("--config", str(config), "approver", "enrol", "lead; rm -rf /")
    assert bad.code == 2
    env = {"HABOT_TOTP_KEY": KEY}
    ran = await run_habot("--config", str(config), "approver", "enrol", "U0LEAD1", env=env)
    assert ran.code == 0, ran.err
    uri = ran.out.strip()
    assert uri.startswith("otpauth://totp/habot:U0LEAD1?")
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    engine = make_engine(f"sqlite:///{db}")
    assert await SealedCodes(TotpStore(engine), KEY).enrolled("U0LEAD1") == (secret, None)
    engine.dispose()


async def test_the_bot_runs_a_coded_approval_once_and_refuses_a_wrong_code(
    sim: Simulator, fake: FakeSlack, tmp_path: Path
) -> None:
    """`habot run` with totp on make-standalone: the approver, enrolled on the command
    line, gives the pair's name and a wrong code — refused, nothing runs; the current
    code — it runs; the same code again, on another request — refused as used."""
    extra = STEP_UP + "[approval.operations.make-standalone]\ntotp = true\n"
    env = {"HABOT_TOTP_KEY": KEY}
    bot = await start_bot(sim, fake, tmp_path, http=True, extra=extra, env=env)
    try:
        enrolled = await run_habot("approver", "enrol", LEAD_USER, env={**bot.env(), **env})
        assert enrolled.code == 0, enrolled.err
        secret = parse_qs(urlsplit(enrolled.out.strip()).query)["secret"][0]
        await ask(bot, fake, "make-standalone dr secondary")
        card = cards(fake)[-1]
        form = await opened_form(bot, fake, card, "approve_request", LEAD_USER)
        assert "code" in json.dumps(form["blocks"])
        now = datetime.now(UTC)
        wrong = "000000" if code_at(secret, now) != "000000" else "111111"
        said = await send_form(bot, fake, form, LEAD_USER, {"pair_name": "dr", "code": wrong})
        assert "not the current one" in said
        assert runs(sim, "dr") == []
        form = await opened_form(bot, fake, card, "approve_request", LEAD_USER)
        good = code_at(secret, datetime.now(UTC))
        said = await send_form(bot, fake, form, LEAD_USER, {"pair_name": "dr", "code": good})
        assert "running" in said
        await outcome_told(fake, "make-standalone", "dr")
        assert runs(sim, "dr") == [["secondary", "ha-make-standalone"]]
        await ask(bot, fake, "make-standalone prod secondary")  # the same code, replayed
        assert "authenticator app" in json.dumps(cards(fake)[-1]["blocks"])
        form = await opened_form(bot, fake, cards(fake)[-1], "approve_request", LEAD_USER)
        said = await send_form(bot, fake, form, LEAD_USER, {"pair_name": "prod", "code": good})
        assert "already used" in said
        assert runs(sim, "prod") == []
    finally:
        await bot.stop()
