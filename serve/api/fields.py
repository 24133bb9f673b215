"""The curator API's JSON bodies: a source to register (POST) or the changes to one (PATCH),
checked field by field. A bad field is a 400 problem whose `field` member names it.

The fields are `datamirror source add`'s options: name, url, include, exclude, checksums,
schedule, keep, max_delete, restricted, title, description, license, the FAIR metadata
(homepage, citation, keywords, creators, publisher: checked by `catalog.source_spec`, as
the CLI's are), and for S3 sources endpoint_url, no_sign_request and credentials (the name
of a key pair the operator provides; kept in the dataset's options, as the CLI keeps them).

A source registered (or pointed elsewhere) through the API gets the option `public_only`:
its reader connects to public addresses only (`catalog.public_address`). No string may
hold a NUL character (PostgreSQL's text cannot).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from catalog.config import CREDENTIALS_NAME
from catalog.errors import InvalidNameError, InvalidSettingError, InvalidSourceURLError
from catalog.layout import check_name
from catalog.models import Dataset
from catalog.public_address import PUBLIC_ONLY
from catalog.releases import iso_utc
from catalog.source_spec import METADATA_CHECKS, DatasetSpec, check_source_url
from serve.http.problems import ProblemError

OPTION_FIELDS = ("endpoint_url", "no_sign_request", "credentials")


def field_error(name: str, reason: str, hint: str | None = None) -> ProblemError:
    return ProblemError(400, f"field {name!r}: {reason}", hint=hint, extensions={"field": name})


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise field_error(name, "must be a non-empty string")
    return value


def _optional_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _globs(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise field_error(name, "must be a list of glob strings")
    return list(value)


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise field_error(name, "must be true or false")
    return value


def _keep(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise field_error(name, "must be an integer of at least 1, or null")
    return value


def _percent(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise field_error(name, "must be a number from 0 to 100")
    return float(value)


def _name(name: str, value: Any) -> str:
    try:
        return check_name(_text(name, value))
    except InvalidNameError as exc:
        raise field_error(name, exc.message, exc.hint) from None


def _url(name: str, value: Any) -> str:
    try:
        return check_source_url(_text(name, value))
    except InvalidSourceURLError as exc:
        raise field_error(name, exc.message, exc.hint) from None


def _endpoint(name: str, value: Any) -> str:
    parts = urlsplit(_text(name, value))
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise field_error(name, "must be an http:// or https:// URL of an S3 endpoint")
    return str(value)


def _credentials(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CREDENTIALS_NAME.match(value):
        raise field_error(
            name, "must be the name of a key pair: letters, digits, '-' and '_', or null"
        )
    return value


def _texts(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise field_error(name, "must be a list of strings")
    return list(value)


def _metadata(check: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    """The JSON type check, then the catalog's own check of that field."""

    def checked(name: str, value: Any) -> Any:
        try:
            return METADATA_CHECKS[name](check(name, value))
        except InvalidSettingError as exc:
            raise field_error(name, exc.message, exc.hint) from None

    return checked


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _name,
    "url": _url,
    "include": _globs,
    "exclude": _globs,
    "checksums": _text,
    "schedule": _optional_text,
    "keep": _keep,
    "max_delete": _percent,
    "restricted": _flag,
    "title": _optional_text,
    "description": _optional_text,
    "license": _optional_text,
    "homepage": _metadata(_optional_text),
    "citation": _metadata(_optional_text),
    "keywords": _metadata(_texts),
    "creators": _metadata(_texts),
    "publisher": _metadata(_optional_text),
    "endpoint_url": _endpoint,
    "no_sign_request": _flag,
    "credentials": _credentials,
}


def checked_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """The body's fields, each checked; unknown fields and a missing name or url refused."""
    if not isinstance(body, Mapping):
        raise ProblemError(400, "the body must be a JSON object")
    for name in body:
        if name not in CHECKS or (name == "name" and not creating):
            raise field_error(str(name), "is not a field of a source", _known(creating))
        if _has_nul(body[name]):
            raise field_error(str(name), "must not contain NUL characters")
    if creating:
        for required in ("name", "url"):
            if required not in body:
                raise field_error(required, "is required")
    return {name: CHECKS[name](name, value) for name, value in body.items()}


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    return isinstance(value, list) and any(_has_nul(v) for v in value)


def _known(creating: bool) -> str:
    names = [n for n in CHECKS if creating or n != "name"]
    return "known fields: " + ", ".join(names)


def spec_from(fields: Mapping[str, Any]) -> DatasetSpec:
    plain = {k: v for k, v in fields.items() if k not in OPTION_FIELDS}
    options = {k: v for k, v in fields.items() if k in OPTION_FIELDS and v}
    return DatasetSpec(**plain, options={**options, PUBLIC_ONLY: True})


def changes_from(fields: Mapping[str, Any], current: Dataset) -> dict[str, Any]:
    """The column changes a PATCH makes; S3 options merge into the existing ones. A source
    whose URL or S3 options the API changes is public-only from then on."""
    changes = {k: v for k, v in fields.items() if k not in OPTION_FIELDS}
    if "url" in fields or any(k in fields for k in OPTION_FIELDS):
        options = {**current.options, PUBLIC_ONLY: True}
        for key in OPTION_FIELDS:
            if key in fields:
                options.pop(key, None)
                if fields[key]:
                    options[key] = fields[key]
        changes["options"] = options
    return changes


def source_json(ds: Dataset) -> dict[str, Any]:
    return {
        "name": ds.name,
        "url": ds.url,
        "include": list(ds.include),
        "exclude": list(ds.exclude),
        "checksums": ds.checksums,
        "schedule": ds.schedule,
        "keep": ds.keep,
        "max_delete": ds.max_delete,
        "restricted": ds.restricted,
        "title": ds.title,
        "description": ds.description,
        "license": ds.license,
        "homepage": ds.homepage,
        "citation": ds.citation,
        "keywords": list(ds.keywords),
        "creators": list(ds.creators),
        "publisher": ds.publisher,
        "endpoint_url": ds.options.get("endpoint_url"),
        "no_sign_request": bool(ds.options.get("no_sign_request", False)),
        "credentials": ds.options.get("credentials"),
        "public_only": bool(ds.options.get(PUBLIC_ONLY, False)),
        "created_at": iso_utc(ds.created_at),
        "current_release": ds.current_release_name,
    }
