"""Walking an FTP tree folder by folder, whatever the server's listings say.

aioftp's own recursive listing follows every `type=dir` line: a name `../..` or `/etc`
would have it list outside the source's root, a symlink loop would never end, and a line
it cannot parse ends the whole listing with a bare ValueError. Here each folder is listed
on its own; a name that is not one plain segment, a line that does not parse, a file
without a size, a folder that lists what an ancestor lists (a loop) or one nested
deeper than MAX_DEPTH is skipped and told, and the rest of the tree is listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, Literal

import aioftp

from mirror.sources.base import Skipped
from mirror.sources.listing_guard import repeated_ancestor, signature

MAX_DEPTH = 64
UNPARSED = PurePosixPath(".")  # aioftp's lister drops "." lines: what an unparsed line becomes
Info = Mapping[str, Any]


async def walk(
    client: aioftp.Client,
    root: PurePosixPath,
    command: Literal["MLSD", "LIST"] | None,
    skipped: list[Skipped],
) -> AsyncIterator[tuple[str, Info]]:
    """Every file under `root` as (path relative to it, its facts), breadth first."""
    unparsed: list[bytes] = []
    _tolerate_bad_lines(client, unparsed)
    seen: dict[str, int] = {}
    folders = [""]
    for _ in range(MAX_DEPTH):
        deeper: list[str] = []
        for folder in folders:
            base = root / folder
            rows = [(p, i) async for p, i in client.list(base, raw_command=command)]
            lines, unparsed[:] = unparsed[:], []
            listed = seen[folder] = signature(_facts(rows))
            if folder and (ancestor := repeated_ancestor(folder, listed, seen)) is not None:
                why = f"it lists what {ancestor or 'the root'} lists (a loop?): not followed"
                skipped.append(Skipped(folder, why))
                continue
            skipped.extend(Skipped(folder, f"a listing line does not parse: {line!r}"[:300])
                           for line in lines)  # fmt: skip
            for full, info in rows:
                path = folder + full.name
                if full.parent != base or full.name in {"", ".", ".."}:
                    skipped.append(Skipped(str(full), "the listing names it outside its folder"))
                elif (reason := _refused(info)) is not None:
                    skipped.append(Skipped(path, reason))
                elif info.get("type") == "dir":
                    deeper.append(path + "/")
                elif info.get("type") == "file":
                    yield path, info
        if not deeper:
            return
        folders = deeper
    why = f"folders nest deeper than {MAX_DEPTH} levels here: not followed"
    skipped.extend(Skipped(folder, why) for folder in folders)


def _refused(info: Info) -> str | None:
    if info.get("type") == "file" and not str(info.get("size", "")).isdigit():
        return f"the listing gives it no size ({info.get('size')!r})"
    return None


def _facts(rows: Sequence[tuple[PurePosixPath, Info]]) -> list[tuple[str, str, str, str]]:
    return [(p.name, str(i.get("type")), str(i.get("size")), str(i.get("modify"))) for p, i in rows]


def _tolerate_bad_lines(client: aioftp.Client, unparsed: list[bytes]) -> None:
    """A line the parser refuses is kept in `unparsed` and listed as "." (dropped)."""
    for attribute in ("parse_mlsx_line", "parse_list_line"):
        original: Callable[[bytes], tuple[PurePosixPath, Info]] = getattr(client, attribute)
        setattr(client, attribute, _tolerant(original, unparsed))


def _tolerant(
    parse: Callable[[bytes], tuple[PurePosixPath, Info]], unparsed: list[bytes]
) -> Callable[[bytes], tuple[PurePosixPath, Info]]:
    def parse_line(line: bytes) -> tuple[PurePosixPath, Info]:
        try:
            name, info = parse(line)
        except (ValueError, KeyError, IndexError):  # UnicodeDecodeError is a ValueError
            name, info = UNPARSED, {}
        if "type" not in info:  # aioftp's lister reads it unchecked
            unparsed.append(line)
            return UNPARSED, {"type": "unparsed"}
        return name, info

    return parse_line
