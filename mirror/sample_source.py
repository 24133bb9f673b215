"""A loopback HTTP server with nginx-style autoindex pages, serving a generated sample tree.

The demo mirrors it as a stand-in for an EBI-style archive: listings look like nginx's
`autoindex on; autoindex_exact_size on;`, and files answer Range requests and HEAD.
Run: `python -m mirror.sample_source ROOT [--port P]`; the first line printed is the URL.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from mirror.sample_data import write_sample_tree

ROOT = web.AppKey("root", Path)


def autoindex_page(url_path: str, folder: Path) -> str:
    """The page nginx renders for a folder (names, dates, exact sizes)."""
    rows = ['<a href="../">../</a>']
    for child in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
        stat = child.stat()
        name = child.name + ("/" if child.is_dir() else "")
        when = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%d-%b-%Y %H:%M")
        size = "-" if child.is_dir() else str(stat.st_size)
        link = f'<a href="{quote(name)}">{html.escape(name)}</a>'
        rows.append(f"{link}{' ' * max(1, 51 - len(name))}{when} {size:>19}")
    title = f"Index of {html.escape(url_path)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<h1>{title}</h1>"
        f"<hr><pre>{chr(10).join(rows)}\n</pre><hr></body>\r\n</html>\r\n"
    )


async def handle(request: web.Request) -> web.StreamResponse:
    root = request.app[ROOT]
    target = (root / request.match_info["path"]).resolve()
    if not target.is_relative_to(root) or not target.exists():
        raise web.HTTPNotFound
    if target.is_dir():
        if not request.path.endswith("/"):
            raise web.HTTPMovedPermanently(request.path + "/")
        page = await asyncio.to_thread(autoindex_page, request.path, target)
        return web.Response(text=page, content_type="text/html")
    return web.FileResponse(target)


def make_app(root: Path) -> web.Application:
    app = web.Application()
    app[ROOT] = root
    app.router.add_get("/{path:.*}", handle)
    return app


async def serve(root: Path, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(root), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"http://{bound[0]}:{bound[1]}/", flush=True)  # noqa: T201 (the contract)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--generate",
        type=int,
        metavar="BIG_FILE_SIZE",
        default=None,
        help="first write the sample tree into ROOT if it has none (with a big file this size)",
    )
    args = parser.parse_args(argv)
    if args.generate is not None and not (args.root / "md5sum.txt").exists():
        print(f"writing sample source files under {args.root}", file=sys.stderr)  # noqa: T201
        write_sample_tree(args.root, big_file_size=args.generate)
    if not args.root.is_dir():
        sys.exit(f"error: {args.root} is not a directory")
    asyncio.run(serve(args.root.resolve(), args.host, args.port))


if __name__ == "__main__":
    main()
