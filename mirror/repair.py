"""Repair the parts of a chunked file whose published digest disagreed, before its upload
completes: the publisher's digest covers the whole file, the xxh3-128 of each part tells
which part was read wrong. Every part is read again, in order, one at a time; a part whose
two reads agree is right, one whose reads disagree is read a third time and the two reads
that agree win (a part the store held wrong is written again). The file's digests are
computed over the bytes so decided; when some part's three reads all differ, the repair
gives up and the file starts again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from catalog.store.base import ByteRange, PartWriter, SupportsWriteAt
from mirror.digests import FileDigests, xxh3_128_of


async def repair_parts(
    read: Callable[[ByteRange], Awaitable[bytes]], writer: PartWriter,
    parts: Sequence[tuple[int, ByteRange]], recorded: Mapping[int, str],
    algorithms: tuple[str, ...],
) -> FileDigests | None:  # fmt: skip
    """The file's digests over its parts as decided (written again where the store's were
    wrong); None when a part could not be decided. `read` fetches a span from the source."""
    digests = FileDigests(algorithms)
    for number, span in parts:
        data = await read(span)
        digest = xxh3_128_of([data])
        if digest != recorded.get(number):
            third = await read(span)
            decided = xxh3_128_of([third])
            if decided == digest:  # the store's copy was the wrong one
                await rewrite(writer, number, span, data)
            elif decided != recorded.get(number):
                return None
            data = third
        await digests.update_async([data])
    return digests


async def rewrite(writer: PartWriter, number: int, span: ByteRange, data: bytes) -> None:
    if isinstance(writer, SupportsWriteAt):
        await writer.write_at(span.start, data)
    else:
        await writer.write_part(number, data)
