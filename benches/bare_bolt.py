"""The ack-latency baseline: a bare slack_bolt AsyncApp that only acks `/ha` (HTTP mode).

Run: python benches/bare_bolt.py PORT API_URL (the signing secret and bot token are the
test suite's, from tests/botproc.py; the API URL is the fake Slack's)."""

from __future__ import annotations

import sys
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-1111-2222-testtoken"


def main() -> None:
    port, api_url = int(sys.argv[1]), sys.argv[2]
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(BOT_TOKEN, base_url=api_url))

    @app.command("/ha")
    async def only_ack(ack: Any) -> None:
        await ack()

    app.start(port=port, host="127.0.0.1")


if __name__ == "__main__":
    main()
