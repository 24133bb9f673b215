"""FAIR metadata as machines read it, from a site built with the real CLI: schema.org
JSON-LD in the page and by `Accept: application/ld+json`, JSON by `Accept:
application/json`, citations (BibTeX, CITATION.cff, DataCite JSON), sitemap.xml and
robots.txt; restricted datasets answer exactly like unknown ones without a token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import yaml

from tests.fixtures.fair_site import CITATION, DESCRIPTION, GENOMES, SECRET, ZEBRAFISH, FairSite


def get(
    url: str, accept: str | None = None, token: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Accept": accept} if accept else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


class JsonLd(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.documents: list[Any] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = tag == "script" and ("type", "application/ld+json") in attrs

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.documents.append(json.loads(data))

    def handle_endtag(self, tag: str) -> None:
        self.inside = False


def page_json_ld(url: str) -> dict[str, Any]:
    parser = JsonLd()
    parser.feed(get(url)[2].decode())
    (document,) = parser.documents
    return document  # type: ignore[no-any-return]


def test_the_landing_pages_json_ld_carries_what_google_asks_of_a_dataset(
    fair_site: FairSite,
) -> None:
    ld = page_json_ld(fair_site.landing())
    release = fair_site.releases[-1]
    assert (ld["@context"], ld["@type"], ld["name"]) == ("https://schema.org/", "Dataset",
                                                          "Two model genomes")  # fmt: skip
    assert ld["description"] == DESCRIPTION
    assert 50 <= len(ld["description"]) <= 5000
    assert ld["url"] == ld["identifier"] == fair_site.landing()
    assert ld["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert ld["creator"][0] == {"@type": "Person", "name": "Jane Doe", "familyName": "Doe",
                                "givenName": "Jane",
                                "sameAs": "https://orcid.org/0000-0002-1825-0097"}  # fmt: skip
    assert ld["creator"][1] == {"@type": "Organization", "name": "The Genome Consortium"}
    assert ld["publisher"] == {"@type": "Organization", "name": "EMBL-EBI",
                               "url": "https://www.ebi.ac.uk"}  # fmt: skip
    assert ld["version"] == release
    assert ld["dateModified"].startswith(release[:10])
    assert ld["keywords"] == ["genomics", "variants", "OME-Zarr"]
    assert ld["citation"] == CITATION
    assert ld["isBasedOn"][1] == "https://genomes.example.org/about"
    downloads = {d["name"]: d for d in ld["distribution"]}
    chr1 = downloads["genome/chr1.fa"]
    assert chr1["contentUrl"] == f"{fair_site.landing()}{release}/genome/chr1.fa"
    assert chr1["encodingFormat"] == "text/x-fasta"
    assert all(d["@type"] == "DataDownload" and d["encodingFormat"] for d in downloads.values())
    assert get(chr1["contentUrl"])[2] == (fair_site.source / "genome/chr1.fa").read_bytes()
    status, headers, body = get(fair_site.landing(), accept="application/ld+json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/ld+json")
    assert json.loads(body) == ld


def test_a_short_description_is_lengthened_for_search_engines(fair_site: FairSite) -> None:
    ld = page_json_ld(fair_site.landing(ZEBRAFISH))
    assert 50 <= len(ld["description"]) <= 5000
    assert "A mirror of http://127.0.0.1:" in ld["description"]
    assert ld["publisher"]["name"] == "127.0.0.1"


def test_the_same_urls_answer_json_and_json_ld_by_accept(fair_site: FairSite) -> None:
    landing = json.loads(get(fair_site.landing(), accept="application/json")[2])
    assert landing["keywords"] == ["genomics", "variants", "OME-Zarr"]
    assert landing["homepage"] == "https://genomes.example.org/about"
    newest = landing["releases"][0]
    assert newest["changes"] == {"added": 1, "changed": 2, "removed": 1}
    assert "published" in newest["report"]
    assert {d["tool"] for d in landing["downloads"]} >= {"curl", "wget", "rclone", "md5sum"}
    index = json.loads(get(fair_site.base + "/?q=imaging", accept="application/json")[2])
    assert [d["name"] for d in index["datasets"]] == [ZEBRAFISH]
    catalog = json.loads(get(fair_site.base + "/", accept="application/ld+json")[2])
    assert catalog["@type"] == "DataCatalog"
    assert len(catalog["dataset"]) == 2
    listing = f"{fair_site.landing()}{fair_site.releases[-1]}/genome/"
    folder = json.loads(get(listing, accept="application/ld+json")[2])
    assert folder["isPartOf"]["url"] == fair_site.landing()
    assert {d["name"] for d in folder["distribution"]} == {"chr1.fa", "chr2.fa"}
    assert json.loads(get(listing, accept="application/json")[2])["path"] == "genome"
    _, headers, _ = get(fair_site.landing(), accept="text/html,*/*;q=0.8")
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Vary"] == "Accept"


def test_citations_download_as_bibtex_cff_and_datacite(fair_site: FairSite) -> None:
    release = fair_site.releases[-1]
    base = f"{fair_site.landing()}{release}/.datamirror/"
    status, headers, bib = get(base + "citation.bib")
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-bibtex")
    text = bib.decode()
    assert text.startswith(f"@misc{{genomes_{release.replace('-', '_').replace('.', '_')},")
    assert "author = {Doe, Jane and {The Genome Consortium}}" in text
    assert f"version = {{{release}}}" in text
    cff = yaml.safe_load(get(base + "CITATION.cff")[2])
    assert (cff["cff-version"], cff["type"], cff["version"]) == ("1.2.0", "dataset", release)
    assert cff["authors"][0] == {"family-names": "Doe", "given-names": "Jane",
                                 "orcid": "https://orcid.org/0000-0002-1825-0097"}  # fmt: skip
    assert cff["license"] == "CC-BY-4.0"
    assert cff["identifiers"][0]["value"] == "10.1093/nar/gkad999"
    datacite = json.loads(get(base + "datacite.json")[2])
    assert datacite["types"]["resourceTypeGeneral"] == "Dataset"
    assert datacite["creators"][0]["nameType"] == "Personal"
    assert datacite["rightsList"][0]["rightsIdentifier"] == "CC-BY-4.0"
    assert {"relatedIdentifier": "10.1093/nar/gkad999", "relatedIdentifierType": "DOI",
            "relationType": "IsDescribedBy"} in datacite["relatedIdentifiers"]  # fmt: skip


def test_crawlers_get_a_sitemap_of_public_landing_pages_and_robots_rules(
    fair_site: FairSite,
) -> None:
    status, headers, body = get(fair_site.base + "/sitemap.xml")
    assert status == 200
    assert headers["Content-Type"].startswith("application/xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in ET.fromstring(body).findall("s:url/s:loc", ns)]
    assert locs == [f"{fair_site.base}/", fair_site.landing(GENOMES), fair_site.landing(ZEBRAFISH)]
    robots = get(fair_site.base + "/robots.txt")[2].decode()
    assert f"Sitemap: {fair_site.base}/sitemap.xml" in robots
    assert "Disallow: /api/" in robots
    css = get(fair_site.base + "/")[2].decode().split('rel="stylesheet" href="')[1].split('"')[0]
    status, headers, _ = get(fair_site.base + css)
    assert (status, headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    assert "immutable" in headers["Cache-Control"]


def test_a_restricted_datasets_metadata_shows_only_with_a_token(fair_site: FairSite) -> None:
    release = json.loads(fair_site.cli("releases", SECRET, "--json").stdout)[0]["name"]
    urls = [fair_site.landing(SECRET),
            f"{fair_site.landing(SECRET)}{release}/.datamirror/citation.bib",
            f"{fair_site.landing(SECRET)}{release}/.datamirror/datacite.json"]  # fmt: skip
    for url in urls:
        for accept in (None, "application/json", "application/ld+json"):
            status, _, body = get(url, accept=accept)
            unknown = get(url.replace(SECRET, "no-such-set"), accept=accept)
            assert (status, body) == (
                unknown[0],
                unknown[2].replace(b"no-such-set", SECRET.encode()),
            )
            assert status == 404
    for accept in (None, "application/json", "application/ld+json"):
        assert SECRET.encode() not in get(fair_site.base + "/", accept=accept)[2]
    assert SECRET.encode() not in get(fair_site.base + "/sitemap.xml")[2]
    token = fair_site.read_token
    ld = json.loads(get(fair_site.landing(SECRET), "application/ld+json", token)[2])
    assert (ld["name"], ld["isAccessibleForFree"]) == ("Secret cohort", False)
    assert SECRET.encode() in get(fair_site.base + "/", token=token)[2]
    assert get(urls[1], token=token)[0] == 200
    assert SECRET.encode() not in get(fair_site.base + "/sitemap.xml", token=token)[2]
