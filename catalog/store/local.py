"""A store in a local directory. Objects are plain files, so the server can sendfile them.

Atomicity: whole objects are written under `.tmp/` and renamed into place; chunked uploads
are written into `.uploads/<id>/data` at their offsets and renamed on completion. Readers
never see a partly written object under its final key.

Durability: writes are not fsynced one by one (an fsync per 16 KiB file costs more than
fetching it); `flush` syncs the whole file system once (syncfs(2)), and publishing waits
for it. A power cut before that can lose objects a run had recorded, which is why a
resumed run checks its objects' sizes against the store before trusting them.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import ctypes
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from catalog.errors import InvalidPathError, ObjectNotFoundError
from catalog.store.base import STREAM_CHUNK, ByteRange, LandedPart, ObjectInfo, check_key
from catalog.store.os_errors import write_errors
from catalog.store.retrying import STORE_RETRY

INTERNAL = (".tmp", ".uploads")

SYNC_FILE_RANGE_WRITE = 2
STALE_TEMP_SECONDS = 3600.0
_LIBC = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None
_sync_file_range = getattr(_LIBC, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)


class LocalStore:
    """`file:///path`: a folder of files named by their keys."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        for folder in INTERNAL:
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self._chunk_writer: ThreadPoolExecutor | None = None

    def chunk_writer(self) -> ThreadPoolExecutor:
        """The one thread that writes upload chunks. Threads writing into one file at once
        spin on its inode lock (measured: a tenth of a sync's CPU), so they queue here."""
        if self._chunk_writer is None:
            self._chunk_writer = ThreadPoolExecutor(1, thread_name_prefix="datamirror-chunks")
        return self._chunk_writer

    @classmethod
    def from_url(cls, url: str) -> LocalStore:
        return cls(Path(unquote(urlsplit(url).path)))

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def local_path(self, key: str) -> Path:
        parts = check_key(key).split("/")
        if parts[0] in INTERNAL:
            raise InvalidPathError(f"store key {key!r} names an internal folder")
        return self.root.joinpath(*parts)

    async def put(self, key: str, data: bytes) -> ObjectInfo:
        return await STORE_RETRY.call(lambda: asyncio.to_thread(self._put, key, data))

    def _put(self, key: str, data: bytes) -> ObjectInfo:
        target = self.local_path(key)
        tmp = self._temp_path()
        with self.writing(key):
            try:
                with _create(tmp) as handle:
                    handle.write(data)
                    handle.flush()
                    st = os.fstat(handle.fileno())
                _place(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        return ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    def writing(self, key: str) -> contextlib.AbstractContextManager[None]:
        return write_errors(self.root, key)

    def _temp_path(self) -> Path:
        """A new name under `.tmp/`, in one of 256 subfolders: files created in parallel in
        one folder all wait on that folder's lock."""
        name = uuid.uuid4().hex
        return self.root / ".tmp" / name[:2] / name

    async def get(self, key: str, byte_range: ByteRange | None = None) -> bytes:
        return await asyncio.to_thread(self._read, key, byte_range)

    def _read(self, key: str, byte_range: ByteRange | None) -> bytes:
        try:
            with self.local_path(key).open("rb") as handle:
                if byte_range is None:
                    return handle.read()
                return os.pread(handle.fileno(), byte_range.length, byte_range.start)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None

    async def stream(
        self, key: str, byte_range: ByteRange | None = None, chunk_size: int = STREAM_CHUNK
    ) -> AsyncIterator[bytes]:
        info = await self.stat(key)
        span = byte_range or ByteRange(0, info.size)
        handle = await asyncio.to_thread(self.local_path(key).open, "rb")
        try:
            offset = span.start
            while offset < span.end:
                size = min(chunk_size, span.end - offset)
                chunk = await asyncio.to_thread(os.pread, handle.fileno(), size, offset)
                if not chunk:
                    break
                offset += len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def stat(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self._stat, key)

    def _stat(self, key: str) -> ObjectInfo:
        try:
            st = self.local_path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None
        if not os.path.isfile(self.local_path(key)):
            raise ObjectNotFoundError(key)
        return ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.local_path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        path = self.local_path(key)
        path.unlink(missing_ok=True)
        for parent in path.parents:
            if parent == self.root:
                break
            try:
                parent.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                break

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        for info in await asyncio.to_thread(self._list, prefix):
            yield info

    def _list(self, prefix: str) -> builtins.list[ObjectInfo]:
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base if base else self.root
        found = []
        for folder, dirs, files in os.walk(start):
            rel_folder = os.path.relpath(folder, self.root)
            if rel_folder == ".":
                dirs[:] = [d for d in dirs if d not in INTERNAL]
            for name in files:
                key = name if rel_folder == "." else f"{rel_folder}/{name}"
                if key.startswith(prefix):
                    st = os.stat(os.path.join(folder, name))
                    modified = datetime.fromtimestamp(st.st_mtime, UTC)
                    found.append(ObjectInfo(key, st.st_size, modified))
        return sorted(found, key=lambda info: info.key)

    async def start_upload(self, key: str, part_size: int) -> LocalPartWriter:
        self.local_path(key)
        upload_id = uuid.uuid4().hex
        folder = self.root / ".uploads" / upload_id
        state = {"key": key, "part_size": part_size}
        with self.writing(key):
            await asyncio.to_thread(_create_upload, folder, state)
        return LocalPartWriter(self, key, upload_id, part_size)

    async def resume_upload(self, key: str, upload_id: str, part_size: int) -> LocalPartWriter:
        state = await asyncio.to_thread(self._upload_state, key, upload_id)
        return LocalPartWriter(self, key, upload_id, int(state["part_size"]))

    def _upload_state(self, key: str, upload_id: str) -> dict[str, str | int]:
        state_file = self._upload_dir(upload_id) / "state"
        try:
            state: dict[str, str | int] = json.loads(state_file.read_text())
        except (FileNotFoundError, ValueError):
            raise ObjectNotFoundError(f"{key} (upload {upload_id})") from None
        if state.get("key") != key:
            raise ObjectNotFoundError(f"{key} (upload {upload_id})")
        return state

    def _upload_dir(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise InvalidPathError(f"invalid upload id {upload_id!r}")
        return self.root / ".uploads" / upload_id

    async def landed_parts(self, key: str, upload_id: str) -> builtins.list[LandedPart]:
        await asyncio.to_thread(self._upload_state, key, upload_id)
        folder = self._upload_dir(upload_id)
        return await asyncio.to_thread(_read_parts, folder)

    async def abort_stale_uploads(self, prefix: str, keep: set[str]) -> int:
        return await asyncio.to_thread(self._abort_stale, prefix, keep)

    def _abort_stale(self, prefix: str, keep: set[str]) -> int:
        _remove_stale_temp_files(self.root / ".tmp")
        aborted = 0
        for folder in (self.root / ".uploads").iterdir():
            if folder.name in keep:
                continue
            try:
                key = json.loads((folder / "state").read_text())["key"]
            except (FileNotFoundError, ValueError, KeyError):
                key = ""
            if key.startswith(prefix):
                shutil.rmtree(folder, ignore_errors=True)
                aborted += 1
        return aborted

    async def flush(self) -> None:
        await asyncio.to_thread(_sync_file_system, self.root)

    async def close(self) -> None:
        if self._chunk_writer is not None:
            self._chunk_writer.shutdown(wait=False)
            self._chunk_writer = None


class LocalPartWriter:
    """Parts land at their offsets in one sparse file; `complete` renames it into place."""

    def __init__(self, store: LocalStore, key: str, upload_id: str, part_size: int) -> None:
        self.store = store
        self.key = key
        self.part_size = part_size
        self._id = upload_id
        self.folder = store.root / ".uploads" / upload_id
        self._data = str(self.folder / "data")

    @property
    def upload_id(self) -> str:
        return self._id

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        loop = asyncio.get_running_loop()
        writer = self.store.chunk_writer()
        await STORE_RETRY.call(lambda: loop.run_in_executor(writer, self._pwrite, offset, data))

    def _pwrite(self, offset: int, data: bytes | memoryview) -> None:
        with self.store.writing(self.key):
            fd = os.open(self._data, os.O_WRONLY)
            try:
                view = memoryview(data)
                start = offset
                while view:
                    written = os.pwrite(fd, view, offset)
                    view = view[written:]
                    offset += written
                start_writeback(fd, start, offset - start)
            finally:
                os.close(fd)

    async def write_part(self, number: int, data: bytes | memoryview) -> LandedPart:
        await self.write_at((number - 1) * self.part_size, data)
        part = LandedPart(number, len(data))
        with self.store.writing(self.key):
            await asyncio.to_thread(_record_part, self.folder, part)
        return part

    async def complete(self) -> ObjectInfo:
        await asyncio.to_thread(self._complete)
        return await self.store.stat(self.key)

    def _complete(self) -> None:
        _place(self.folder / "data", self.store.local_path(self.key))
        shutil.rmtree(self.folder, ignore_errors=True)

    async def abort(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder, True)


def _place(source: Path, target: Path, attempts: int = 5) -> None:
    """Rename `source` to `target`, making its folders; a concurrent delete may prune an
    empty folder between the two steps, so try again (boundedly)."""
    for attempt in range(attempts):
        try:
            os.replace(source, target)
            return
        except FileNotFoundError:
            if attempt == attempts - 1 or not source.exists():
                raise
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # the folder vanished between mkdir's two checks
            continue


def _remove_stale_temp_files(folder: Path, older_than: float = STALE_TEMP_SECONDS) -> None:
    """Delete what puts of killed processes left; a put in progress is seconds old."""
    cutoff = time.time() - older_than
    for entry in folder.iterdir():
        for temp in entry.iterdir() if entry.is_dir() else (entry,):
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing these bytes to disk now, without waiting for it
    (sync_file_range(2), Linux only), so that `flush` finds little left to write."""
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)


def _sync_file_system(root: Path) -> None:
    """Flush every write to the file system that holds `root`: syncfs(2) where the C
    library has it (Linux), else sync(2)."""
    syncfs = getattr(_LIBC, "syncfs", None)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"syncfs {root}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def _create(path: Path) -> BinaryIO:
    """Open a new file for writing, making its folder when it is missing."""
    try:
        return path.open("xb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("xb")


def _create_upload(folder: Path, state: dict[str, object]) -> None:
    folder.mkdir(parents=True)
    (folder / "data").touch()
    (folder / "state").write_text(json.dumps(state))


def _record_part(folder: Path, part: LandedPart) -> None:
    with (folder / "parts").open("a") as handle:
        handle.write(f"{part.number} {part.size}\n")


def _read_parts(folder: Path) -> list[LandedPart]:
    try:
        lines = (folder / "parts").read_text().splitlines()
    except FileNotFoundError:
        return []
    parts = {}
    for line in lines:
        number, size = line.split()
        parts[int(number)] = LandedPart(int(number), int(size))
    return [parts[n] for n in sorted(parts)]
