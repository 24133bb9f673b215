"""Checksum-file parsers on the real output of md5sum, sha256sum and sum, and the BSD sum
hasher against coreutils' `sum`."""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path

import pytest

from mirror.bsd_sum import INLINE_LIMIT, BSDSum, bsd_sum
from mirror.checksum_files import (
    Digest,
    checksum_file_kind,
    digests_from_file,
    find_checksum_files,
    parse_metalink,
    resolve,
)
from tests.fixtures.net import require_binary

FILES = {
    "a.txt": b"hello\n",
    "sub dir/b.fa": b">x\nACGT\n" * 300,
    "back\\slash.txt": b"escaped name\n",
    "reads.fastq.gz": bytes(range(256)) * 7,
}


def tool(*argv: str, cwd: Path) -> str:
    argv = (require_binary(argv[0], "coreutils"), *argv[1:])
    return subprocess.run(argv, cwd=cwd, capture_output=True, check=True, text=True).stdout


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, data in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def expected(algorithm: str, prefix: str = "") -> dict[str, Digest]:
    return {
        prefix + name: Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
        for name, data in FILES.items()
    }


@pytest.mark.parametrize(
    ("argv", "checksum_file", "algorithm"),
    [
        (["md5sum"], "md5sum.txt", "md5"),
        (["md5sum", "-b"], "MD5SUM", "md5"),
        (["md5sum", "--tag"], "checksums.md5", "md5"),
        (["sha256sum"], "sha256sums.txt", "sha256"),
        (["sha256sum", "--tag"], "SHA256SUMS", "sha256"),
        (["sha1sum"], "all.sha1", "sha1"),
    ],
)
def test_tool_output_gives_every_file_its_digest(
    folder: Path, argv: list[str], checksum_file: str, algorithm: str
) -> None:
    text = tool(*argv, *FILES, cwd=folder)
    assert digests_from_file(f"release/{checksum_file}", text) == expected(algorithm, "release/")


def test_dot_slash_prefixes_as_ncbi_writes_them_are_dropped(folder: Path) -> None:
    text = tool("md5sum", *(f"./{n}" for n in FILES), cwd=folder)
    assert digests_from_file("genomes/GCF_1/md5checksums.txt", text) == expected(
        "md5", "genomes/GCF_1/"
    )


def test_ensembl_checksums_from_sum_give_checksum_and_blocks(folder: Path) -> None:
    text = tool("sum", *FILES, cwd=folder)
    digests = digests_from_file("fasta/CHECKSUMS", text)
    assert digests == {
        f"fasta/{name}": Digest("sum", bsd_sum(data)) for name, data in FILES.items()
    }
    assert digests["fasta/sub dir/b.fa"].hexdigest.endswith(" 3")


def test_a_per_file_md5_holding_only_the_digest_names_its_stem() -> None:
    assert digests_from_file("d/x.vcf.gz.md5", "0123456789abcdef0123456789ABCDEF\n") == {
        "d/x.vcf.gz": Digest("md5", "0123456789abcdef0123456789abcdef")
    }


METALINK_3 = """<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="http://www.metalinker.org/" version="3.0">
  <publisher><name>UniProt Consortium</name></publisher>
  <files>
    <file name="uniprot_sprot.dat.gz">
      <size>661349427</size>
      <verification><hash type="md5">9b1ccd6da2a9f3ab7cd5e5d9e8c1f3a0</hash></verification>
      <resources><url type="ftp" location="uk">ftp://ftp.ebi.ac.uk/x</url></resources>
    </file>
    <file name="docs/README">
      <verification><hash type="md5">00000000000000000000000000000001</hash></verification>
    </file>
    <file name="nohash.txt"><size>3</size></file>
  </files>
</metalink>
"""

METALINK_4 = """<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="a.fa">
    <size>6</size>
    <hash type="md5">b1946ac92492d2347c6235b4d2611184</hash>
    <hash type="sha-256">5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03</hash>
  </file>
</metalink>
"""


def test_a_uniprot_metalink_gives_its_md5s_relative_to_its_folder() -> None:
    assert digests_from_file("knowledgebase/complete/RELEASE.metalink", METALINK_3) == {
        "knowledgebase/complete/uniprot_sprot.dat.gz": Digest(
            "md5", "9b1ccd6da2a9f3ab7cd5e5d9e8c1f3a0"
        ),
        "knowledgebase/complete/docs/README": Digest("md5", "0" * 31 + "1"),
    }


def test_a_metalink_4_file_gives_the_strongest_hash() -> None:
    assert parse_metalink(METALINK_4) == {
        "a.fa": Digest("sha256", hashlib.sha256(b"hello\n").hexdigest())
    }


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("md5sum.txt", "md5"),
        ("pub/MD5SUM", "md5"),
        ("genomes/md5checksums.txt", "md5"),
        ("x/SHA256SUMS", "sha256"),
        ("pub/release-112/fasta/CHECKSUMS", "sum"),
        ("current_release/RELEASE.metalink", "metalink"),
        ("a/b.vcf.gz.md5", "md5"),
        ("a/b.vcf.gz.sha256", "sha256"),
        ("a/.md5", None),
        ("a/b.vcf.gz", None),
        ("README.txt", None),
        ("checksums_explained.txt", None),
    ],
)
def test_checksum_files_are_recognised_by_name(path: str, kind: str | None) -> None:
    assert checksum_file_kind(path) == kind


def test_auto_finds_checksum_files_shallowest_first() -> None:
    paths = ["b/md5sum.txt", "a/x.fa", "md5sum.txt", "a/x.fa.md5", "a/c/CHECKSUMS", "README"]
    assert find_checksum_files(paths) == [
        "md5sum.txt",
        "a/x.fa.md5",
        "b/md5sum.txt",
        "a/c/CHECKSUMS",
    ]


@pytest.mark.parametrize(
    ("folder", "written", "path"),
    [
        ("", "x.fa", "x.fa"),
        ("", "./x.fa", "x.fa"),
        ("d", "x.fa", "d/x.fa"),
        ("d/e", "../x.fa", "d/x.fa"),
        ("d", "sub/./x.fa", "d/sub/x.fa"),
        ("d", "../../x.fa", None),
        ("", "../x.fa", None),
        ("d", "/etc/passwd", None),
        ("d", ".", None),
    ],
)
def test_names_resolve_relative_to_the_checksum_files_folder(
    folder: str, written: str, path: str | None
) -> None:
    assert resolve(folder, written) == path


def test_names_that_leave_the_dataset_are_dropped() -> None:
    text = f"{'a' * 32}  ../../etc/passwd\n{'b' * 32}  ok.txt\n"
    assert digests_from_file("d/md5sum.txt", text) == {"d/ok.txt": Digest("md5", "b" * 32)}


def system_sum(data: bytes) -> str:
    argv = [require_binary("sum", "coreutils")]
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout.decode()


SIZES = [0, 1, 1023, 1024, 1025, INLINE_LIMIT, INLINE_LIMIT + 1, 3 * INLINE_LIMIT + 17]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("use_system_sum", [True, False])
def test_the_bsd_sum_hasher_matches_coreutils_sum(size: int, use_system_sum: bool) -> None:
    rng = random.Random(size)
    data = rng.randbytes(size)
    hasher = BSDSum(use_system_sum=use_system_sum)
    offset = 0
    while offset < size:
        step = rng.choice([1, 7, 1000, 40_000, 100_000])
        hasher.update(memoryview(data)[offset : offset + step])
        offset += step
    checksum, blocks = system_sum(data).split()
    assert hasher.hexdigest() == f"{checksum} {blocks}"
    assert hasher.hexdigest() == bsd_sum(data)


def test_the_bsd_sum_hasher_refuses_updates_after_its_digest() -> None:
    hasher = BSDSum()
    hasher.update(b"abc")
    assert hasher.hexdigest() == "16556 1"
    with pytest.raises(ValueError, match="after"):
        hasher.update(b"d")
