"""A license as curators write it (an SPDX id such as `CC-BY-4.0`, a URL, or words such as
`Ensembl terms`), turned into what machine-readable metadata wants: an SPDX id and a URL."""

from __future__ import annotations

import re

SPDX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+-]*[A-Za-z0-9+]$")


def spdx_id(license_text: str | None) -> str | None:
    """The SPDX license id, if the license is written as one (`CC-BY-4.0`, `CC0-1.0`, `MIT`)."""
    if not license_text:
        return None
    text = license_text.strip()
    if not SPDX.match(text) or not any(c.isalpha() for c in text):
        return None
    return text


def license_url(license_text: str | None) -> str | None:
    """A URL for the license: its own, or the SPDX page of its id; None for plain words."""
    if not license_text:
        return None
    text = license_text.strip()
    if text.startswith(("https://", "http://")):
        return text
    found = spdx_id(text)
    return f"https://spdx.org/licenses/{found}.html" if found else None
