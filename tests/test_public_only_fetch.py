"""Sources registered through the curator API are checked again when they are fetched: a
redirect to another loopback address, a name that resolved public at registration and
resolves to loopback at fetch time (DNS rebinding, through a resolver this test controls),
and FTP and S3 endpoints on loopback are refused with a SourceError naming the address and
DATAMIRROR_SOURCE_ALLOWLIST; the allowlist lets the same servers through, which proves they
were there to be reached."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from catalog.config import KeyPair, Settings
from catalog.errors import PeerRefusedError, SourceError, SyncAbortedError
from catalog.public_address import PUBLIC_ONLY, PublicAddressRule
from catalog.repository import Catalog
from catalog.source_spec import DatasetSpec
from datamirror.runtime import open_runtime
from mirror import jobs
from mirror.sample_source import ROOT as SAMPLE_ROOT
from mirror.sample_source import handle as sample_handle
from mirror.sample_source import make_app as sample_app
from mirror.sources.factory import open_source
from mirror.sources.http import HTTPSource
from serve.app import ServeConfig, make_app
from tests.fixtures.ftp_server import FTPFactory
from tests.fixtures.net import LOOPBACK
from tests.fixtures.s3_servers import S3Endpoint

OTHER_LOOPBACK = "127.0.0.2"
PUBLIC = "93.184.215.14"
FILES = {"README.txt": b"a small tree\n", "data/reads.fq": b"@r1\nACGT\n+\nIIII\n"}


def write_tree(root: Path) -> Path:
    for path, data in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


@asynccontextmanager
async def serving(app: web.Application, host: str) -> AsyncIterator[int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, 0).start()
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


def redirecting_to(target: str) -> web.Application:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(target + request.match_info["path"])

    app = web.Application()
    app.router.add_get("/{path:.*}", redirect)
    return app


async def listed(source: Any) -> dict[str, int]:
    try:
        return {entry.path: entry.size async for entry in source.list()}
    finally:
        await source.close()


async def test_a_redirect_to_another_loopback_address_is_refused(tmp_path: Path) -> None:
    async with (
        serving(sample_app(write_tree(tmp_path)), OTHER_LOOPBACK) as port,
        serving(redirecting_to(f"http://{OTHER_LOOPBACK}:{port}/"), LOOPBACK) as front,
    ):
        rule = PublicAddressRule(frozenset({LOOPBACK}))
        source = HTTPSource(f"http://{LOOPBACK}:{front}/", address_rule=rule)
        with pytest.raises(PeerRefusedError) as refused:
            await listed(source)
        assert refused.value.address == OTHER_LOOPBACK
        assert f"{OTHER_LOOPBACK} is not a public address" in refused.value.message
        assert f"DATAMIRROR_SOURCE_ALLOWLIST={OTHER_LOOPBACK}" in refused.value.hint
        both = PublicAddressRule(frozenset({LOOPBACK, OTHER_LOOPBACK}))
        source = HTTPSource(f"http://{LOOPBACK}:{front}/", address_rule=both)
        assert await listed(source) == {p: len(d) for p, d in FILES.items()}


async def test_a_redirect_to_a_name_of_loopback_is_refused(tmp_path: Path) -> None:
    async with (
        serving(sample_app(write_tree(tmp_path)), LOOPBACK) as port,
        serving(redirecting_to(f"http://localhost:{port}/"), OTHER_LOOPBACK) as front,
    ):
        rule = PublicAddressRule(frozenset({OTHER_LOOPBACK}))
        with pytest.raises(PeerRefusedError) as refused:
            await listed(HTTPSource(f"http://{OTHER_LOOPBACK}:{front}/", address_rule=rule))
        assert refused.value.host == "localhost"
        assert "localhost resolves to " in refused.value.message
        assert "DATAMIRROR_SOURCE_ALLOWLIST=localhost" in refused.value.hint


async def test_a_file_redirected_to_loopback_fails_the_sync_and_names_the_address(
    catalog: Catalog, tmp_path: Path
) -> None:
    """The listing is on an allowed host; one file's URL redirects to another loopback
    address: that file fails, and the release is not published."""
    async with serving(sample_app(write_tree(tmp_path / "other")), OTHER_LOOPBACK) as port:

        async def front(request: web.Request) -> web.StreamResponse:
            if request.path == "/data/reads.fq":
                raise web.HTTPFound(f"http://{OTHER_LOOPBACK}:{port}/data/reads.fq")
            return await sample_handle(request)

        app = web.Application()
        app[SAMPLE_ROOT] = write_tree(tmp_path / "front").resolve()
        app.router.add_get("/{path:.*}", front)
        async with serving(app, LOOPBACK) as front_port:
            url = f"http://{LOOPBACK}:{front_port}/"
            await catalog.datasets.add(DatasetSpec("redirected", url, options={PUBLIC_ONLY: True}))
            settings = _settings(catalog, tmp_path, allowlist={LOOPBACK})
            async with open_runtime(settings) as runtime:
                with pytest.raises(SyncAbortedError) as aborted:
                    await jobs.sync(runtime, "redirected")
            notes = "\n".join(getattr(aborted.value, "__notes__", []))
            assert f"{OTHER_LOOPBACK} is not a public address" in notes
            assert (await catalog.datasets.get("redirected")).current_release_id is None


class FakeDNS:
    """The loop's getaddrinfo, with answers this test sets for its own names."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.answers: dict[str, str] = {}
        self.asked: list[str] = []

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.answers:
            return await self.real(host, port, *args, **kwargs)
        self.asked.append(name)
        number = int(port or 0)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self.answers[name], number))]


async def test_a_name_public_at_registration_and_loopback_at_fetch_time_is_refused(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    dns = FakeDNS(loop.getaddrinfo)
    monkeypatch.setattr(loop, "getaddrinfo", dns.getaddrinfo)
    name = "data.rebind.test"
    dns.answers[name] = PUBLIC
    settings = _settings(catalog, tmp_path)
    token = await catalog.tokens.create("curator")
    async with serving(sample_app(write_tree(tmp_path / "tree")), LOOPBACK) as port:
        app = make_app(ServeConfig(), lambda: open_runtime(settings))
        async with TestClient(TestServer(app, host=LOOPBACK)) as client:
            answer = await client.post(
                "/api/v1/sources",
                json={"name": "rebound", "url": f"http://{name}:{port}/"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status == 201, await answer.text()
            assert (await answer.json())["public_only"] is True
        assert dns.asked == [name]  # registration saw the public address
        dns.answers[name] = LOOPBACK  # ... and now the name points at loopback
        async with open_runtime(settings) as runtime:
            with pytest.raises(PeerRefusedError) as refused:
                await jobs.sync(runtime, "rebound")
        assert f"{name} resolves to {LOOPBACK}, which is not a public address" in str(refused.value)
        assert f"DATAMIRROR_SOURCE_ALLOWLIST={name}" in refused.value.hint
        assert refused.value.status == 400
        allowed = dataclasses.replace(settings, source_allowlist=frozenset({name}))
        async with open_runtime(allowed) as runtime:
            report = await jobs.sync(runtime, "rebound")
        assert report.published
        assert report.new == len(FILES)


@pytest.mark.ftp
async def test_an_ftp_source_on_loopback_is_refused_when_fetched(
    catalog: Catalog, tmp_path: Path, ftp_server: FTPFactory
) -> None:
    handle = ftp_server(write_tree(tmp_path / "tree"))
    options = {PUBLIC_ONLY: True}
    with pytest.raises(PeerRefusedError) as refused:
        await listed(open_source(handle.url, options, settings=_settings(catalog, tmp_path)))
    assert refused.value.address == LOOPBACK
    assert "DATAMIRROR_SOURCE_ALLOWLIST" in refused.value.hint
    allowed = _settings(catalog, tmp_path, allowlist={LOOPBACK})
    assert await listed(open_source(handle.url, options, settings=allowed)) == {
        p: len(d) for p, d in FILES.items()
    }


@pytest.mark.s3
async def test_an_s3_endpoint_on_loopback_is_refused_when_fetched(
    catalog: Catalog, tmp_path: Path, moto_endpoint: S3Endpoint
) -> None:
    bucket = _bucket_with_readme(moto_endpoint)
    url = f"s3://{bucket}/pub/"
    options = {PUBLIC_ONLY: True, "endpoint_url": moto_endpoint.endpoint_url, "credentials": "k"}
    keys = {"K": KeyPair(moto_endpoint.access_key, moto_endpoint.secret_key)}
    settings = dataclasses.replace(_settings(catalog, tmp_path), source_credentials=keys)
    with pytest.raises(PeerRefusedError) as refused:
        await listed(open_source(url, options, settings=settings))  # boto3's listing
    assert refused.value.address == LOOPBACK
    assert "DATAMIRROR_SOURCE_ALLOWLIST" in refused.value.hint
    allowed = dataclasses.replace(settings, source_allowlist=frozenset({LOOPBACK}))
    assert await read_readme(open_source(url, options, settings=allowed)) == FILES["README.txt"]


@pytest.mark.s3
async def test_a_public_only_s3_source_never_signs_with_the_stores_credentials(
    catalog: Catalog, tmp_path: Path, moto_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's key pair is in the environment, where boto3's chain finds it: an
    operator's source signs with it, a public-only source without a key pair of its own
    reads unsigned (the private bucket refuses it), one with a named key pair signs with
    that."""
    for variable, value in moto_endpoint.env().items():
        monkeypatch.setenv(variable, value)
    bucket = _bucket_with_readme(moto_endpoint)
    url = f"s3://{bucket}/pub/"
    settings = _settings(catalog, tmp_path, allowlist={LOOPBACK})
    operator = {"endpoint_url": moto_endpoint.endpoint_url}
    assert await read_readme(open_source(url, operator, settings=settings)) == FILES["README.txt"]
    public_only = {**operator, PUBLIC_ONLY: True}
    with pytest.raises(SourceError, match="S3 403"):
        await read_readme(open_source(url, public_only, settings=settings))
    named = {**public_only, "credentials": "embassy-reader"}
    with pytest.raises(SourceError, match="no credentials named 'embassy-reader'") as missing:
        open_source(url, named, settings=settings)
    assert "DATAMIRROR_CREDENTIALS_EMBASSY_READER_ACCESS_KEY_ID" in missing.value.hint
    keys = {
        "DATAMIRROR_CREDENTIALS_EMBASSY_READER_ACCESS_KEY_ID": moto_endpoint.access_key,
        "DATAMIRROR_CREDENTIALS_EMBASSY_READER_SECRET_ACCESS_KEY": moto_endpoint.secret_key,
    }
    with_keys = dataclasses.replace(
        settings, source_credentials=Settings.from_env(keys).source_credentials
    )
    assert await read_readme(open_source(url, named, settings=with_keys)) == FILES["README.txt"]


def _bucket_with_readme(endpoint: S3Endpoint) -> str:
    bucket = endpoint.new_bucket("src")
    client = endpoint.client()
    try:
        client.put_object(Bucket=bucket, Key="pub/README.txt", Body=FILES["README.txt"])
    finally:
        client.close()
    return bucket


async def read_readme(source: Any) -> bytes:
    try:
        return b"".join([c async for c in source.read("README.txt")])
    finally:
        await source.close()


def _settings(catalog: Catalog, tmp_path: Path, allowlist: set[str] | None = None) -> Settings:
    return Settings(
        home=tmp_path,
        db_url=catalog.url,
        store_url=(tmp_path / "store").as_uri(),
        source_allowlist=frozenset(allowlist or ()),
    )
