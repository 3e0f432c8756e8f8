"""Running the real `devon` command in a child process: piped, or under a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

COMMAND = (sys.executable, "-m", "devon_cli")
TIMEOUT_S = 60.0


def cli_env(vault: Path, hub_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `devon` run: its own vault, the test hub, nothing from the user."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEVON_", "HF_", "HUGGING_FACE_")) and key not in ("NO_COLOR",)
    }
    env.update(
        DEVON_STORAGE_PATH=str(vault),
        HF_ENDPOINT=hub_url,
        HF_HOME=str(vault.parent / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        COLUMNS="100",
        **extra,
    )
    return env


@attrs.frozen
class Finished:
    code: int
    stdout: str
    stderr: str


def run_piped(env: Mapping[str, str], *args: str, stdin: str = "") -> Finished:
    """`devon ARGS` with stdin, stdout and stderr all pipes (as in a script or CI)."""
    done = subprocess.run(
        [*COMMAND, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=TIMEOUT_S,
        check=False,
    )
    return Finished(done.returncode, done.stdout, done.stderr)


class Terminal:
    """`devon ARGS` attached to a pseudo-terminal (stdin, stdout and stderr), as at a shell."""

    def __init__(self, env: Mapping[str, str], *args: str, columns: int = 100) -> None:
        self._master, replica = os.openpty()
        fcntl.ioctl(replica, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        self.process = subprocess.Popen(
            [*COMMAND, *args], stdin=replica, stdout=replica, stderr=replica, env=dict(env)
        )
        os.close(replica)
        self.output = ""

    def expect(self, text: str, timeout: float = TIMEOUT_S) -> str:
        """Read until `text` has appeared; the output so far."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if not self._read(deadline - time.monotonic()):
                raise AssertionError(f"{text!r} never appeared; output was:\n{self.output}")
        return self.output

    def send(self, text: str) -> None:
        os.write(self._master, text.encode())

    def finish(self, timeout: float = TIMEOUT_S) -> int:
        """Read everything until the command exits; its exit code."""
        deadline = time.monotonic() + timeout
        while self._read(deadline - time.monotonic()):
            pass
        code = self.process.wait(timeout=max(deadline - time.monotonic(), 1))
        os.close(self._master)
        return code

    def _read(self, timeout: float) -> bool:
        if timeout <= 0:
            return False
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)
