"""Download instructions for a release that work as printed: shell lines for curl, aria2c,
wget, rclone and `md5sum -c`, Python for fsspec and Zarr, and the DRS URI when the server
has one. tests/test_pages_downloads.py runs each of them against a real server.

Every URL names the release, not `latest`, so a command copied today fetches the same bytes
tomorrow. Restricted datasets get the token header, read from `$DATAMIRROR_TOKEN`.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from urllib.parse import quote

from catalog.manifest import ManifestEntry
from serve.documents import RESERVED

TOKEN = "DATAMIRROR_TOKEN"  # noqa: S105 - the name of a variable, not a secret
HEADER = f'"Authorization: Bearer ${TOKEN}"'


@dataclass(frozen=True, slots=True)
class Recipe:
    """One way to download: `tool` names it (and tests find it by it), `language` is
    `shell` or `python`, `code` the lines to paste."""

    tool: str
    title: str
    language: str
    code: str


@dataclass(frozen=True, slots=True)
class Target:
    """What the recipes download: a release at its URL (ending in `/`)."""

    dataset: str
    release: str
    url: str
    restricted: bool
    example: ManifestEntry | None
    zarr_stores: tuple[str, ...]
    with_md5: int = 0
    drs_uri: str | None = None

    @property
    def folder(self) -> str:
        return f"{self.dataset}-{self.release}"

    def file_url(self, path: str) -> str:
        return self.url + quote(path)


def recipes(target: Target) -> list[Recipe]:
    found = [*_one_file(target), *_whole_release(target)]
    if target.with_md5:
        found.append(_check(target))
    found += [_fsspec(target), *(_zarr(target, store) for store in target.zarr_stores)]
    if target.drs_uri:
        found.append(Recipe("drs", "GA4GH DRS URI", "text", target.drs_uri))
    return found


def _header(flag: str, target: Target) -> str:
    return f" {flag}{HEADER}" if target.restricted else ""


def _one_file(target: Target) -> list[Recipe]:
    entry = target.example
    if entry is None:
        return []
    url = shlex.quote(target.file_url(entry.path))
    curl = f"curl -fLO{_header('-H ', target)} {url}"
    checksum = f"md5={entry.md5}" if entry.md5 else f"sha-256={entry.sha256}"
    check = f" --checksum={checksum}" if entry.md5 or entry.sha256 else ""
    aria2c = f"aria2c -x 4 -s 4{check}{_header('--header=', target)} {url}"
    name = entry.path.rpartition("/")[2]
    return [
        Recipe("curl", f"One file ({name}) with curl", "shell", curl),
        Recipe("aria2c", f"One file ({name}) with aria2c: parallel, resumable, checked",
               "shell", aria2c),
    ]  # fmt: skip


def _whole_release(target: Target) -> list[Recipe]:
    url, folder = shlex.quote(target.url), shlex.quote(target.folder)
    wget = (
        f"wget -r -np -nH --cut-dirs=3 -R 'index.html*' -e robots=off"
        f"{_header('--header=', target)} -P {folder} {url}"
    )
    rclone = f"rclone copy{_header('--header ', target)} --http-url {url} :http: {folder}"
    return [
        Recipe("wget", "The whole release with wget", "shell", wget),
        Recipe("rclone", "The whole release with rclone", "shell", rclone),
    ]


def _check(target: Target) -> Recipe:
    sums = shlex.quote(f"{target.url}{RESERVED}md5sum.txt")
    code = (
        f"cd {shlex.quote(target.folder)} && curl -fsS{_header('-H ', target)} {sums} | md5sum -c -"
    )
    return Recipe("md5sum", "Check the downloaded release with md5sum -c", "shell", code)


AUTH_HEADERS = f'{{"Authorization": "Bearer " + os.environ["{TOKEN}"]}}'


def _py(text: str) -> str:
    """A Python string literal in double quotes."""
    return json.dumps(text)


def _imports(target: Target, module: str) -> str:
    return f"import os\nimport {module}\n" if target.restricted else f"import {module}\n"


def _fsspec(target: Target) -> Recipe:
    options = f", headers={AUTH_HEADERS}" if target.restricted else ""
    lines = [f'fs = fsspec.filesystem("http"{options})', f"print(fs.ls({_py(target.url)}))"]
    if target.example is not None:
        lines.append(f"data = fs.cat({_py(target.file_url(target.example.path))})")
    return Recipe("fsspec", "Python with fsspec", "python",
                  _imports(target, "fsspec") + "\n".join(lines))  # fmt: skip


def _zarr(target: Target, store: str) -> Recipe:
    url = target.file_url(store) + "/"
    options = f', storage_options={{"headers": {AUTH_HEADERS}}}' if target.restricted else ""
    code = f'group = zarr.open_group({_py(url)}, mode="r"{options})\nprint(group.info)'
    return Recipe(f"zarr:{store}", f"The Zarr store {store} in Python", "python",
                  _imports(target, "zarr") + code)  # fmt: skip
