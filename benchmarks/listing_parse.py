"""`python -m benchmarks.listing_parse [--rows N]`: how long the HTML listing parser takes
over a generated nginx autoindex page of N rows (default 100,000; at most 2,000,000), and
the process's peak RSS. No network: the page is made in memory.
"""

from __future__ import annotations

import argparse
import resource
import time

from mirror.sources.http_listing import parse_listing
from mirror.sources.listing_guard import MAX_LISTING_PAGE

MAX_ROWS = 2_000_000


def nginx_page(rows: int) -> str:
    """An autoindex page as nginx pads it: name to 50 columns, size to 20."""
    lines = (
        f'<a href="f{i:07d}.txt">f{i:07d}.txt</a>{" " * 39}01-Dec-2026 10:00 {i:>19}\r\n'
        for i in range(rows)
    )
    return "<html><body><pre>" + "".join(lines) + "</pre></body></html>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    rows = min(parser.parse_args().rows, MAX_ROWS)
    page = nginx_page(rows)
    started = time.perf_counter()
    items = parse_listing(page, "http://127.0.0.1/pub/")
    seconds = time.perf_counter() - started
    assert len(items) == rows
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = len(page.encode())
    print(
        f"{rows} rows, {size / 2**20:.1f} MiB (cap {MAX_LISTING_PAGE / 2**20:.0f} MiB, "
        f"{'over' if size > MAX_LISTING_PAGE else 'under'} it): {seconds:.2f} s, "
        f"{rows / seconds:,.0f} rows/s, peak RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
