"""The physical limits of this machine, measured in the same run as the workloads: memory
copy, loopback TCP, and the hash rates datamirror's checks cost (xxh3-128, md5, sha256)."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable

import xxhash

from benchmarks.procs import LOOPBACK

MIB = 1024 * 1024
CHUNK = 64 * MIB


def _rate(total_bytes: int, seconds: float) -> float:
    return total_bytes / MIB / seconds


def memory_copy(total: int) -> float:
    """MiB/s copying between two buffers of CHUNK bytes."""
    src = bytearray(CHUNK)
    dst = bytearray(CHUNK)
    view = memoryview(dst)
    rounds = max(1, total // CHUNK)
    start = time.perf_counter()
    for _ in range(rounds):
        view[:] = src
    return _rate(rounds * CHUNK, time.perf_counter() - start)


def hash_rate(make: Callable[[], object], total: int) -> float:
    """MiB/s for one hash over `total` bytes fed in CHUNK blocks (one core)."""
    block = os.urandom(CHUNK)
    digest = make()
    update = digest.update  # type: ignore[attr-defined]
    rounds = max(1, total // CHUNK)
    start = time.perf_counter()
    for _ in range(rounds):
        update(block)
    return _rate(rounds * CHUNK, time.perf_counter() - start)


def loopback_tcp(total: int) -> float:
    """MiB/s through one TCP connection on 127.0.0.1 (sender and receiver threads)."""
    listener = socket.create_server((LOOPBACK, 0))
    port = listener.getsockname()[1]
    payload = bytes(MIB)
    rounds = max(1, total // MIB)

    def send() -> None:
        with socket.create_connection((LOOPBACK, port)) as out:
            for _ in range(rounds):
                out.sendall(payload)

    sender = threading.Thread(target=send, daemon=True)
    start = time.perf_counter()
    sender.start()
    conn, _ = listener.accept()
    received = 0
    buffer = bytearray(MIB)
    with conn, listener:
        while received < rounds * MIB:
            got = conn.recv_into(buffer)
            if got == 0:
                break
            received += got
    sender.join(timeout=60)
    return _rate(received, time.perf_counter() - start)


def measure(total: int) -> dict[str, float]:
    """Every limit, in MiB/s."""
    return {
        "memory_copy": memory_copy(total * 4),
        "loopback_tcp": loopback_tcp(total),
        "xxh3_128": hash_rate(xxhash.xxh3_128, total),
        "md5": hash_rate(hashlib.md5, total),
        "sha256": hash_rate(hashlib.sha256, total),
    }
