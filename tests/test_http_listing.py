"""Listing parsers on pages captured from real servers (tests/data/listings)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mirror.sources.http_listing import ListingItem, child_name, parse_listing

LISTINGS = Path(__file__).parent / "data" / "listings"
NOV25 = datetime(2026, 11, 25, 10, 39, tzinfo=UTC)
MAY29 = datetime(2024, 5, 29, 14, 0, tzinfo=UTC)
EBI = "https://ftp.ebi.ac.uk/pub/databases/uniprot/current_release/knowledgebase/complete/"


def d(name: str, mtime: datetime | None = NOV25) -> ListingItem:
    return ListingItem(name, is_dir=True, size=None, mtime=mtime)


def f(name: str, size: int | None, mtime: datetime | None = NOV25) -> ListingItem:
    return ListingItem(name, is_dir=False, size=size, mtime=mtime)


ROOT_DIRS = [d("annotation"), d("genomes"), d("odd dir"), d("reads"), d("variants")]

CASES = {
    "nginx_exact_size.html": (
        "http://127.0.0.1:8080/odd%20dir/",
        [f("ünïcode & spaces.txt", 12345)],
    ),
    "nginx_rounded_size.html": (
        "http://127.0.0.1:8080/genomes/escherichia_coli/",
        [f("K-12_MG1655.fa", None)],
    ),
    "nginx_root.json": (
        "http://127.0.0.1:8080/",
        [
            *(d(i.name, datetime(2026, 11, 25, 10, 39, 15, tzinfo=UTC)) for i in ROOT_DIRS),
            f("README.txt", 306, datetime(2026, 11, 25, 10, 39, 15, tzinfo=UTC)),
            f("md5sum.txt", 521, datetime(2026, 11, 25, 10, 39, 15, tzinfo=UTC)),
        ],
    ),
    "apache_html_table.html": (
        "http://127.0.0.1:8080/",
        [*ROOT_DIRS, f("README.txt", 306), f("md5sum.txt", 521)],
    ),
    "apache_fancy.html": (
        "http://127.0.0.1:8080/genomes/escherichia_coli/",
        [f("K-12_MG1655.fa", None)],
    ),
    "apache_plain_list.html": (
        "http://127.0.0.1:8080/",
        [
            f("README.txt", None, None),
            d("annotation", None),
            d("genomes", None),
            f("md5sum.txt", None, None),
            d("odd dir", None),
            d("reads", None),
            d("variants", None),
        ],
    ),
    "python_http_server.html": (
        "http://127.0.0.1:8000/",
        [f("a b.txt", None, None), d("sub", None)],
    ),
    "apache_ebi_style.html": (
        EBI,
        [
            f("README", None, MAY29),
            f("RELEASE.metalink", None, MAY29),
            d("docs", datetime(2024, 5, 29, 13, 58, tzinfo=UTC)),
            f("reldate.txt", 155, MAY29),
            f("uniprot_sprot.dat.gz", None, MAY29),
            f("uniprot_sprot.fasta.gz", None, MAY29),
            f("uniprot_sprot_varsplic.fasta.gz", None, MAY29),
            f("uniprot_trembl.dat.gz", None, datetime(2024, 5, 29, 14, 2, tzinfo=UTC)),
            f(
                "uniprot_trembl_varsplic_isoforms.fasta.gz",
                None,
                datetime(2024, 5, 29, 14, 2, tzinfo=UTC),
            ),
        ],
    ),
}


@pytest.mark.parametrize("page", sorted(CASES))
def test_a_captured_listing_gives_exactly_its_children(page: str) -> None:
    page_url, expected = CASES[page]
    text = (LISTINGS / page).read_text()
    content_type = "application/json" if page.endswith(".json") else "text/html"
    assert parse_listing(text, page_url, content_type) == expected


def test_json_is_recognised_without_its_content_type() -> None:
    text = (LISTINGS / "nginx_root.json").read_text()
    assert len(parse_listing(text, "http://h/", "application/octet-stream")) == 7


def test_icons_that_are_links_do_not_hide_the_row_of_the_named_link() -> None:
    page = (
        '<pre><a href="x.fa"><img src="/icons/text.gif" alt="[TXT]"></a> '
        '<a href="x.fa">x.fa</a>   2024-01-02 03:04  512   \n</pre>'
    )
    assert parse_listing(page, "http://h/d/") == [
        f("x.fa", 512, datetime(2024, 1, 2, 3, 4, tzinfo=UTC))
    ]


@pytest.mark.parametrize(
    ("href", "name"),
    [
        ("file.txt", "file.txt"),
        ("sub/", "sub"),
        ("./file.txt", "file.txt"),
        ("/data/d/abs.txt", "abs.txt"),
        ("http://h/data/d/full.txt", "full.txt"),
        ("a%20b%23c.txt", "a b#c.txt"),
        ("%C3%BC.txt", "ü.txt"),
        ("../", None),
        ("..", None),
        ("/data/", None),
        ("/", None),
        ("?C=N;O=D", None),
        ("file.txt?download=1", None),
        ("#top", None),
        ("mailto:someone@example.org", None),
        ("http://elsewhere.org/data/d/x.txt", None),
        ("https://h/data/d/x.txt", None),
        ("sub/deeper.txt", None),
        ("a%2Fb.txt", None),
        ("%FF.txt", None),
        ("", None),
    ],
)
def test_only_links_to_direct_children_of_the_folder_count(href: str, name: str | None) -> None:
    assert child_name(href, "http://h/data/d/") == name
