"""Two writers into one lane: an operation's progress reply (posted as the node's first
output arrives) still being written while the run writes the rest. Whichever commits
first, the card's thread must read in the order the node printed — it once showed "Do
you want to continue? … Failover complete" above "This will hand operations over…"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from habot.sim.simulator import Simulator
from tests.kit.fakeslack import FakeSlack
from tests.kit.slack import CONFIG, LEAD, ask, cards, click, direct_messages, runs, started
from tests.reliability.conftest import Ledger, Row

#: Operations back to back on prod (switchover, then failback, …): one second of cooldown.
QUICK = CONFIG.replace('cooldown = "10m"', 'cooldown = "1s"')
ROUNDS = 8
#: What the node prints, in its order, for either operation.
ORDER = ("This will", "Do you want to continue", "complete")


def outcomes(fake: FakeSlack) -> list[str]:
    """The requester's direct messages saying how an operation ended, in order."""
    said = (str(c.args.get("text", "")) for c in direct_messages(fake) if not c.failed)
    return [text for text in said if text.startswith("Your `")]


def thread_text(fake: FakeSlack, ts: str) -> str:
    """The card's thread as Slack holds it: its replies' text, in the order accepted."""
    replies = [
        str(c.args.get("text", ""))
        for c in fake.calls_to("chat.postMessage")
        if c.args.get("thread_ts") == ts and not c.failed
    ]
    return "\n".join(replies)


async def test_a_cards_thread_reads_in_the_order_the_node_printed(
    sim: Simulator, fake: FakeSlack, tmp_path: Path, ledger: Ledger
) -> None:
    """Eight operations in a row, each with its first progress reply racing the run's own
    replies into the pair's lane: every thread reads explanation, question, outcome."""
    row = ledger.add(Row("progress reply racing the run's replies (8 operations)",
                         "thread in the node's order"))  # fmt: skip
    bot = await started(sim, fake, tmp_path, extra=QUICK)
    try:
        for n in range(ROUNDS):
            operation = "switchover" if n % 2 == 0 else "failback"
            before = len(runs(sim))
            await ask(bot, fake, f"{operation} prod")
            card = cards(fake)[-1]
            [posted] = [c for c in fake.calls_to("chat.postMessage") if c.args is card]
            await click(bot, fake, card, "approve_request", LEAD)
            told = await fake.wait_for(lambda k=n: outcomes(fake)[k:])
            assert told[0].startswith(f"Your `{operation}` on prod: succeeded"), told
            row.injected += 1
            row.operations += len(runs(sim)) - before
            text = await fake.wait_for(
                lambda ts=str(posted.ts): (t := thread_text(fake, ts)) and ORDER[-1] in t and t
            )
            places = [text.find(words) for words in ORDER]
            assert -1 not in places, text
            assert places == sorted(places), f"round {n}: the thread is out of order:\n{text}"
            await asyncio.sleep(1.1)  # the cooldown
    finally:
        await bot.stop()
    assert len(runs(sim)) == ROUNDS
    row.duplicated = len(runs(sim)) - ROUNDS
