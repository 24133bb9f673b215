"""An S3 endpoint on loopback: `rclone serve s3` over a local folder (buckets are its
subfolders), anonymous, so every client can use it and outputs can be read back as files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import LOOPBACK, free_port, server

BUCKET = "bench"
KEY_ID = "bench"
SECRET = "bench"


@dataclass(frozen=True, slots=True)
class S3Endpoint:
    url: str
    backing: Path
    pid: int = 0

    def rclone_remote(self, path: str) -> str:
        """An rclone on-the-fly remote for `BUCKET/path` on this endpoint."""
        return (
            f":s3,provider=Rclone,endpoint='{self.url}',access_key_id={KEY_ID},"
            f"secret_access_key={SECRET},region=us-east-1:{BUCKET}/{path}"
        )

    def local(self, path: str) -> Path:
        return self.backing / BUCKET / path


@contextlib.contextmanager
def rclone_s3(rclone: str, backing: Path, log: Path) -> Iterator[S3Endpoint]:
    backing = backing.resolve()
    (backing / BUCKET).mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        rclone,
        "serve",
        "s3",
        str(backing),
        "--addr",
        f"{LOOPBACK}:{port}",
        "--vfs-cache-mode",
        "off",
    ]
    with server(argv, ready_url=url + "/", log=log) as proc:
        yield S3Endpoint(url=url, backing=backing, pid=proc.pid)
