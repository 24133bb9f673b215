"""Media types by file name, including the formats of bioinformatics: the server's
Content-Type, a DRS object's `mime_type` and an RO-Crate file's `encodingFormat`.

Compressed files are served as what they are (`application/gzip` for `.fa.gz` and BGZF):
the server never sets Content-Encoding, so clients get the stored bytes, which is what
samtools, tabix and checksum tools expect.
"""

from __future__ import annotations

from posixpath import basename

OCTET = "application/octet-stream"
JSON = "application/json"

_BY_NAME = {
    # zarr v2 and v3 metadata documents
    "zarr.json": JSON,
    ".zarray": JSON,
    ".zattrs": JSON,
    ".zgroup": JSON,
    ".zmetadata": JSON,
    "md5sum.txt": "text/plain; charset=utf-8",
    "readme": "text/plain; charset=utf-8",
}

_BY_EXTENSION = {
    # sequences
    "fa": "text/x-fasta",
    "fasta": "text/x-fasta",
    "fna": "text/x-fasta",
    "faa": "text/x-fasta",
    "ffn": "text/x-fasta",
    "fai": "text/plain",
    "fq": "text/x-fastq",
    "fastq": "text/x-fastq",
    "2bit": OCTET,
    # alignments and their indexes
    "sam": "text/x-sam",
    "bam": "application/x-bam",
    "cram": "application/x-cram",
    "bai": OCTET,
    "crai": OCTET,
    "csi": OCTET,
    "tbi": OCTET,
    # variants and annotations
    "vcf": "text/x-vcf",
    "bcf": "application/x-bcf",
    "gff3": "text/x-gff3",
    "gff": "text/x-gff",
    "gtf": "text/x-gtf",
    "bed": "text/x-bed",
    "bedgraph": "text/x-bedgraph",
    "wig": "text/plain",
    "bw": "application/x-bigwig",
    "bigwig": "application/x-bigwig",
    "bb": "application/x-bigbed",
    "bigbed": "application/x-bigbed",
    "h5": "application/x-hdf5",
    "hdf5": "application/x-hdf5",
    "nc": "application/x-netcdf",
    "pdb": "chemical/x-pdb",
    "cif": "chemical/x-cif",
    # compression containers, never Content-Encoding
    "gz": "application/gzip",
    "bgz": "application/gzip",
    "tgz": "application/gzip",
    "bz2": "application/x-bzip2",
    "xz": "application/x-xz",
    "zst": "application/zstd",
    "zip": "application/zip",
    "tar": "application/x-tar",
    # documents and web
    "json": JSON,
    "jsonld": "application/ld+json",
    "md": "text/markdown; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "xml": "application/xml",
    "html": "text/html; charset=utf-8",
    "htm": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "svg": "image/svg+xml",
    "yaml": "application/yaml",
    "yml": "application/yaml",
    "metalink": "application/metalink4+xml",
}


def content_type(path: str) -> str:
    """The Content-Type of a dataset path (dataset-relative, `/`-separated)."""
    name = basename(path)
    lowered = name.lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if lowered in _BY_NAME:
        return _BY_NAME[lowered]
    stem, dot, extension = lowered.rpartition(".")
    if not dot or not stem:
        return OCTET
    return _BY_EXTENSION.get(extension, OCTET)
