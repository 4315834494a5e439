"""`habot check`'s paging part: does each paging tool turned on have its key (and the on-call
lookup work) — and, with ``--page-test``, does it take a test page (triggered, then resolved
at once)?"""

from __future__ import annotations

from datetime import UTC, datetime

from habot.config import Settings
from habot.core.outbox import MessageKind
from habot.core.paging import PageAction, Pager, test_page
from habot.pager.http import PageSender, configured_sender
from habot.pager.oncall import PagerDutyOnCall
from habot.secrets import PAGER_KEYS, PAGERDUTY_API_TOKEN, Secrets
from habot.slack.check import SlackCheck

#: PagerDuty's integration keys are 32 characters (its Events API refuses any other).
ROUTING_KEY_LENGTH = 32


async def check_paging(settings: Settings, secrets: Secrets, page_test: bool) -> list[SlackCheck]:
    """One check per paging tool turned on (its key), and its test page when asked."""
    checks = []
    sender = configured_sender(settings, secrets)
    try:
        for pager in settings.paging.pagers:
            key = _key(pager, secrets)
            checks.append(key)
            if page_test and key.ok:
                checks.append(await _test(sender, pager))
    finally:
        await sender.close()
    if settings.paging.oncall_schedules:
        checks.append(await _oncall(settings, secrets))
    return checks


async def _oncall(settings: Settings, secrets: Secrets) -> SlackCheck:
    """One on-call lookup (people counted, not matched to Slack users); never the token."""
    step = "PagerDuty on-call lookup"
    name = PAGERDUTY_API_TOKEN
    if not secrets.get(name):
        return SlackCheck(step, False, f"no REST token: put it in the keyring entry "
                          f"{name.keyring_name!r} (service habot) or {name.env_var}")  # fmt: skip

    async def themselves(email: str) -> str:
        return email

    lookup = PagerDutyOnCall(
        api_url=settings.paging.pagerduty_api_url,
        schedules=settings.paging.oncall_schedules,
        token=lambda: secrets.get(name),
        slack_user=themselves,
    )
    answer = await lookup.now()
    if answer.failure:
        return SlackCheck(step, False, answer.failure)
    schedules = ", ".join(settings.paging.oncall_schedules)
    return SlackCheck(step, True, f"{len(answer.users)} on call now in {schedules}")


def _key(pager: Pager, secrets: Secrets) -> SlackCheck:
    name = PAGER_KEYS[pager.value]
    step = f"{pager.label} key"
    where = f"keyring entry {name.keyring_name!r} (service habot) or {name.env_var}"
    key = secrets.get(name)
    if not key:
        return SlackCheck(step, False, f"not set: put it in the {where}; pages are set aside")
    if pager is Pager.PAGERDUTY and len(key) != ROUTING_KEY_LENGTH:
        return SlackCheck(step, False, f"{len(key)} characters, not {ROUTING_KEY_LENGTH}: "
                          f"the {where} should hold an Events API v2 integration key")  # fmt: skip
    return SlackCheck(step, True, f"set ({where})")


async def _test(sender: PageSender, pager: Pager) -> SlackCheck:
    """A test page, resolved straight away; the key is never shown."""
    now = datetime.now(UTC)
    step = f"{pager.label} test page"
    for action in (PageAction.TRIGGER, PageAction.RESOLVE):
        page = test_page(now, action)
        attempt = await sender.send(MessageKind.PAGE, pager.value, page.payload())
        if not attempt.ok:
            return SlackCheck(step, False, f"{pager.label} did not take the {action}: "
                              f"{attempt.error}")  # fmt: skip
    return SlackCheck(
        step, True, f"triggered and resolved {test_page(now, PageAction.TRIGGER).key}"
    )
