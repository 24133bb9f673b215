"""FTP trees (EBI, NCBI, Ensembl all still serve FTP), read with aioftp.

aioftp is asyncio-native, so nothing runs in threads (fsspec's FTPFileSystem is ftplib in
a thread per call). Listing is MLSD, falling back to LIST where a server refuses MLSD,
folder by folder (`ftp_walk`: odd names and loops are skipped); sizes from both are
exact. Ranged reads send `REST start`, read exactly the range and drop that connection
(FTP cannot stop a transfer midway and keep the control channel in a known state);
whole-file reads end cleanly and their connection goes back to a small pool. A size
check (`SIZE`) before each read catches files changed since the listing. With an address
rule (a source registered through the curator API), each connection goes to a checked
public address of the host (`public_peers`), and data connections to that same address.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aioftp

from catalog.errors import (
    InvalidSourceURLError,
    NotPublicAddressError,
    PeerRefusedError,
    SourceChangedError,
    SourceError,
    UnresolvableHostError,
)
from catalog.public_address import PublicAddressRule
from catalog.store.base import ByteRange
from mirror.sources.base import Skipped, SourceEntry
from mirror.sources.checks import check_size_unchanged, os_error_cause
from mirror.sources.ftp_walk import walk
from mirror.sources.public_peers import resolve_checked

CHUNK = 256 * 1024
DEFAULT_PORT = 21
LOGIN_HINT = "check the user name and password (in the URL, or the username/password options)"


class FTPSource:
    """`ftp://[user[:password]@]host[:port]/folder/`; anonymous unless told otherwise."""

    def __init__(
        self,
        url: str,
        *,
        connections: int = 4,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        address_rule: PublicAddressRule | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ftp" or not parts.hostname:
            raise InvalidSourceURLError(url, "an FTP source URL looks like ftp://host/folder/")
        self._host = parts.hostname
        self._port = parts.port or DEFAULT_PORT
        self._user = username or unquote(parts.username or "") or aioftp.DEFAULT_USER
        self._password = password or unquote(parts.password or "") or aioftp.DEFAULT_PASSWORD
        self._root = PurePosixPath(unquote(parts.path) or "/")
        netloc = self._host if self._port == DEFAULT_PORT else f"{self._host}:{self._port}"
        self._url = f"ftp://{netloc}{self._root.as_posix().rstrip('/')}/"
        self._timeout = timeout
        self._rule = address_rule
        self._slots = asyncio.Semaphore(connections)
        self._idle: builtins.list[aioftp.Client] = []
        self._skipped: builtins.list[Skipped] = []

    @property
    def url(self) -> str:
        return self._url

    def _full(self, path: str) -> PurePosixPath:
        return self._root / path

    async def _connect(self) -> aioftp.Client:
        # data connections go to the control connection's address, never to one a PASV
        # answer names (aioftp's default, relied on by the address rule)
        client = aioftp.Client(
            socket_timeout=self._timeout,
            connection_timeout=self._timeout,
            trust_server_pasv_ipv4_address=False,
        )
        try:
            with ftp_errors(self._url, self._host, self._port):
                address = await resolve_checked(self._rule, self._host, self._port)
                await client.connect(address, self._port)
                await client.login(self._user, self._password)
        except BaseException:
            client.close()
            raise
        return client

    async def _client(self) -> aioftp.Client:
        return self._idle.pop() if self._idle else await self._connect()

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    @property
    def skipped(self) -> builtins.list[Skipped]:
        """What the last `list` did not follow (`ftp_walk`), and why."""
        return builtins.list(self._skipped)

    async def list(self) -> AsyncIterator[SourceEntry]:
        """Every file under the root (MLSD, or LIST, folder by folder), with exact sizes."""
        async with self._slots:
            client = await self._connect()
            try:
                with ftp_errors(self._url, self._host, self._port):
                    command = await list_command(client)
                    self._skipped = []
                    async for path, info in walk(client, self._root, command, self._skipped):
                        yield listed_entry(path, info)
            finally:
                client.close()

    async def stat(self, path: str) -> SourceEntry:
        async with self._slots:
            client = await self._client()
            try:
                with ftp_errors(self._url + path, self._host, self._port):
                    size = await remote_size(client, self._full(path))
                    _, info = await client.command(f"MDTM {self._full(path)}", "213")
            except BaseException:
                client.close()
                raise
            self._idle.append(client)
        return SourceEntry(path, size, parse_modify(info[0].strip() if info else ""))

    async def read(
        self, path: str, byte_range: ByteRange | None = None, *, version: str | None = None
    ) -> AsyncIterator[bytes]:
        """The file's bytes (from `REST start` for a range), exactly as many as asked."""
        if byte_range is not None and byte_range.length == 0:
            return
        url = self._url + path
        async with self._slots:
            client = await self._client()
            reusable = False
            try:
                with ftp_errors(url, self._host, self._port):
                    size = await remote_size(client, self._full(path))
                    check_unchanged(url, size, version, byte_range)
                    start, end = (byte_range.start, byte_range.end) if byte_range else (0, size)
                    stream = await client.download_stream(self._full(path), offset=start)
                    try:
                        async for chunk in read_stream(stream, url, end - start, end == size):
                            yield chunk
                    finally:
                        stream.close()  # a range stops short of the end: drop its connection
                    reusable = end == size
            finally:
                if reusable:
                    self._idle.append(client)
                else:
                    client.close()


async def read_stream(
    stream: aioftp.DataConnectionThrottleStreamIO, url: str, want: int, to_end: bool
) -> AsyncIterator[bytes]:
    """`want` bytes from a RETR stream. Read to its end, the transfer must end there too;
    cut short, the caller drops the connection."""
    received = 0
    async for block in stream.iter_by_block(CHUNK):
        if received + len(block) > want and to_end:
            raise SourceChangedError(url, f"it grew past the {want} bytes it had")
        chunk = block[: want - received]
        received += len(chunk)
        yield chunk
        if received == want and not to_end:
            return
    if received < want:
        raise SourceError(url, f"transfer ended after {received} of {want} bytes", transient=True)
    await stream.finish()


async def list_command(client: aioftp.Client) -> Literal["MLSD", "LIST"] | None:
    """MLSD where FEAT names MLST (RFC 3659 §7.8), else LIST; where FEAT is refused, None:
    aioftp tries MLSD, then LIST. (aioftp leaves open the data connection of a refused
    MLSD, one per folder, so a server that refuses it is not asked.)"""
    try:
        _, lines = await client.command("FEAT", "211")
    except aioftp.StatusCodeError:
        return None
    return "MLSD" if any(line.strip().upper().startswith("MLST") for line in lines) else "LIST"


def listed_entry(path: str, info: Any) -> SourceEntry:
    return SourceEntry(path, int(info.get("size", 0)), parse_modify(info.get("modify", "")))


def parse_modify(text: str) -> datetime | None:
    """MLSD/MDTM times: `YYYYMMDDHHMMSS[.sss]`, in UTC (RFC 3659 §2.3)."""
    digits = text.split(".", 1)[0]
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


async def remote_size(client: aioftp.Client, path: PurePosixPath) -> int:
    await client.command("TYPE I", "200")
    _, info = await client.command(f"SIZE {path}", "213")
    text = info[0].strip() if info else ""
    if not text.isdigit():
        raise SourceError(str(path), f"the server answered SIZE with {text!r}")
    return int(text)


def check_unchanged(url: str, size: int, version: str | None, byte_range: ByteRange | None) -> None:
    check_size_unchanged(url, size, version)
    if byte_range is not None and byte_range.end > size:
        raise SourceChangedError(url, f"the range ends at {byte_range.end}, the file at {size}")


@contextmanager
def ftp_errors(url: str, host: str, port: int) -> Iterator[None]:
    """Translate aioftp's and the socket's errors into one-line SourceErrors."""
    try:
        yield
    except NotPublicAddressError as exc:
        raise PeerRefusedError(url, exc) from exc
    except UnresolvableHostError as exc:
        raise SourceError(url, exc.message, transient=True, hint=exc.hint) from exc
    except aioftp.StatusCodeError as exc:
        raise status_error(url, exc) from exc
    except TimeoutError as exc:  # before OSError, which it is a kind of
        raise SourceError(url, f"{host}:{port} timed out", transient=True) from exc
    except OSError as exc:
        cause = os_error_cause(exc)
        raise SourceError(url, f"cannot connect to {host}:{port}: {cause}", transient=True) from exc
    except aioftp.AIOFTPException as exc:
        raise SourceError(url, str(exc) or type(exc).__name__, transient=True) from exc


def status_error(url: str, exc: aioftp.StatusCodeError) -> SourceError:
    code = exc.received_codes[-1] if exc.received_codes else aioftp.Code("000")
    said = " ".join(line.strip() for line in exc.info if line.strip())[:200]
    cause = f"FTP {code} {said}".rstrip()
    if code.matches("530"):
        return SourceError(url, f"login refused ({cause})", hint=LOGIN_HINT)
    if code.matches("55x"):
        return SourceError(url, cause, hint="check the path: no such file, or no access to it")
    return SourceError(url, cause, transient=code.matches("4xx"))
