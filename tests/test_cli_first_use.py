"""What a new user meets on a fresh clone, run as they run it: every mistake gets one
`error:` line that names it and a `hint:` line that says what to do; tables for people."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory
from tests.fixtures.net import LOOPBACK


def assert_clean_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 1, one `error:` line naming the problem, a `hint:`; no traceback. The hint."""
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    hints = [line for line in lines if line.startswith("hint: ")]
    assert len(errors) == 1, proc.stderr
    assert len(hints) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in errors[0]
    return hints[0]


@pytest.fixture
def taken_port() -> object:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_port_in_use_says_so(cli: CLI, taken_port: int, workers: str) -> None:
    proc = cli("serve", "--port", str(taken_port), "--workers", workers, check=False, timeout=30)
    hint = assert_clean_error(proc, f"{LOOPBACK}:{taken_port}", "in use")
    assert "--port" in hint


def test_serve_on_an_address_this_machine_lacks_says_so(cli: CLI) -> None:
    proc = cli("serve", "--host", "192.0.2.1", "--port", "0", check=False, timeout=30)
    hint = assert_clean_error(proc, "192.0.2.1", "no address")
    assert "127.0.0.1" in hint


def test_the_demo_on_a_port_in_use_fails_before_it_claims_to_serve(
    cli: CLI, taken_port: int
) -> None:
    proc = cli("demo", "--port", str(taken_port), check=False, timeout=120)
    assert_clean_error(proc, "in use")
    assert "serving" not in proc.stdout


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/", "IPv6"),
        ("ftp://host:abc/", "port"),
        ("https://example.org:99999/", "port"),
        ("https://exa mple.org/", "space"),
        ("https://exa_mple..org/", "host name"),
        ("s3://Not_A_Bucket/", "bucket"),
    ],
)
def test_a_malformed_source_url_is_refused_when_added(cli: CLI, url: str, reason: str) -> None:
    proc = cli("source", "add", "x", url, check=False)
    assert_clean_error(proc, "invalid source URL", reason)
    assert "x" not in cli("source", "list").stdout.split()


def test_a_schedule_that_is_not_cron_is_refused_when_added(cli: CLI) -> None:
    proc = cli("source", "add", "x", "https://example.org/", "--schedule", "every day", check=False)
    hint = assert_clean_error(proc, "invalid cron schedule", "every day")
    assert "0 3 * * *" in hint


def test_an_unknown_dataset_names_the_catalog_it_looked_in(cli: CLI, home: Path) -> None:
    cli.env.pop("DATAMIRROR_HOME")
    cli.env.pop("DATAMIRROR_DB")
    proc = cli("releases", "demo", check=False)
    hint = assert_clean_error(proc, "unknown dataset 'demo'")
    assert str(home / "datamirror-data" / "catalog.db") in hint
    assert "DATAMIRROR_HOME" in hint


def test_source_list_is_a_table_with_a_header(cli: CLI) -> None:
    cli("source", "add", "ebi", "https://ftp.ebi.ac.uk/pub/", "--schedule", "0 3 * * *")
    cli("source", "add", "private", "https://example.org/", "--restricted")
    header, *rows = cli("source", "list").stdout.splitlines()
    assert header.split() == ["NAME", "CURRENT", "SCHEDULE", "ACCESS", "URL"]
    assert rows[0].split()[:2] == ["ebi", "-"]
    assert "0 3 * * *" in rows[0]
    assert rows[1].split()[-2:] == ["restricted", "https://example.org/"]


def test_a_sync_that_fails_before_a_release_names_no_blank_release(cli: CLI) -> None:
    cli("source", "add", "gone", "http://127.0.0.1:9/nothing/")
    proc = cli("sync", "gone", "--quiet", check=False, timeout=120)
    assert proc.returncode == 1
    report = [line for line in proc.stderr.splitlines() if line.startswith("gone")]
    assert report, proc.stderr
    assert report[0].startswith("gone: ")


def test_the_module_runs_as_the_console_script_does(cli: CLI) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "datamirror", "--help"], capture_output=True, text=True, check=True
    )
    assert "source" in proc.stdout
    assert "serve" in proc.stdout


@pytest.mark.nginx
def test_releases_is_a_table_with_sizes_for_people(
    cli: CLI, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    (root / "a").mkdir(parents=True)
    (root / "a" / "reads.fq").write_bytes(b"@r\nACGT\n+\n!!!!\n" * 10_000)
    cli("source", "add", "tiny", nginx_server(root).url)
    cli("sync", "tiny")
    header, row, *_ = cli("releases", "tiny").stdout.splitlines()
    assert header.split() == ["RELEASE", "STATE", "FILES", "SIZE", "PUBLISHED", "LAST", "SYNC"]
    assert row.startswith("*  ")
    assert " 1 " in row
    assert "146.5 KiB" in row  # 150,000 bytes
