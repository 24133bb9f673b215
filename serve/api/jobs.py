"""The curator API's jobs (bearer token with scope `curator`):

    POST /api/v1/sources/<name>/sync   queue a sync of the source: 202, Location of its job
    GET  /api/v1/jobs/<id>             a job: state, attempts, times, and for a sync its
                                       run's progress and report
    GET  /api/v1/jobs?dataset=&state=  jobs, newest first

The job queue is the cluster's (procrastinate on PostgreSQL); on SQLite there is none,
and these answer 409 with a hint.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import hdrs, web

from catalog.queue import (
    USER_TASKS,
    JobQueue,
    JobState,
    QueueUnavailableError,
    UnknownJobError,
)
from catalog.repository import Catalog
from serve.api.curator import JSON_HEADERS, PREFIX, curator_api
from serve.http.cors import add_resource
from serve.http.problems import ProblemError

LIMIT = 200
MAX_JOB_ID = 2**63 - 1
"""procrastinate's ids are PostgreSQL BIGINTs: a larger one names no job."""


@dataclass(frozen=True, slots=True)
class JobsApi:
    """What the jobs handlers work with, made at start-up."""

    catalog: Catalog
    queue: JobQueue | None

    @property
    def jobs(self) -> JobQueue:
        if self.queue is None:
            raise QueueUnavailableError
        return self.queue


JOBS = web.AppKey("jobs_api", JobsApi)


def add_routes(router: web.UrlDispatcher) -> None:
    add_resource(router, f"{PREFIX}/sources/{{name}}/sync", "api.sync", {"POST": enqueue_sync})
    add_resource(router, f"{PREFIX}/jobs", "api.jobs", {"GET": list_jobs})
    add_resource(router, f"{PREFIX}/jobs/{{id:[0-9]+}}", "api.job", {"GET": show_job})


def _api(request: web.Request) -> JobsApi:
    curator_api(request)  # 401 or 403 unless the token has the curator scope
    return request.app[JOBS]


async def enqueue_sync(request: web.Request) -> web.Response:
    api = _api(request)
    dataset = await api.catalog.datasets.get(request.match_info["name"])
    job_id = await api.jobs.enqueue_sync(dataset.name)
    assert job_id is not None
    job = await api.jobs.job(job_id)
    headers = {**JSON_HEADERS, hdrs.LOCATION: f"{PREFIX}/jobs/{job_id}"}
    return web.json_response(job.to_json(), status=202, headers=headers)


async def show_job(request: web.Request) -> web.Response:
    api = _api(request)
    job_id = int(request.match_info["id"])
    if not 0 < job_id <= MAX_JOB_ID:
        raise UnknownJobError(job_id)
    job = await api.jobs.job(job_id)
    return web.json_response(job.to_json(), headers=JSON_HEADERS)


async def list_jobs(request: web.Request) -> web.Response:
    api = _api(request)
    states = []
    for value in request.query.getall("state", []):
        try:
            states.append(JobState(value))
        except ValueError:
            known = ", ".join(s.value for s in JobState)
            raise ProblemError(400, f"unknown job state {value!r}", hint=f"one of {known}",
                               extensions={"field": "state"}) from None  # fmt: skip
    dataset = request.query.get("dataset") or None
    if dataset is not None:
        await api.catalog.datasets.get(dataset)
    found = await api.jobs.jobs(dataset=dataset, states=states, tasks=USER_TASKS, limit=LIMIT)
    jobs = await api.jobs.with_runs(found)
    return web.json_response({"jobs": [job.to_json() for job in jobs]}, headers=JSON_HEADERS)
