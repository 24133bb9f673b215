"""Store keys and dataset-relative paths: one spelling, and nothing leaves its dataset."""

from __future__ import annotations

import pytest

from catalog.errors import InvalidPathError
from catalog.layout import clean_path, manifest_key, object_key, ro_crate_key


def test_store_keys_follow_the_copy_on_change_layout() -> None:
    assert object_key("uniprot", "2026-11-25.1", "a/b.fasta.gz") == (
        "objects/uniprot/2026-11-25.1/a/b.fasta.gz"
    )
    assert manifest_key("uniprot", "r1") == "releases/uniprot/r1/manifest.json"
    assert ro_crate_key("uniprot", "r1") == "releases/uniprot/r1/ro-crate-metadata.json"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("a/b.fa", "a/b.fa"), ("/a/b.fa", "a/b.fa"), ("a/b/", "a/b"), ("", ""), ("/", "")],
)
def test_paths_are_dataset_relative(raw: str, clean: str) -> None:
    assert clean_path(raw) == clean


@pytest.mark.parametrize(
    "raw", ["..", "../etc/passwd", "a/../../b", "a/./b", "a//b", "a\\..\\b", "a\x00b"]
)
def test_paths_that_could_leave_the_dataset_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPathError):
        clean_path(raw)
