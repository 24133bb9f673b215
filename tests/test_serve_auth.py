"""Restricted datasets: invisible without access, open with a read or curator token or a
signed URL, private in caches and CORS; token revocation within the cache TTL; the token CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from email.message import Message

import pytest

from serve.signing import signature
from tests.conftest import CLI
from tests.fixtures.datamirror_server import Site
from tests.fixtures.net import require_binary

LOCAL = pytest.mark.parametrize("site", ["local"], indirect=True)
FILES = {"dir/a.txt": b"restricted bytes 0123456789", "readme.txt": b"about"}
TOKEN_TTL = 5.0


def fetch(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dataset_urls(site: Site, name: str, release: str) -> list[str]:
    base = f"{site.base}/datasets/{name}"
    return [
        f"{base}/",
        f"{base}/latest/",
        f"{base}/latest/dir/",
        f"{base}/latest/dir/a.txt",
        f"{base}/{release}/dir/a.txt",
        f"{base}/{release}/manifest.json",
    ]


def unknown_answer(site: Site, name: str, url: str) -> tuple[int, bytes]:
    """What the same URL answers for a dataset that does not exist."""
    status, _, body = fetch(url.replace(name, "no-such-dataset"))
    return status, body.replace(b"no-such-dataset", name.encode())


@LOCAL
async def test_a_restricted_dataset_is_invisible_and_404_everywhere_without_a_token(
    site: Site,
) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    release = (await site.catalog.releases.current(name)).name
    for headers in ({}, bearer("not-a-token")):
        for accept in ("text/html", "application/json"):
            _, _, index = fetch(site.base + "/", headers={**headers, "Accept": accept})
            assert name.encode() not in index
        for url in dataset_urls(site, name, release):
            status, _, body = fetch(url, headers=headers)
            assert (status, body) == unknown_answer(site, name, url)
            assert status == 404
            assert fetch(url, method="HEAD", headers=headers)[0] == 404


@LOCAL
async def test_a_read_token_opens_a_restricted_dataset_like_a_public_one(site: Site) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    release = (await site.catalog.releases.current(name)).name
    auth = bearer(await site.catalog.tokens.create(f"read:{name}", label="test"))
    index = json.loads(fetch(site.base + "/", headers={**auth, "Accept": "application/json"})[2])
    assert name in {d["name"] for d in index["datasets"]}
    for url in dataset_urls(site, name, release):
        status, headers, _ = fetch(url, headers=auth)
        assert status == 200, url
        assert headers["Cache-Control"].startswith("private")
        assert "Access-Control-Allow-Origin" not in headers
    url = f"{site.base}/datasets/{name}/latest/dir/a.txt"
    status, headers, body = fetch(url, headers={**auth, "Range": "bytes=0-9"})
    assert (status, body) == (206, FILES["dir/a.txt"][:10])
    status, headers, body = fetch(url, method="HEAD", headers=auth)
    assert (status, headers["Content-Length"], body) == (200, str(len(FILES["dir/a.txt"])), b"")
    origin = "https://viewer.example.org"
    headers = fetch(url, headers={**auth, "Origin": origin})[1]
    assert headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in headers.get_all("Vary", [])


@LOCAL
async def test_curl_reads_a_range_of_a_restricted_file_with_a_read_token(site: Site) -> None:
    curl = require_binary("curl", "curl")
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    token = await site.catalog.tokens.create(f"read:{name}")
    url = f"{site.base}/datasets/{name}/latest/dir/a.txt"
    argv = [curl, "-sf", "-r", "8-12", "-H", f"Authorization: Bearer {token}", url]
    out = subprocess.run(argv, capture_output=True, timeout=30, check=True).stdout
    assert out == FILES["dir/a.txt"][8:13]
    plain = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", url],
                           capture_output=True, timeout=30, check=True).stdout  # fmt: skip
    assert plain == b"404"


@LOCAL
async def test_a_token_for_another_dataset_does_not_open_it(site: Site) -> None:
    mine = await site.publish(FILES, prefix="restricted", restricted=True)
    theirs = await site.publish(FILES, prefix="restricted", restricted=True)
    auth = bearer(await site.catalog.tokens.create(f"read:{mine}"))
    assert fetch(f"{site.base}/datasets/{mine}/latest/dir/a.txt", headers=auth)[0] == 200
    assert fetch(f"{site.base}/datasets/{theirs}/latest/dir/a.txt", headers=auth)[0] == 404
    assert theirs.encode() not in fetch(site.base + "/", headers=auth)[2]


@LOCAL
async def test_a_curator_token_opens_every_restricted_dataset(site: Site) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    auth = bearer(await site.catalog.tokens.create("curator"))
    status, _, body = fetch(f"{site.base}/datasets/{name}/latest/readme.txt", headers=auth)
    assert (status, body) == (200, FILES["readme.txt"])


@LOCAL
async def test_a_revoked_token_stops_working_within_the_cache_ttl(site: Site) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    token = await site.catalog.tokens.create(f"read:{name}")
    url = f"{site.base}/datasets/{name}/latest/readme.txt"
    assert fetch(url, headers=bearer(token))[0] == 200
    (row,) = [t for t in (await site.catalog.tokens.list()) if t.scopes == (f"read:{name}",)]
    await site.catalog.tokens.revoke(row.id)
    revoked = time.monotonic()
    status = 200
    while status == 200 and time.monotonic() - revoked < TOKEN_TTL + 5:
        status = fetch(url, headers=bearer(token))[0]
        time.sleep(0.2)
    assert status == 404
    assert time.monotonic() - revoked < TOKEN_TTL + 1


async def signed(site: Site, path: str, expires: int) -> str:
    sig = signature((await site.catalog.tokens.signing_key()), path, expires)
    return f"{site.base}{path}?expires={expires}&signature={sig}"


@LOCAL
async def test_a_signed_url_works_until_it_expires_and_a_tampered_one_fails(site: Site) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    path = f"/datasets/{name}/latest/dir/a.txt"
    expires = int(time.time()) + 3
    url = await signed(site, path, expires)
    status, _, body = fetch(url)
    assert (status, body) == (200, FILES["dir/a.txt"])
    assert fetch(url, method="HEAD")[0] == 200
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    status, _, body = fetch(tampered, headers={"Accept": "application/json"})
    assert status == 403
    assert "signature does not match" in json.loads(body)["detail"]
    other = url.replace("dir/a.txt", "readme.txt")
    assert fetch(other)[0] == 403
    later = url.replace(f"expires={expires}", f"expires={expires + 100}")
    assert fetch(later)[0] == 403
    while time.time() <= expires + 0.5:
        time.sleep(0.1)
    status, _, body = fetch(url)
    assert status == 403
    assert b"expired" in body


@LOCAL
async def test_token_sign_prints_a_signed_path_the_server_accepts(site: Site) -> None:
    name = await site.publish(FILES, prefix="restricted", restricted=True)
    argv = [sys.executable, "-m", "datamirror", "token", "sign", f"{name}/latest/readme.txt"]
    out = subprocess.run(
        [*argv, "--expires-in", "60"], env=site.env, capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout.strip()  # fmt: skip
    assert re.fullmatch(
        rf"/datasets/{name}/latest/readme\.txt\?expires=\d+&signature=[0-9a-f]{{64}}", out
    )
    assert fetch(site.base + out)[2] == FILES["readme.txt"]


def test_the_token_cli_creates_lists_and_revokes_tokens(cli: CLI) -> None:
    cli("source", "add", "genomes", "https://ftp.example.org/pub/genomes/", "--restricted")
    created = cli("token", "create", "--scope", "read:genomes", "--label", "lab-a").stdout
    secret = created.split()[-1]
    assert len(secret) >= 40
    listed = cli("token", "list").stdout
    assert listed.splitlines()[0].split() == ["ID", "SCOPES", "LABEL", "CREATED", "STATE"]
    assert re.search(r"^1\s+read:genomes\s+lab-a\s+.*\s+active$", listed, re.MULTILINE)
    assert secret not in listed
    assert "revoked token 1" in cli("token", "revoke", "1").stdout
    assert "revoked" in cli("token", "list").stdout.splitlines()[1].split("  ")[-1]
    unknown = cli("token", "create", "--scope", "read:nothing", check=False)
    assert unknown.returncode == 1
    assert "unknown dataset 'nothing'" in unknown.stderr
    bad = cli("token", "create", "--scope", "admin", check=False)
    assert "invalid token scope 'admin'" in bad.stderr
    assert "no token with id 99" in cli("token", "revoke", "99", check=False).stderr
