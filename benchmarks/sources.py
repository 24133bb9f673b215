"""Loopback HTTP sources served by nginx, in two profiles.

- "remote": every request waits 20 ms (echo module) and each connection is capped at
  20 MiB/s, like a far archive (EBI, NCBI) seen from a cluster.
- "loopback": unthrottled, sendfile on: the fastest a local HTTP source can be, and the
  nginx peer of the serve workloads.

Both list folders with `autoindex on` and exact sizes, so datamirror and rclone's http
backend can walk them.
"""

from __future__ import annotations

import contextlib
import os
import pwd
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import LOOPBACK, free_port, server

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
REMOTE_DELAY_S = 0.02
REMOTE_RATE = "20m"


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    delay_s: float
    rate: str | None


REMOTE = Profile("remote", REMOTE_DELAY_S, REMOTE_RATE)
LOOPBACK_PROFILE = Profile("loopback", 0.0, None)


@dataclass(frozen=True, slots=True)
class Source:
    profile: Profile
    root: Path
    port: int
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def url_of(self, rel: str) -> str:
        return self.url + rel.lstrip("/")


def _static_block(root: Path, rate: str | None) -> str:
    limit = f"limit_rate {rate};" if rate else ""
    return f"""root {root};
            autoindex on;
            autoindex_exact_size on;
            sendfile on;
            {limit}"""


def nginx_conf(profile: Profile, root: Path, port: int, run_dir: Path) -> str:
    """The whole nginx.conf for one profile (its own pid, logs and temp paths)."""
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    static = _static_block(root, profile.rate)
    if profile.delay_s:
        module = f"load_module {ECHO_MODULE};"
        locations = f"""location / {{
            echo_sleep {profile.delay_s};
            echo_exec @static;
        }}
        location @static {{
            {static}
        }}"""
    else:
        module = ""
        locations = f"location / {{\n            {static}\n        }}"
    temp = "\n    ".join(
        f"{kind}_temp_path {run_dir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{module}
{user}
daemon off;
worker_processes 2;
pid {run_dir / "nginx.pid"};
error_log {run_dir / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 100000;
    default_type application/octet-stream;
    {temp}
    server {{
        listen {LOOPBACK}:{port};
        {locations}
    }}
}}
"""


@contextlib.contextmanager
def nginx_source(nginx: str, profile: Profile, root: Path, run_dir: Path) -> Iterator[Source]:
    """Serve `root` with nginx in `profile` for the duration of the block."""
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_conf(profile, root.resolve(), port, run_dir))
    argv = [nginx, "-p", str(run_dir), "-c", str(conf), "-e", str(run_dir / "error.log")]
    with server(argv, ready_url=f"http://{LOOPBACK}:{port}/", log=run_dir / "stdout.log") as proc:
        yield Source(profile=profile, root=root, port=port, pid=proc.pid)
