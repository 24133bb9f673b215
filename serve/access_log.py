"""The access log in Combined Log Format, cheap per request: each line is one f-string
(the date is formatted once per second), lines are gathered on the event loop and written
in batches, in order, by one thread, so a slow log reader never stalls the loop.

Memory stays bounded: while more than `MAX_PENDING` characters wait for the writer, new
lines are counted and dropped, and the count is logged once the writer catches up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

FLUSH_SECONDS = 0.5
BATCH_CHARS = 64 * 1024
MAX_PENDING = 8 * 1024 * 1024


class LogSink:
    """Lines to `stream`, written by one thread at most `FLUSH_SECONDS` after they came."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lines: list[str] = []
        self._size = 0
        self._pending = 0  # characters handed to the writer and not yet written
        self._pending_lock = threading.Lock()
        self._dropped = 0
        self._timer: asyncio.TimerHandle | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="access-log")

    def add(self, line: str) -> None:
        if self._pending + self._size > MAX_PENDING:
            self._dropped += 1
            return
        self._lines.append(line)
        self._size += len(line)
        if self._size >= BATCH_CHARS:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        if self._dropped and self._pending == 0:
            self._lines.append(f"access log: {self._dropped} lines dropped (slow log reader)\n")
            self._dropped = 0
        text = "".join(self._lines)
        self._lines.clear()
        self._size = 0
        with self._pending_lock:
            self._pending += len(text)
        self._writer.submit(self._write, text)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # the log's reader is gone; serving goes on
        finally:
            with self._pending_lock:
                self._pending -= len(text)

    def close(self) -> None:
        """Write out what is buffered and wait for it."""
        self.flush()
        self._writer.shutdown(wait=True)


class _Clock:
    """`[25/Nov/2026:11:02:45 +0000]`, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
            self._second, self._text = second, f"[{stamp}]"
        return self._text


_CLOCK = _Clock()


def combined_log(sink: LogSink) -> type[AbstractAccessLogger]:
    """An access logger class (aiohttp makes one per connection) writing to `sink`."""

    class CombinedLog(AbstractAccessLogger):
        def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
            h = request.headers
            version = request.version
            sink.add(
                f"{request.remote or '-'} - - {_CLOCK.now()} "
                f'"{request.method} {request.path_qs} HTTP/{version.major}.{version.minor}" '
                f"{response.status} {_body_size(request, response)} "
                f'"{h.get("Referer", "-")}" "{h.get("User-Agent", "-")}"\n'
            )

    return CombinedLog


def _body_size(request: BaseRequest, response: StreamResponse) -> int:
    """The body's size (`%b`): bytes sent by sendfile never pass aiohttp's writer."""
    if request.method == "HEAD" or response.status in {204, 304}:
        return 0
    return response.content_length or 0
