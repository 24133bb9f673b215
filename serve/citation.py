"""How to cite a release: a "cite as" line, and BibTeX, CITATION.cff (1.2.0) and DataCite
JSON (kernel 4) documents, served under `/datasets/<ds>/<release>/.datamirror/`.

They describe the release as mirrored here (its creators, title, version, date and URL)
and point at what it is based on: the source, the upstream homepage, and the reference the
data's authors ask for (`citation`, whose DOI, if it has one, becomes a related identifier).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from catalog.agents import Agent, parse_agent
from serve.catalog_view import DatasetInfo
from serve.licenses import license_url, spdx_id

DOCUMENTS = {
    "citation.bib": "application/x-bibtex; charset=utf-8",
    "CITATION.cff": "application/yaml; charset=utf-8",
    "datacite.json": "application/vnd.datacite.datacite+json",
}
DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>]+[^\s\"<>.,;)])")


@dataclass(frozen=True, slots=True)
class Citable:
    """One release of a dataset, as cited."""

    ds: DatasetInfo
    release: str
    published: datetime | None
    url: str
    files: int
    size: int

    @property
    def title(self) -> str:
        return self.ds.title or self.ds.name

    @property
    def year(self) -> str:
        return str((self.published or self.ds.created_at).year)

    @property
    def creators(self) -> list[Agent]:
        """The creators; else the publisher; else the source's host, as an organization."""
        if self.ds.creators:
            return [parse_agent(c) for c in self.ds.creators]
        return [self.publisher]

    @property
    def publisher(self) -> Agent:
        if self.ds.publisher:
            return parse_agent(self.ds.publisher, role="publisher")
        return Agent(urlsplit(self.ds.url).hostname or self.ds.url)

    @property
    def doi(self) -> str | None:
        match = DOI.search(self.ds.citation or "")
        return match.group(1) if match else None


def cite_as(item: Citable) -> str:
    """One line, in the style of DataCite's recommended data citation."""
    names = ", ".join(_short(a) for a in item.creators)
    return (
        f"{names} ({item.year}). {item.title} (version {item.release}) [Data set]. "
        f"{item.publisher.name}. {item.url}"
    )


def _short(agent: Agent) -> str:
    if not agent.is_person:
        return agent.name
    initials = "".join(f"{part[0]}." for part in (agent.given or "").split() if part)
    return f"{agent.family}, {initials}" if initials else str(agent.family)


def document(name: str, item: Citable) -> bytes:
    if name == "citation.bib":
        return bibtex(item).encode()
    if name == "CITATION.cff":
        return cff(item).encode()
    return json.dumps(datacite(item), indent=2).encode()


_BIBTEX_SPECIAL = str.maketrans({c: "\\" + c for c in "{}%&$#_"} | {"\\": r"\textbackslash{}"})


def _tex(text: str) -> str:
    return text.translate(_BIBTEX_SPECIAL)


def bibtex(item: Citable) -> str:
    authors = " and ".join(
        _tex(f"{a.family}, {a.given}" if a.given else str(a.family)) if a.is_person
        else "{" + _tex(a.name) + "}"
        for a in item.creators
    )  # fmt: skip
    fields = {
        "author": authors,
        "title": "{" + _tex(item.title) + "}",
        "year": item.year,
        "version": _tex(item.release),
        "publisher": _tex(item.publisher.name),
        "howpublished": r"\url{" + item.url + "}",
        "url": item.url,
        "note": _tex(
            f"Mirror of {item.ds.url}" + (f". {item.ds.citation}" if item.ds.citation else "")
        ),
    }
    if item.ds.keywords:
        fields["keywords"] = _tex(", ".join(item.ds.keywords))
    key = re.sub(r"[^A-Za-z0-9]+", "_", f"{item.ds.name}_{item.release}")
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@misc{{{key},\n{body}\n}}\n"


def _yaml(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is one)."""
    return json.dumps(value, ensure_ascii=False)


def cff(item: Citable) -> str:
    message = "If you use this dataset, please cite it using the metadata from this file."
    if item.ds.citation:
        message += f" Its authors also ask to be cited as: {item.ds.citation}"
    lines = [
        "cff-version: 1.2.0",
        f"message: {_yaml(message)}",
        "type: dataset",
        f"title: {_yaml(item.title)}",
        f"version: {_yaml(item.release)}",
        f"url: {_yaml(item.url)}",
        f"repository: {_yaml(item.ds.url)}",
    ]
    if item.published:
        lines.append(f"date-released: {_yaml(item.published.date().isoformat())}")
    lines.append("authors:")
    for agent in item.creators:
        lines += _cff_agent(agent)
    if item.ds.description:
        lines.append(f"abstract: {_yaml(item.ds.description)}")
    if spdx_id(item.ds.license):
        lines.append(f"license: {_yaml(str(spdx_id(item.ds.license)))}")
    if item.ds.keywords:
        lines.append("keywords:")
        lines += [f"  - {_yaml(k)}" for k in item.ds.keywords]
    if item.doi:
        lines += ["identifiers:", "  - type: doi", f"    value: {_yaml(item.doi)}",
                  '    description: "the reference its authors ask for"']  # fmt: skip
    return "\n".join(lines) + "\n"


def _cff_agent(agent: Agent) -> list[str]:
    if agent.is_person:
        lines = [f"  - family-names: {_yaml(str(agent.family))}"]
        if agent.given:
            lines.append(f"    given-names: {_yaml(agent.given)}")
        if agent.url and "orcid.org/" in agent.url:
            lines.append(f"    orcid: {_yaml(agent.url)}")
        elif agent.url:
            lines.append(f"    website: {_yaml(agent.url)}")
        return lines
    lines = [f"  - name: {_yaml(agent.name)}"]
    if agent.url:
        lines.append(f"    website: {_yaml(agent.url)}")
    return lines


def datacite(item: Citable) -> dict[str, object]:
    """DataCite metadata (kernel 4.5) in the JSON of DataCite's REST API."""
    ds = item.ds
    related = [{"relatedIdentifier": ds.url, "relatedIdentifierType": "URL",
                "relationType": "IsDerivedFrom"}]  # fmt: skip
    if ds.homepage:
        related.append({"relatedIdentifier": ds.homepage, "relatedIdentifierType": "URL",
                        "relationType": "IsDerivedFrom"})  # fmt: skip
    if item.doi:
        related.append({"relatedIdentifier": item.doi, "relatedIdentifierType": "DOI",
                        "relationType": "IsDescribedBy"})  # fmt: skip
    document: dict[str, object] = {
        "schemaVersion": "http://datacite.org/schema/kernel-4",
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Mirrored release"},
        "identifiers": [{"identifier": item.url, "identifierType": "URL"}],
        "url": item.url,
        "creators": [_datacite_agent(a) for a in item.creators],
        "titles": [{"title": item.title}],
        "publisher": {"name": item.publisher.name},
        "publicationYear": item.year,
        "version": item.release,
        "subjects": [{"subject": k} for k in ds.keywords],
        "relatedIdentifiers": related,
        "sizes": [f"{item.files} files", f"{item.size} bytes"],
    }
    if item.published:
        document["dates"] = [{"date": item.published.date().isoformat(), "dateType": "Issued"}]
    if ds.description:
        document["descriptions"] = [{"description": ds.description, "descriptionType": "Abstract"}]
    if ds.license:
        rights: dict[str, str] = {"rights": ds.license}
        if license_url(ds.license):
            rights["rightsUri"] = str(license_url(ds.license))
        if spdx_id(ds.license):
            rights |= {"rightsIdentifier": str(spdx_id(ds.license)),
                       "rightsIdentifierScheme": "SPDX"}  # fmt: skip
        document["rightsList"] = [rights]
    return document


def _datacite_agent(agent: Agent) -> dict[str, object]:
    found: dict[str, object] = {"name": agent.name}
    if agent.is_person:
        found |= {"nameType": "Personal", "familyName": agent.family}
        if agent.given:
            found["givenName"] = agent.given
    else:
        found["nameType"] = "Organizational"
    if agent.url and "orcid.org/" in agent.url:
        found["nameIdentifiers"] = [{"nameIdentifier": agent.url, "nameIdentifierScheme": "ORCID",
                                     "schemeUri": "https://orcid.org"}]  # fmt: skip
    return found
