"""A real OpenSSH sshd on 127.0.0.1 serving fake ha-* commands (a test helper)."""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

from habot.core.addresses import NodeAddress

BAU_STATUS = """\
Primary:    Active     10.30.0.11   - this host
Secondary:  Standby    10.30.0.12
Floating IP: 10.30.0.10
High Availability status: OK
SMB share: 40% used
"""

# Each fake command reads $DIR/mode to choose a behaviour, so only catalogue names are used.
HA_STATUS = """\
#!/bin/sh
case "$(cat "$DIR/mode")" in
  flood) head -c 3000000 /dev/zero | tr '\\0' 'x' ;;
  endless) exec yes "$(head -c 8000 /dev/zero | tr '\\0' 'x')" ;;
  slow) sleep 30 ;;
  die) printf 'Primary: Act'
       pid=$$
       while [ "$pid" -gt 1 ]; do
         pid=$(cut -d' ' -f4 "/proc/$pid/stat")
         case "$(cat "/proc/$pid/comm")" in sshd*) kill -9 "$pid"; break ;; esac
       done
       sleep 5 ;;
  *) cat "$DIR/status.txt" ;;
esac
"""
HA_FAILOVER = """\
#!/bin/sh
echo "ran" >> "$DIR/failover.runs"
echo "This will promote the Secondary server."
case "$(cat "$DIR/mode")" in
  password) printf 'Password: '; read -r pw; echo "got it"; exit 0 ;;
  twice) printf 'Continue? [y/N] '; read -r a; printf 'Really sure? [y/N] '; read -r b ;
         echo "$a$b" > "$DIR/failover.answers"; exit 0 ;;
  *) printf 'Do you want to continue? [y/N] '; read -r answer || answer="<eof>" ;
     echo "$answer" > "$DIR/failover.answers" ;
     if [ "$answer" = "y" ]; then echo "Failover complete."; exit 0; fi ;
     echo "Aborted."; exit 1 ;;
esac
"""

# The appliance's interactive HA console, as a ForceCommand: a login without a command gets
# a banner listing $DIR/offered, a coloured prompt (or $DIR/prompt), one command per line;
# an exec request is refused. $DIR/mode picks a behaviour, as for the commands above.
CONSOLE = r"""#!/bin/sh
if [ -n "$SSH_ORIGINAL_COMMAND" ]; then
  echo "This server offers its HA console only: log in without a command."; exit 1
fi
mode=$(cat "$DIR/mode")
if [ "$mode" = noprompt ]; then
  printf 'Osirium PAM\nStarting the HA console...'; sleep 60; exit 0
fi
prompt() {
  if [ -f "$DIR/prompt" ]; then cat "$DIR/prompt"; else printf '\033[1;32mpam-lab>\033[0m '; fi
}
printf '\033]0;pam-lab\007Osirium PAM (test console) - High Availability\n'
if [ "$mode" = colonpause ]; then printf 'Loading the HA tools:'; sleep 1; printf ' done\n'; fi
printf 'Commands available on this server:\n'
while read -r offered; do printf '  %s\n' "$offered"; done < "$DIR/offered"
printf '\n'
prompt
while IFS= read -r line; do
  case "$line" in
    "") ;;
    exit|logout) exit 0 ;;
    *) if ! grep -qxF -- "$line" "$DIR/offered"; then
         case "$line" in
           ha-*) echo "$line: not available on this server" ;;
           *) echo "$line: command not found" ;;
         esac
       else
         case "$line:$mode" in
           ha-status:flood) head -c 300000 /dev/zero | tr '\0' 'x'; echo ;;
           ha-status:*) cat "$DIR/status.txt" ;;
           ha-failover:twice) printf 'Continue? [y/N] '; read -r a; printf 'Really sure? [y/N] '
                              read -r b; echo "$a$b" > "$DIR/failover.answers" ;;
           ha-failover:password) printf 'Password: '; read -r pw; echo "got it" ;;
           ha-failover:*) echo "This will promote the Secondary server."
                          printf 'Do you want to continue? [y/N] '; read -r answer
                          echo "$answer" >> "$DIR/failover.answers"
                          printf '\033[32mFailover complete.\033[0m\n' ;;
           ha-initialise:scatter*)
             printf 'Enter the joining code created on the Secondary server: '
             read -r code; echo "$code" > "$DIR/initialise.code"; esc=$(printf '\033')
             printf '%s\n' "$code" | sed "s/./&${esc}[0K/g"
             printf 'Joining with %s\n' "$code" | tr 'A-Z' 'a-z' | sed 's/-/ - /g'
             printf 'Do you want to continue? [y/N] '; read -r answer
             if [ "$mode" = scatterask ]; then
               printf 'Is %s right? [y/N] ' "$code" | sed "s/[0-9]/&${esc}[0K/g"; read -r again
             fi
             echo "Initialised." ;;
           ha-initialise:*) printf 'Enter the joining code created on the Secondary server: '
                            read -r code; echo "$code" > "$DIR/initialise.code"
                            printf 'Do you want to continue? [y/N] '; read -r answer
                            echo "Initialised with the joining code $code." ;;
         esac
       fi ;;
  esac
  prompt
done
"""
OFFERED = ("ha-status", "ha-failover", "ha-initialise")


@dataclass
class Sshd:
    """A running sshd and the files that drive it."""

    dir: Path
    address: NodeAddress
    client_key: Path
    known_hosts: Path
    username: str
    process: subprocess.Popen[bytes]

    def mode(self, mode: str) -> None:
        """Choose how the fake commands behave."""
        (self.dir / "mode").write_text(mode)

    def read(self, name: str) -> str:
        """A file a fake command wrote ("" if it did not)."""
        path = self.dir / name
        return path.read_text() if path.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def _write_exec(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def prepare(
    base: Path, sshd_binary: str, passwords: bool = False, console: bool = False
) -> tuple[list[str], Sshd]:
    """Write keys, fake commands and sshd_config; return the sshd argv and the handle.
    With ``passwords`` sshd also takes password logins (for local accounts) and logs each
    attempt to ``base/sshd.log``; with ``console`` a login gets the interactive console
    (and exec requests are refused)."""
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    bindir = base / "bin"
    bindir.mkdir()
    _write_exec(bindir / "ha-status", HA_STATUS)
    _write_exec(bindir / "ha-failover", HA_FAILOVER)
    _write_exec(
        base / "dispatch",
        f"#!/bin/sh\nDIR={base}\nexport DIR\nPATH={bindir}:/usr/bin:/bin\nexport PATH\n"
        'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n',
    )
    if console:
        _write_exec(base / "dispatch", f"#!/bin/sh\nDIR={base}\nexport DIR\n" + CONSOLE)
        (base / "offered").write_text("".join(f"{name}\n" for name in OFFERED))
    (base / "status.txt").write_text(BAU_STATUS)
    (base / "mode").write_text("normal")
    _keygen(base / "host_key")
    _keygen(base / "client_key")
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    port = _free_port()
    host_pub = (base / "host_key.pub").read_text().split()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    (base / "sshd_config").write_text(
        textwrap.dedent(
            f"""\
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {base}/host_key
            PidFile {base}/sshd.pid
            AuthorizedKeysFile {base}/authorized_keys
            PubkeyAuthentication yes
            PasswordAuthentication {"yes" if passwords else "no"}
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PermitRootLogin prohibit-password
            ForceCommand {base}/dispatch
            LogLevel {"VERBOSE" if passwords else "ERROR"}
            """
        )
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    logging = ["-E", str(base / "sshd.log")] if passwords else ["-e"]
    argv = [sshd_binary, "-D", *logging, "-f", str(base / "sshd_config")]
    handle = Sshd(
        base,
        NodeAddress("127.0.0.1", port),
        base / "client_key",
        base / "known_hosts",
        getpass.getuser(),
        process=None,  # type: ignore[arg-type]
    )
    return argv, handle


async def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until sshd accepts connections (or fail with its own words)."""
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(
                f"sshd exited: {process.stderr.read().decode() if process.stderr else ''}"
            )
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("sshd did not start listening within 5 s")
