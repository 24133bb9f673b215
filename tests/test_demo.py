"""`datamirror demo`, run as README says: it mirrors the sample source, serves it, and every
command it tells the user to try works exactly as printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.net import free_port

pytestmark = pytest.mark.slow

TRY = re.compile(r"^Try:\n(?P<lines>(?:  .+\n)+)", re.MULTILINE)


def read_until(proc: subprocess.Popen[str], marker: str, limit: float = 240) -> str:
    """What the demo printed up to the line holding `marker` (it runs on meanwhile)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"the demo never printed {marker!r}:\n{''.join(seen)[-3000:]}")


def test_every_command_the_demo_prints_works_as_printed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMIRROR_")}
    env["PYTHONUNBUFFERED"] = "1"
    script = Path(sys.executable).parent / "datamirror"
    port = free_port()
    demo = subprocess.Popen(
        [str(script), "demo", "--port", str(port)], cwd=tmp_path, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        printed = read_until(demo, "Press Ctrl-C")
        tried = TRY.search(printed)
        assert tried, printed
        commands = [line.strip() for line in tried.group("lines").splitlines()]
        assert any(c.endswith("releases demo") for c in commands)
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", f"set -o pipefail; {command}"], cwd=tmp_path, env=env,
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 0, (command, done.stdout[-500:], done.stderr[-500:])
            assert done.stdout.strip(), command
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        finally:
            if demo.poll() is None:
                demo.kill()
                demo.wait()
            if demo.stdout is not None:
                demo.stdout.close()
    assert (tmp_path / "datamirror-data" / "catalog.db").exists()
