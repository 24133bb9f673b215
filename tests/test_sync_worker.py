"""`datamirror worker` runs each dataset's scheduled sync when it is due."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from catalog.errors import InvalidSettingError
from mirror.sample_data import write_sample_tree
from mirror.worker import next_due
from tests.conftest import CLI
from tests.fixtures.http_sources import NginxFactory

NOW = datetime(2024, 5, 1, 12, 7, tzinfo=UTC)


def test_a_dataset_never_synced_is_due_at_once() -> None:
    assert next_due("0 3 * * *", None, NOW) == NOW


def test_the_next_run_follows_the_schedule_after_the_last_one() -> None:
    last = datetime(2024, 5, 1, 3, 0, 5, tzinfo=UTC)
    assert next_due("0 3 * * *", last, NOW) == datetime(2024, 5, 2, 3, 0, tzinfo=UTC)
    assert next_due("*/5 * * * *", NOW, NOW) == datetime(2024, 5, 1, 12, 10, tzinfo=UTC)


def test_an_invalid_schedule_is_refused_naming_cron() -> None:
    with pytest.raises(InvalidSettingError, match="cron"):
        next_due("every day", None, NOW)


@pytest.mark.nginx
def test_worker_once_syncs_due_datasets_and_skips_the_rest(
    cli: CLI, nginx_server: NginxFactory, tmp_path: Path
) -> None:
    root = tmp_path / "source"
    write_sample_tree(root)
    url = nginx_server(root).url
    cli("source", "add", "nightly", url, "--schedule", "0 3 * * *")
    cli("source", "add", "manual", url)
    first = cli("worker", "--once")
    assert "syncing nightly" in first.stdout
    assert "manual" not in first.stdout
    assert "syncing" not in cli("worker", "--once").stdout
    (release,) = json.loads(cli("releases", "nightly", "--json").stdout)
    assert release["state"] == "published"
