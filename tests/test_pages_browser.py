"""What a person sees, in headless Chromium against `datamirror serve`: the dataset index
and its search, a landing page (title, license, releases with their changes, download
lines, the citation), a listing with breadcrumbs, sizes, dates and checksums, and a page
that fits a phone. Every page is kept as a screenshot (CI artefacts; docs/screenshots/).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.browser import PHONE
from tests.fixtures.fair_site import GENOMES, SECRET, ZEBRAFISH, FairSite

Screenshot = Callable[[Any, str], Path]


def visible_datasets(page: Any) -> list[str]:
    return [row.get_attribute("data-dataset") for row in page.locator("tr[data-dataset]").all()]


def test_the_index_lists_public_datasets_with_their_facts_and_search_narrows_it(
    fair_site: FairSite, page: Any, screenshot: Screenshot
) -> None:
    page.goto(fair_site.base + "/")
    assert page.title() == "Datasets"
    assert visible_datasets(page) == [GENOMES, ZEBRAFISH]
    genomes = page.locator(f"tr[data-dataset={GENOMES}]").inner_text()
    for fact in ("Two model genomes", "CC-BY-4.0", "genomics", "KiB"):
        assert fact in genomes
    assert SECRET not in page.content()
    screenshot(page, "index")
    page.get_by_role("searchbox").fill("imaging")
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url("**/?q=imaging")
    assert visible_datasets(page) == [ZEBRAFISH]
    assert "1 of 2 datasets match" in page.locator("#matches").inner_text()
    page.get_by_role("searchbox").fill("genome")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=genome")
    assert visible_datasets(page) == [GENOMES]
    screenshot(page, "index-search")


def test_a_landing_page_shows_title_license_releases_changes_and_download_lines(
    fair_site: FairSite, page: Any, screenshot: Screenshot
) -> None:
    page.goto(fair_site.landing())
    assert page.locator("h1").inner_text() == "Two model genomes"
    assert page.locator("#license").inner_text() == "CC-BY-4.0"
    first, second = fair_site.releases
    rows = page.locator("tr[data-release]")
    assert [r.get_attribute("data-release") for r in rows.all()] == [second, first]
    newest = rows.nth(0).inner_text()
    assert "(current)" in newest
    # calls.vcf added; chr2.fa and the source's own md5sum.txt changed; old.vcf removed
    assert "1 added, 2 changed, 1 removed" in newest
    assert "published" in newest
    oldest = rows.nth(1).locator("td")
    assert f"{oldest.nth(2).inner_text()} added, 0 changed, 0 removed" in oldest.nth(4).inner_text()
    curl = page.locator("code[data-tool=curl]").inner_text()
    assert curl == f"curl -fLO {fair_site.landing()}{second}/genome/chr1.fa"
    check = page.locator("code[data-tool=md5sum]").inner_text()
    assert check.endswith(f"{second}/.datamirror/md5sum.txt | md5sum -c -")
    assert page.locator("code[data-tool='zarr:image.zarr']").is_visible()
    cite = page.locator("#cite-as").inner_text()
    assert cite.startswith("Doe, J., The Genome Consortium (")
    assert f"Two model genomes (version {second}) [Data set]. EMBL-EBI." in cite
    assert page.get_by_role("link", name="BibTeX").is_visible()
    tree = page.locator("ul.tree").first.inner_text()
    assert "calls.vcf" in tree
    assert "old.vcf" not in tree
    screenshot(page, "landing")


def test_a_landing_page_fits_a_phone_screen(
    fair_site: FairSite, browser: Any, screenshot: Screenshot
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=1)
    try:
        phone = context.new_page()
        phone.goto(fair_site.landing())
        assert phone.locator("h1").is_visible()
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        screenshot(phone, "landing-phone")
    finally:
        context.close()


def test_a_listing_shows_breadcrumbs_sizes_dates_and_checksums(
    fair_site: FairSite, page: Any, screenshot: Screenshot
) -> None:
    release = fair_site.releases[-1]
    page.goto(f"{fair_site.landing()}{release}/")
    page.get_by_role("link", name="genome/").click()
    page.wait_for_url(f"**/{release}/genome/")
    crumbs = page.locator("nav.crumbs").inner_text()
    assert crumbs == f"datasets / {GENOMES} / {release} / genome"
    data = (fair_site.source / "genome/chr1.fa").read_bytes()
    row = page.locator("tr", has=page.get_by_role("link", name="chr1.fa", exact=True))
    text = row.inner_text()
    assert str(len(data)) in text
    assert f"md5:{hashlib.md5(data).hexdigest()}" in text
    assert "GMT" in text
    screenshot(page, "listing")
    page.get_by_role("link", name=release).click()
    page.wait_for_url(f"**/datasets/{GENOMES}/{release}/")
    assert page.locator("h1").inner_text() == f"Index of /datasets/{GENOMES}/{release}/"
