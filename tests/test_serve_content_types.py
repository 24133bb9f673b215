"""Content-Type by file name: bioinformatics formats, zarr metadata, never an encoding."""

from __future__ import annotations

import pytest

from catalog.media_types import content_type


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("genome/chr1.fa", "text/x-fasta"),
        ("genome/chr1.FASTA", "text/x-fasta"),
        ("cds.fna", "text/x-fasta"),
        ("prot.faa", "text/x-fasta"),
        ("reads/r1.fastq", "text/x-fastq"),
        ("reads/r1.fq", "text/x-fastq"),
        ("reads/r1.fastq.gz", "application/gzip"),
        ("calls.vcf", "text/x-vcf"),
        ("calls.vcf.gz", "application/gzip"),
        ("calls.vcf.bgz", "application/gzip"),
        ("calls.vcf.gz.tbi", "application/octet-stream"),
        ("calls.bcf", "application/x-bcf"),
        ("aln.bam", "application/x-bam"),
        ("aln.bam.bai", "application/octet-stream"),
        ("aln.cram", "application/x-cram"),
        ("aln.cram.crai", "application/octet-stream"),
        ("aln.bam.csi", "application/octet-stream"),
        ("genes.gff3", "text/x-gff3"),
        ("genes.gtf", "text/x-gtf"),
        ("peaks.bed", "text/x-bed"),
        ("signal.bw", "application/x-bigwig"),
        ("image.zarr/zarr.json", "application/json"),
        ("image.zarr/0/.zarray", "application/json"),
        ("image.zarr/.zattrs", "application/json"),
        ("image.zarr/.zgroup", "application/json"),
        ("image.zarr/.zmetadata", "application/json"),
        ("image.zarr/0/c/0/0", "application/octet-stream"),
        ("meta.json", "application/json"),
        ("README.md", "text/markdown; charset=utf-8"),
        ("README", "text/plain; charset=utf-8"),
        ("md5sum.txt", "text/plain; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("CHECKSUMS", "application/octet-stream"),
        (".hidden", "application/octet-stream"),
    ],
)
def test_a_path_gets_the_content_type_of_its_format(path: str, expected: str) -> None:
    assert content_type(path) == expected
