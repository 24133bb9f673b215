"""The curator API's jobs: queue a source's sync, follow its job to the run's report; the
answers match the OpenAPI document; without a job queue (SQLite) the answer says so."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from tests.conftest import CLI
from tests.fixtures.cluster import Cluster, write_tree
from tests.fixtures.http_sources import NginxFactory
from tests.test_api import PUBLIC_URL, call


async def test_without_a_job_queue_a_sync_through_the_api_is_a_409_with_a_hint(
    datamirror_server: Callable[..., str], dm_env: dict[str, str], catalog: Catalog,
    db_kind: str,
) -> None:  # fmt: skip
    if db_kind != "sqlite":
        pytest.skip("a SQLite catalog has no job queue")
    base = datamirror_server(dm_env)
    token = await catalog.tokens.create("curator")
    await catalog.datasets.add(DatasetSpec("open", PUBLIC_URL))
    status, _, body = call(base, "POST", "/api/v1/sources/open/sync", token)
    assert status == 409
    assert "PostgreSQL" in body["hint"]
    assert call(base, "GET", "/api/v1/jobs/1", token)[0] == 409
    assert call(base, "POST", "/api/v1/sources/open/sync")[0] == 401


@pytest.mark.postgres
@pytest.mark.s3
@pytest.mark.nginx
async def test_a_sync_queued_through_the_api_is_followed_to_its_report(
    cluster: Cluster, cli: CLI, catalog: Catalog, datamirror_server: Callable[..., str],
    nginx_server: NginxFactory, tmp_path: Path,
) -> None:  # fmt: skip
    root = tmp_path / "source"
    write_tree(root, small=30, big=0)
    cli("source", "add", "ds", nginx_server(root).url)
    base = datamirror_server(cli.env)
    token = await catalog.tokens.create("curator")
    document = call(base, "GET", "/api/v1/openapi.json")[2]
    job_schema = document["components"]["schemas"]["Job"]

    status, headers, queued = call(base, "POST", "/api/v1/sources/ds/sync", token)

    assert status == 202
    assert headers["Location"] == f"/api/v1/jobs/{queued['id']}"
    assert (queued["task"], queued["dataset"], queued["state"]) == ("sync", "ds", "queued")
    jsonschema.validate(queued, job_schema)
    await cluster.start(1)
    deadline = time.monotonic() + 60
    while (job := call(base, "GET", headers["Location"], token)[2])["state"] != "succeeded":
        assert job["state"] in ("queued", "running"), job
        assert time.monotonic() < deadline, cluster.log_text()
        time.sleep(0.2)
    jsonschema.validate(job, job_schema)
    assert job["report"]["published"] is True
    assert job["report"]["new"] == 31
    assert job["started_at"]
    assert job["finished_at"]
    listed = call(base, "GET", "/api/v1/jobs?dataset=ds", token)[2]["jobs"]
    assert {j["task"] for j in listed} == {"sync", "batch"}
    assert all(j["dataset"] == "ds" for j in listed)
    for j in listed:
        jsonschema.validate(j, job_schema)
    done = call(base, "GET", "/api/v1/jobs?dataset=ds&state=queued", token)[2]["jobs"]
    assert done == []
    assert call(base, "GET", "/api/v1/jobs?state=sideways", token)[0] == 400
    assert call(base, "GET", "/api/v1/jobs/987654", token)[0] == 404
    assert call(base, "POST", "/api/v1/sources/nope/sync", token)[0] == 404
