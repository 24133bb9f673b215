"""What every command shares: the settings on the click context, running a coroutine over
an open runtime, sizes and tables for people, and how the command is typed here."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import click

from catalog import sizes
from catalog.config import Settings
from catalog.runtime import Runtime
from datamirror.runtime import QUEUE_POOL, open_runtime

T = TypeVar("T")


def settings(ctx: click.Context) -> Settings:
    found = ctx.find_object(Settings)
    return found if found is not None else Settings.from_env()


def with_runtime(
    ctx: click.Context, work: Callable[[Runtime], Awaitable[T]], *, queue_pool: int = QUEUE_POOL
) -> T:
    """Run `work` on a new event loop over the runtime the settings name."""

    async def main() -> T:
        async with open_runtime(settings(ctx), queue_pool=queue_pool) as runtime:
            return await work(runtime)

    return asyncio.run(main())


def parse_size(text: str) -> int:
    """A size option (`16MiB`, `512k`, `1048576`) in bytes."""
    try:
        return sizes.parse_size(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under a header, in columns padded to their widest cell (the last unpadded)."""
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(len(headers) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    return "\n".join(line(r) for r in (headers, *rows))


def invocation() -> str:
    """The command as the user can type it again here: the script they ran (a relative
    path such as `.venv/bin/datamirror` stays relative), else `python -m datamirror`."""
    script = Path(sys.argv[0])
    if script.name == "datamirror" and script.exists():
        if script.parent == Path() or os.sep not in sys.argv[0]:
            return "datamirror"
        return shlex.quote(sys.argv[0])
    return f"{shlex.quote(sys.executable)} -m datamirror"
