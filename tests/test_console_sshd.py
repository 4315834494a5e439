"""The console transport against a real OpenSSH sshd whose ForceCommand behaves as the
appliance's interactive HA console (a PTY, a banner, a coloured prompt, the terminal's own
echo): what comes back is the command's output and nothing else, the y/N is answered
once, any other question is refused, a console without a prompt is a clear error."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from habot.config import parse_settings
from habot.core.catalogue import HaCommand, ha_command
from habot.core.console import clean
from habot.core.model import Role
from habot.core.status_parser import parse_status
from habot.errors import CommandTimedOut, ConsoleNotReady, UnexpectedPrompt
from habot.sim.appliance import Layout, PairSim
from habot.ssh.executor import NodeLogin, SshExecutor
from tests.kit.factories import FAST_SSH
from tests.kit.sshd import OFFERED, Sshd

STATUS = ha_command(HaCommand.STATUS)
FAILOVER = ha_command(HaCommand.FAILOVER)
INITIALISE = ha_command(HaCommand.INITIALISE)


@pytest.fixture
def console(console_sshd: Sshd) -> Sshd:
    """sshd offering only the console (see conftest's console_sshd)."""
    return console_sshd


def executor(
    sshd: Sshd,
    prompt: str | None = None,
    console: bool = True,
    login: dict[str, str] | None = None,
    **ssh: object,
) -> SshExecutor:
    """An executor that types at the sshd's console (or, with ``console`` False, execs);
    ``ssh`` overrides [ssh] settings."""
    settings = parse_settings(
        {
            "ssh": {
                "username": sshd.username,
                "client_keys": [str(sshd.client_key)],
                "known_hosts": str(sshd.known_hosts),
                **FAST_SSH,
                **ssh,
            },
            "pairs": [{"name": "lab", "primary": str(sshd.address), "secondary": "127.0.0.1:1"}],
        }
    )
    how = NodeLogin(sshd.username, None, console=console, prompt=prompt, **(login or {}))
    return SshExecutor(settings.ssh, None, {sshd.address: how})


@pytest.mark.parametrize("layout", list(Layout))
async def test_status_comes_back_bare_in_every_layout(console: Sshd, layout: Layout) -> None:
    """No echoed command, no prompt, no colour codes, no carriage returns: exactly what
    ha-status printed, parsed as on an exec pair; the banner's list is the node's offer."""
    text = PairSim("lab", "10.1.0.11", "10.1.0.12", "10.1.0.10", layout=layout).status_text(
        Role.PRIMARY
    )
    (console.dir / "status.txt").write_text(text)
    async with executor(console) as ex:
        result = await ex.run(console.address, STATUS)
    assert result.output == text.strip("\n")
    assert result.ok
    assert result.exit_status is None  # a console has none
    assert result.offered == frozenset(OFFERED)
    report = parse_status(result.output)
    assert report.parsed
    assert report.this_host is Role.PRIMARY


async def test_the_confirmation_is_answered_once_and_the_reply_ends_at_the_prompt(
    console: Sshd,
) -> None:
    """y is typed once; the reply is the command's words, its question and the answer —
    the closing prompt is not in it; the console session is logged out afterwards."""
    async with executor(console) as ex:
        result = await ex.run(console.address, FAILOVER, answer_prompt=True)
    assert console.read("failover.answers") == "y\n"
    assert result.prompt_answered
    assert result.ok
    assert result.output == (
        "This will promote the Secondary server.\n"
        "Do you want to continue? [y/N] y\n"
        "Failover complete."
    )


async def test_progress_streams_the_reply_without_the_echo_or_the_prompt(console: Sshd) -> None:
    """What the card's thread shows while it runs is the reply itself: the console's echo
    of the typed command and the prompt it comes back to are left out, as in the output."""
    streamed: list[str] = []
    async with executor(console) as ex:
        result = await ex.run(
            console.address, FAILOVER, answer_prompt=True, on_output=streamed.append
        )
    assert "".join(streamed).strip() == result.output
    assert not any(FAILOVER.line in chunk for chunk in streamed)
    assert not any(chunk.rstrip().endswith(">") for chunk in streamed)


async def test_a_second_question_after_the_confirmation_is_refused(console: Sshd) -> None:
    """The agreed y/N once; another one aborts, flagged as past the point of no return."""
    console.mode("twice")
    async with executor(console) as ex:
        with pytest.raises(UnexpectedPrompt) as info:
            await ex.run(console.address, FAILOVER, answer_prompt=True)
    assert info.value.confirmed
    assert "Really sure? [y/N]" in info.value.detail


async def test_a_pairs_own_confirmation_and_refusal_words_are_the_ones_used(
    console: Sshd,
) -> None:
    """With the pair's own confirmation pattern, the console's "Do you want to continue?
    [y/N]" is answered only when the pattern names it; a pattern naming another question
    leaves it unanswered and aborts. The pair's refusal words decide what a refusal is."""
    named = {"confirmation": r"do you want to continue\? \[y/N\] ?$"}
    async with executor(console, login=named) as ex:
        result = await ex.run(console.address, FAILOVER, answer_prompt=True)
    assert result.prompt_answered
    other = {"confirmation": r"type PROCEED:\s*$"}
    async with executor(console, login=other) as ex:
        with pytest.raises(UnexpectedPrompt):
            await ex.run(console.address, FAILOVER, answer_prompt=True)
    assert console.read("failover.answers").split() == ["y"]  # the second was never answered
    words = {"refusal": r"\bpromote\b"}
    async with executor(console, login=words) as ex:
        refused = await ex.run(console.address, FAILOVER, answer_prompt=True)
    assert refused.refusal == "This will promote the Secondary server."


async def test_an_unknown_question_is_refused_and_never_answered(console: Sshd) -> None:
    """A "Password:" question habot was not told about aborts the command."""
    console.mode("password")
    async with executor(console) as ex:
        with pytest.raises(UnexpectedPrompt) as info:
            await ex.run(console.address, FAILOVER, answer_prompt=True)
    assert not info.value.confirmed
    assert "Password:" in info.value.detail


async def test_a_status_read_answers_no_question(console: Sshd) -> None:
    """A read-only command that asks y/N is refused at once (nothing may be answered)."""
    async with executor(console) as ex:
        with pytest.raises(UnexpectedPrompt):
            await ex.run(console.address, FAILOVER)
    assert console.read("failover.answers") == ""


async def test_a_command_the_console_refuses_is_a_failure_with_its_words(console: Sshd) -> None:
    """No exit status, so the console's "not available" is the failure, quoted."""
    async with executor(console) as ex:
        result = await ex.run(console.address, ha_command(HaCommand.FAILBACK), answer_prompt=True)
    assert not result.ok
    assert result.failure == "the console answered 'ha-failback: not available on this server'"


async def test_a_console_that_never_prompts_is_a_clear_error(console: Sshd) -> None:
    """Within connect_timeout, naming the last line seen and the `prompt` setting."""
    console.mode("noprompt")
    async with executor(console) as ex:
        with pytest.raises(ConsoleNotReady) as info:
            await ex.run(console.address, STATUS)
    assert "no prompt within 3s" in info.value.detail
    assert "'Starting the HA console...'" in info.value.detail
    assert "`prompt`" in info.value.detail


async def test_output_over_the_cap_is_cut_and_the_console_still_closed(console: Sshd) -> None:
    """300,000 characters against a 65,536 cap: head and tail with a marker, no prompt."""
    console.mode("flood")
    cap = 65_536
    async with executor(console, max_output_chars=cap) as ex:
        result = await ex.run(console.address, STATUS)
    assert result.truncated
    assert f"[… output over {cap} characters truncated …]" in result.output
    assert len(result.output) < cap + 5000
    assert result.output.endswith("x")


async def test_a_joining_code_echoed_by_the_terminal_shows_nowhere(console: Sshd) -> None:
    """The PTY echoes what habot types: the code reaches the console, yet neither the
    output nor any streamed chunk holds it (nor any part of it split across chunks)."""
    code = "7F3A-91BC-22D0-E4A5"
    streamed: list[str] = []
    async with executor(console) as ex:
        result = await ex.run(
            console.address,
            INITIALISE,
            answer_prompt=True,
            joining_code=code,
            on_output=streamed.append,
        )
    assert console.read("initialise.code") == code + "\n"
    assert code not in result.output
    assert code not in "".join(streamed)
    assert "Initialised with the joining code [joining code]." in result.output


def letters_and_digits(text: str) -> str:
    """What a reader makes of text: its letters and digits, case folded."""
    return re.sub(r"[^0-9a-z]", "", clean(text).lower())


async def test_a_joining_code_scattered_by_control_codes_shows_nowhere(console: Sshd) -> None:
    """The console echoes the code with an erase sequence between its characters, then in
    lower case with spaced dashes: cleaning for a reader would join the first back into
    the code, yet neither the streamed progress nor the output holds it in any form."""
    code = "7F3A-91BC-22D0-E4A5"
    console.mode("scatter")
    streamed: list[str] = []
    async with executor(console) as ex:
        result = await ex.run(
            console.address, INITIALISE, answer_prompt=True, joining_code=code,
            on_output=streamed.append,
        )  # fmt: skip
    assert console.read("initialise.code") == code + "\n"
    folded = letters_and_digits(code)
    assert folded not in letters_and_digits("".join(streamed))
    assert folded not in letters_and_digits(result.output)
    assert "joining with [joining code]" in result.output
    assert "Initialised." in result.output


async def test_a_question_quoting_the_joining_code_is_refused_without_it(console: Sshd) -> None:
    """A second question after the confirmation quotes the code (scattered): habot refuses
    it, and the refusal quotes the question with the code hidden."""
    code = "7F3A-91BC-22D0-E4A5"
    console.mode("scatterask")
    async with executor(console) as ex:
        with pytest.raises(UnexpectedPrompt) as info:
            await ex.run(console.address, INITIALISE, answer_prompt=True, joining_code=code)
    assert "a second question after the confirmation" in info.value.detail
    assert "Is [joining code] right? [y/N]" in info.value.detail
    assert letters_and_digits(code) not in letters_and_digits(info.value.detail)


async def test_a_banner_line_taken_for_the_prompt_points_at_the_prompt_setting(
    console: Sshd,
) -> None:
    """A banner line ending in ':' and then a pause looks like a prompt, so habot learns it;
    the reply then ends on the console's real prompt, which habot refuses as a question —
    saying which prompt it learned and to set the pair's `prompt` pattern."""
    console.mode("colonpause")
    async with executor(console) as ex:
        with pytest.raises(UnexpectedPrompt) as info:
            await ex.run(console.address, STATUS)
    said = str(info.value)
    assert "'pam-lab>' looks like the console's prompt, not the one habot learned" in said
    assert "('Loading the HA tools:', perhaps a banner line)" in said
    assert "set the pair's `prompt` pattern" in said


async def test_a_reply_that_never_ends_on_the_learned_prompt_points_at_the_setting(
    console: Sshd,
) -> None:
    """The same banner line learned as the prompt, and a real prompt no default pattern
    knows ("pam% "): the reply never ends, and its time-out names the learned prompt and
    the pair's `prompt` setting."""
    console.mode("colonpause")
    (console.dir / "prompt").write_text("pam% ")
    async with executor(console) as ex:
        with pytest.raises(CommandTimedOut) as info:
            await ex.run(console.address, STATUS, time_limit=timedelta(seconds=2))
    said = str(info.value)
    assert "did not finish within 2s (the console's reply never ended on the prompt" in said
    assert "'Loading the HA tools:'" in said
    assert "set the pair's `prompt` pattern" in said


async def test_a_pairs_own_prompt_pattern_replaces_the_default(console: Sshd) -> None:
    """A prompt the default does not know ("ops%") works when the pair names it; without
    it, the console is reported as never prompting."""
    (console.dir / "prompt").write_text("[ops] ready% ")
    async with executor(console, prompt=r"\[ops\] ready% ") as ex:
        result = await ex.run(console.address, STATUS)
    assert "High Availability status: OK" in result.output
    assert "ready%" not in result.output
    async with executor(console) as ex:
        with pytest.raises(ConsoleNotReady, match="ready%"):
            await ex.run(console.address, STATUS)


async def test_exec_on_a_console_only_node_is_refused(console: Sshd) -> None:
    """Configured as exec, such a node answers with its refusal and exit status 1."""
    async with executor(console, console=False) as ex:
        result = await ex.run(console.address, STATUS)
    assert result.exit_status == 1
    assert "offers its HA console only" in result.output
