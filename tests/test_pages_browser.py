"""What a person sees, in headless Chromium against `datamirror serve`: the dataset index
and its search, a landing page (title, license, releases with their changes, download
lines, the citation), a listing with breadcrumbs, sizes, dates and checksums, and a page
that fits a phone. Every page is kept as a screenshot (CI artefacts; docs/screenshots/).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.fixtures.browser import PHONE
from tests.fixtures.fair_site import GENOMES, SECRET, ZEBRAFISH, FairSite

Screenshot = Callable[[Any, str], Awaitable[Path]]


async def visible_datasets(page: Any) -> list[str]:
    rows = await page.locator("tr[data-dataset]").all()
    return [await row.get_attribute("data-dataset") for row in rows]


async def text_of(page: Any, selector: str) -> str:
    text: str = await page.locator(selector).inner_text()
    return text


async def test_the_index_lists_public_datasets_with_their_facts_and_search_narrows_it(
    fair_site: FairSite, page: Any, screenshot: Screenshot
) -> None:
    await page.goto(fair_site.base + "/")
    assert await page.title() == "Datasets"
    assert await visible_datasets(page) == [GENOMES, ZEBRAFISH]
    genomes = await text_of(page, f"tr[data-dataset={GENOMES}]")
    for fact in ("Two model genomes", "CC-BY-4.0", "genomics", "KiB"):
        assert fact in genomes
    assert SECRET not in await page.content()
    await screenshot(page, "index")
    search = page.get_by_role("searchbox")
    await search.fill("imaging")
    await search.press("Enter")
    await page.wait_for_url("**/?q=imaging")
    assert await visible_datasets(page) == [ZEBRAFISH]
    assert "1 of 2 datasets match" in await text_of(page, "#matches")
    await page.get_by_role("searchbox").fill("genome")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**/?q=genome")
    assert await visible_datasets(page) == [GENOMES]
    await screenshot(page, "index-search")


async def test_a_landing_page_shows_title_license_releases_changes_and_download_lines(
    fair_site: FairSite, page: Any, screenshot: Screenshot
) -> None:
    await page.goto(fair_site.landing())
    assert await text_of(page, "h1") == "Two model genomes"
    assert await text_of(page, "#license") == "CC-BY-4.0"
    first, second = fair_site.releases
    rows = page.locator("tr[data-release]")
    assert [await r.get_attribute("data-release") for r in await rows.all()] == [second, first]
    newest = await rows.nth(0).inner_text()
    assert "(current)" in newest
    # calls.vcf added; chr2.fa and the source's own md5sum.txt changed; old.vcf removed
    assert "1 added, 2 changed, 1 removed" in newest
    assert "published" in newest
    oldest = rows.nth(1).locator("td")
    added = await oldest.nth(2).inner_text()
    assert f"{added} added, 0 changed, 0 removed" in await oldest.nth(4).inner_text()
    curl = await text_of(page, "code[data-tool=curl]")
    assert curl == f"curl -fLO {fair_site.landing()}{second}/genome/chr1.fa"
    check = await text_of(page, "code[data-tool=md5sum]")
    assert check.endswith(f"{second}/.datamirror/md5sum.txt | md5sum -c -")
    assert await page.locator("code[data-tool='zarr:image.zarr']").is_visible()
    cite = await text_of(page, "#cite-as")
    assert cite.startswith("Doe, J., The Genome Consortium (")
    assert f"Two model genomes (version {second}) [Data set]. EMBL-EBI." in cite
    assert await page.get_by_role("link", name="BibTeX").is_visible()
    tree = await page.locator("ul.tree").first.inner_text()
    assert "calls.vcf" in tree
    assert "old.vcf" not in tree
    await screenshot(page, "landing")


async def test_a_landing_page_fits_a_phone_screen(
    fair_site: FairSite, browser: Any, screenshot: Screenshot
) -> None:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=1)
    try:
        phone = await context.new_page()
        await phone.goto(fair_site.landing())
        assert await phone.locator("h1").is_visible()
        script = "document.documentElement.scrollWidth - window.innerWidth"
        assert await phone.evaluate(script) <= 0
        await screenshot(phone, "landing-phone")
    finally:
        await context.close()


async def test_a_listing_shows_breadcrumbs_sizes_dates_and_checksums(
    fair_site: FairSite, page: Any, screenshot: Screenshot
) -> None:
    release = fair_site.releases[-1]
    await page.goto(f"{fair_site.landing()}{release}/")
    await page.get_by_role("link", name="genome/").click()
    await page.wait_for_url(f"**/{release}/genome/")
    crumbs = await text_of(page, "nav.crumbs")
    assert crumbs == f"datasets / {GENOMES} / {release} / genome"
    data = (fair_site.source / "genome/chr1.fa").read_bytes()
    row = page.locator("tr", has=page.get_by_role("link", name="chr1.fa", exact=True))
    text = await row.inner_text()
    assert str(len(data)) in text
    assert f"md5:{hashlib.md5(data).hexdigest()}" in text
    assert "GMT" in text
    await screenshot(page, "listing")
    await page.get_by_role("link", name=release).click()
    await page.wait_for_url(f"**/datasets/{GENOMES}/{release}/")
    assert await text_of(page, "h1") == f"Index of /datasets/{GENOMES}/{release}/"
