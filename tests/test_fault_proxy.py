"""The fault proxy (tests/fixtures/fault_proxy.py) does what each fault kind says, in front
of nginx, and counts it: the fault tests of the sync rely on both."""

from __future__ import annotations

import os
from pathlib import Path

import aiohttp
import pytest

from tests.fixtures.fault_proxy import (
    FLIP,
    IGNORE_RANGE,
    RESET,
    RESET_BEFORE,
    SERVER_ERROR,
    SLOW_DOWN,
    TRUNCATE,
    UNAVAILABLE,
    FaultProxy,
    Rule,
    fault_proxy,
)
from tests.fixtures.http_sources import NginxFactory

DATA = os.urandom(300_000)


@pytest.fixture
def upstream(tmp_path: Path, nginx_server: NginxFactory) -> str:
    (tmp_path / "f.bin").write_bytes(DATA)
    return nginx_server(tmp_path).url


async def get(proxy: FaultProxy, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(proxy.url + "f.bin", headers=headers) as response,
    ):
        return response.status, await response.read()


async def test_without_faults_it_relays_bodies_and_ranges_unchanged(upstream: str) -> None:
    async with fault_proxy(upstream) as proxy:
        assert await get(proxy) == (200, DATA)
        assert await get(proxy, {"Range": "bytes=10-19"}) == (206, DATA[10:20])
    assert proxy.relayed == 2
    assert sum(proxy.injected.values()) == 0


@pytest.mark.parametrize("kind", [RESET, RESET_BEFORE, TRUNCATE])
async def test_a_broken_answer_is_a_client_error_and_is_counted(upstream: str, kind: str) -> None:
    async with fault_proxy(upstream, [Rule({kind: 1.0})]) as proxy:
        with pytest.raises(aiohttp.ClientError):
            await get(proxy)
    assert set(proxy.injected) == {kind}  # aiohttp itself may try a reset request twice


async def test_a_flipped_answer_differs_from_the_file_in_exactly_one_bit(upstream: str) -> None:
    async with fault_proxy(upstream, [Rule({FLIP: 1.0})], seed=3) as proxy:
        status, body = await get(proxy)
    assert status == 200
    assert len(body) == len(DATA)
    differing = int.from_bytes(body, "big") ^ int.from_bytes(DATA, "big")
    assert differing.bit_count() == 1
    assert proxy.injected == {FLIP: 1}


@pytest.mark.parametrize(("kind", "status"), [(UNAVAILABLE, 503), (SERVER_ERROR, 500),
                                              (SLOW_DOWN, 503)])  # fmt: skip
async def test_an_error_answer_has_its_status_and_is_counted(
    upstream: str, kind: str, status: int
) -> None:
    async with (
        fault_proxy(upstream, [Rule({kind: 1.0})], retry_after=2) as proxy,
        aiohttp.ClientSession() as session,
        session.get(proxy.url + "f.bin") as response,
    ):
        assert response.status == status
        body = await response.text()
    if kind == UNAVAILABLE:
        assert response.headers["Retry-After"] == "2"
    else:
        assert "SlowDown" in body if kind == SLOW_DOWN else "InternalError" in body
    assert proxy.injected == {kind: 1}


async def test_an_ignored_range_answers_the_whole_file_and_only_ranged_requests_count(
    upstream: str,
) -> None:
    async with fault_proxy(upstream, [Rule({IGNORE_RANGE: 1.0})]) as proxy:
        assert await get(proxy) == (200, DATA)
        assert proxy.injected[IGNORE_RANGE] == 0
        assert await get(proxy, {"Range": "bytes=0-9"}) == (200, DATA)
    assert proxy.injected == {IGNORE_RANGE: 1}


async def test_filters_aim_faults_at_the_requests_they_name(upstream: str) -> None:
    rules = [Rule({RESET_BEFORE: 1.0}, methods=frozenset({"PUT"}), query="partNumber"),
             Rule({UNAVAILABLE: 1.0}, path=r"\.txt$")]  # fmt: skip
    async with fault_proxy(upstream, rules) as proxy:
        assert await get(proxy) == (200, DATA)
    assert sum(proxy.injected.values()) == 0


async def test_the_same_seed_injects_the_same_faults(upstream: str) -> None:
    seen = []
    for _ in range(2):
        async with fault_proxy(upstream, [Rule({UNAVAILABLE: 0.5})], seed=7) as proxy:
            seen.append([(await get(proxy))[0] for _ in range(12)])
    assert seen[0] == seen[1]
    assert {200, 503} == set(seen[0])
