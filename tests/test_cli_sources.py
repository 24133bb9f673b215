"""`datamirror source ...` and `datamirror releases`, run as a user runs them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CLI


def assert_clean_error(stderr: str, *fragments: str) -> None:
    """One `error:` line (plus an optional `hint:`), naming the problem; no traceback."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert all(line.startswith(("error: ", "hint: ")) for line in lines)


def test_a_registered_source_is_listed_and_shown(cli: CLI) -> None:
    url = "https://ftp.ebi.ac.uk/pub/databases/uniprot/current_release/knowledgebase/"
    added = cli("source", "add", "uniprot", url, "--include", "*.fasta.gz", "--keep", "2")
    assert "added uniprot" in added.stdout
    assert url in cli("source", "list").stdout
    shown = json.loads(cli("source", "show", "uniprot").stdout)
    assert (shown["url"], shown["include"], shown["keep"]) == (url, ["*.fasta.gz"], 2)


def test_s3_options_are_kept_with_the_source(cli: CLI) -> None:
    cli(
        "source", "add", "idr", "s3://idr/zarr/v0.4/", "--no-sign-request",
        "--endpoint-url", "https://uk1s3.embassy.ebi.ac.uk",
    )  # fmt: skip
    shown = json.loads(cli("source", "show", "idr").stdout)
    assert shown["options"] == {
        "endpoint_url": "https://uk1s3.embassy.ebi.ac.uk",
        "no_sign_request": True,
    }


def test_a_removed_source_is_gone(cli: CLI) -> None:
    cli("source", "add", "ensembl", "https://ftp.ensembl.org/pub/current_fasta/")
    cli("source", "remove", "ensembl")
    assert "ensembl" not in cli("source", "list").stdout


def test_a_source_without_releases_says_how_to_make_one(cli: CLI) -> None:
    cli("source", "add", "ensembl", "ftp://ftp.ensembl.org/pub/")
    assert "datamirror sync ensembl" in cli("releases", "ensembl").stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("source", "show", "nope"), ("unknown dataset 'nope'",)),
        (("source", "remove", "nope"), ("unknown dataset 'nope'",)),
        (("releases", "nope"), ("unknown dataset 'nope'",)),
        (("source", "add", "x", "gopher://example.org/"), ("invalid source URL", "gopher")),
        (("source", "add", "x", "not a url"), ("invalid source URL",)),
        (("source", "add", "../x", "https://example.org/"), ("invalid dataset name",)),
    ],
)
def test_bad_input_exits_non_zero_with_a_one_line_error(
    cli: CLI, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    proc = cli(*args, check=False)
    assert proc.returncode != 0
    assert_clean_error(proc.stderr, *fragments)


def test_a_duplicate_source_name_is_refused(cli: CLI) -> None:
    cli("source", "add", "ebi", "https://ftp.ebi.ac.uk/pub/")
    proc = cli("source", "add", "ebi", "https://ftp.ebi.ac.uk/pub/other/", check=False)
    assert proc.returncode == 1
    assert_clean_error(proc.stderr, "'ebi' already exists")


def test_an_unreachable_database_is_a_clear_error(cli: CLI) -> None:
    cli.env["DATAMIRROR_DB"] = "postgresql://nobody@127.0.0.1:1/none"
    proc = cli("source", "list", check=False)
    assert proc.returncode == 1
    assert_clean_error(proc.stderr, "cannot reach the catalog database")
