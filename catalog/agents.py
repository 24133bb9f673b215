"""Creators and publishers as curators write them, read one way everywhere (schema.org,
BibTeX, CITATION.cff, DataCite):

    "Family, Given"                       a person (the DataCite convention)
    "Family, Given <https://orcid.org/…>" a person with an identifier
    "The UniProt Consortium"              an organization (no comma)
    "EMBL-EBI <https://www.ebi.ac.uk>"    an organization with a URL
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from catalog.errors import InvalidSettingError

_WITH_URL = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<url>[^<>\s]+)>\s*$")
AGENT_HINT = (
    "write a person as 'Family, Given' and an organization without a comma; add a URL "
    "(an ORCID for a person) in angle brackets: 'Doe, Jane <https://orcid.org/0000-0002-1825-0097>'"
)


@dataclass(frozen=True, slots=True)
class Agent:
    """A person (`family` set) or an organization, with an optional URL."""

    name: str
    family: str | None = None
    given: str | None = None
    url: str | None = None

    @property
    def is_person(self) -> bool:
        return self.family is not None

    def schema_org(self) -> dict[str, Any]:
        """This agent as a schema.org Person or Organization (without an `@id`)."""
        if self.family is not None:
            found: dict[str, Any] = {"@type": "Person", "name": self.display}
            found["familyName"] = self.family
            if self.given:
                found["givenName"] = self.given
        else:
            found = {"@type": "Organization", "name": self.name}
        if self.url:
            found["sameAs" if self.family is not None else "url"] = self.url
        return found

    @property
    def display(self) -> str:
        """`Given Family` for a person, the name for an organization."""
        if self.family is None:
            return self.name
        return f"{self.given} {self.family}" if self.given else self.family


def parse_agent(text: str, *, role: str = "creator") -> Agent:
    """An agent from a curator's text; InvalidSettingError naming `role` if it is malformed."""
    stripped = text.strip()
    url = None
    match = _WITH_URL.match(stripped)
    if match:
        stripped, url = match.group("name"), match.group("url")
        check_web_url(url, what=f"the URL of {role} {text!r}")
    if not stripped or "<" in stripped or ">" in stripped:
        raise InvalidSettingError(f"invalid {role} {text!r}", hint=AGENT_HINT)
    family, comma, given = (part.strip() for part in stripped.partition(","))
    if not comma:
        return Agent(stripped, url=url)
    if not family or "," in given:
        raise InvalidSettingError(f"invalid {role} {text!r}", hint=AGENT_HINT)
    return Agent(stripped, family=family, given=given or None, url=url)


def check_web_url(url: str, *, what: str) -> str:
    """An http(s) URL with a host, else InvalidSettingError saying `what` it was."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidSettingError(
            f"{what} is not an http:// or https:// URL: {url!r}",
            hint="give a full web address, e.g. https://www.uniprot.org/",
        )
    if any(c.isspace() for c in url):
        raise InvalidSettingError(
            f"{what} contains a space: {url!r}", hint="percent-encode spaces as %20"
        )
    return url
