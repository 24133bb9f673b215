"""A store in a local directory. Objects are plain files, so the server can sendfile them.

Atomicity: whole objects are written to `.tmp/` and renamed into place; chunked uploads
are written into `.uploads/<id>/data` at their offsets and renamed on completion. Readers
never see a partly written object under its final key.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from catalog.errors import InvalidPathError, ObjectNotFoundError
from catalog.store.base import STREAM_CHUNK, ByteRange, LandedPart, ObjectInfo, check_key

INTERNAL = (".tmp", ".uploads")


class LocalStore:
    """`file:///path`: a folder of files named by their keys."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        for folder in INTERNAL:
            (self.root / folder).mkdir(parents=True, exist_ok=True)

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
        return await asyncio.to_thread(self._put, key, data)

    def _put(self, key: str, data: bytes) -> ObjectInfo:
        target = self.local_path(key)
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _place(tmp, target)
        return self._stat(key)

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

    async def close(self) -> None:
        return None


class LocalPartWriter:
    """Parts land at their offsets in one sparse file; `complete` renames it into place."""

    def __init__(self, store: LocalStore, key: str, upload_id: str, part_size: int) -> None:
        self.store = store
        self.key = key
        self.part_size = part_size
        self._id = upload_id
        self.folder = store.root / ".uploads" / upload_id

    @property
    def upload_id(self) -> str:
        return self._id

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        await asyncio.to_thread(self._pwrite, offset, data)

    def _pwrite(self, offset: int, data: bytes | memoryview) -> None:
        fd = os.open(self.folder / "data", os.O_WRONLY)
        try:
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view, offset)
                view = view[written:]
                offset += written
        finally:
            os.close(fd)

    async def write_part(self, number: int, data: bytes | memoryview) -> LandedPart:
        await self.write_at((number - 1) * self.part_size, data)
        part = LandedPart(number, len(data))
        await asyncio.to_thread(_record_part, self.folder, part)
        return part

    async def complete(self) -> ObjectInfo:
        await asyncio.to_thread(self._complete)
        return await self.store.stat(self.key)

    def _complete(self) -> None:
        data = self.folder / "data"
        fd = os.open(data, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _place(data, self.store.local_path(self.key))
        shutil.rmtree(self.folder, ignore_errors=True)

    async def abort(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self.folder, True)


def _place(source: Path, target: Path, attempts: int = 5) -> None:
    """Rename `source` to `target`, making its folders; a concurrent delete may prune an
    empty folder between the two steps, so try again (boundedly)."""
    for attempt in range(attempts):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        except (FileNotFoundError, FileExistsError):
            # mkdir raises FileExistsError when the folder vanishes between its two checks
            if attempt == attempts - 1 or not source.exists():
                raise
        else:
            return


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
