"""The public-address rule as a pure table: which addresses are public, how the allowlist
matches, and the named key pairs the settings read."""

from __future__ import annotations

import ipaddress

import pytest

from catalog.config import KeyPair, Settings, parse_credentials
from catalog.errors import NotPublicAddressError
from catalog.public_address import PublicAddressRule, address_of, is_public, parse_allowlist

NOT_PUBLIC = [
    "127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.0.7",
    "169.254.169.254",  # cloud metadata
    "fd00:ec2::254",  # AWS metadata over IPv6 (unique local)
    "fe80::1", "100.64.0.1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "240.0.0.1",
    "192.0.2.10", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
]  # fmt: skip
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14"]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_loopback_private_link_local_and_reserved_addresses_are_not_public(text: str) -> None:
    assert not is_public(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_global_unicast_addresses_are_public(text: str) -> None:
    assert is_public(ipaddress.ip_address(text))


def test_a_host_with_one_private_address_among_public_ones_is_refused() -> None:
    rule = PublicAddressRule()
    addresses = [address_of("93.184.215.14"), address_of("10.0.0.5")]
    with pytest.raises(NotPublicAddressError) as refused:
        rule.check("mixed.example.org", addresses)
    assert refused.value.address == "10.0.0.5"
    assert refused.value.message.startswith("mixed.example.org resolves to 10.0.0.5, which")
    assert refused.value.hint.endswith("DATAMIRROR_SOURCE_ALLOWLIST=mixed.example.org")


def test_the_allowlist_matches_names_without_case_or_trailing_dot_and_literals() -> None:
    rule = PublicAddressRule(parse_allowlist(" Mirror.Internal. , 10.0.0.5,[::1]"))
    assert rule.allowlist == {"mirror.internal", "10.0.0.5", "::1"}
    rule.check("MIRROR.internal.", [address_of("10.9.9.9")])
    rule.check("other.example.org", [address_of("10.0.0.5")])  # an allowed literal
    rule.check("[::1]", [address_of("::1")])
    with pytest.raises(NotPublicAddressError):
        rule.check("other.example.org", [address_of("10.0.0.6")])


async def test_an_address_literal_is_judged_without_resolving() -> None:
    rule = PublicAddressRule()
    assert await rule.resolve("93.184.215.14") == [address_of("93.184.215.14")]
    with pytest.raises(NotPublicAddressError, match=r"^169\.254\.169\.254 is not a public"):
        await rule.resolve("169.254.169.254")
    with pytest.raises(NotPublicAddressError):
        rule.resolve_blocking("[::1]")


def test_named_key_pairs_come_from_the_environment_whole_or_not_at_all() -> None:
    env = {
        "DATAMIRROR_CREDENTIALS_EMBASSY_ACCESS_KEY_ID": "AKIA1",
        "DATAMIRROR_CREDENTIALS_EMBASSY_SECRET_ACCESS_KEY": "s1",
        "DATAMIRROR_CREDENTIALS_EBI_READER_ACCESS_KEY_ID": "AKIA2",
        "DATAMIRROR_CREDENTIALS_EBI_READER_SECRET_ACCESS_KEY": "s2",
        "DATAMIRROR_CREDENTIALS_EBI_READER_SESSION_TOKEN": "t2",
        "DATAMIRROR_CREDENTIALS_HALF_ACCESS_KEY_ID": "AKIA3",
    }
    assert parse_credentials(env) == {
        "EMBASSY": KeyPair("AKIA1", "s1"),
        "EBI_READER": KeyPair("AKIA2", "s2", "t2"),
    }
    settings = Settings.from_env(env)
    assert settings.key_pair("ebi-reader") == KeyPair("AKIA2", "s2", "t2")
    assert settings.key_pair("half") is None
    assert "s1" not in repr(settings)
