"""`datamirror token`: create, list and revoke bearer tokens; sign expiring URLs."""

from __future__ import annotations

import os
import time

import click

from catalog.cli import open_catalog
from serve.signing import signed_url_path

SECRET_ENV = "DATAMIRROR_SECRET"  # noqa: S105 - the variable name, not a secret


@click.group()
def token() -> None:
    """Bearer tokens (scopes: curator, read:<dataset>) and signed URLs."""


@token.command("create")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="curator or read:<dataset> (repeatable).",
)
@click.option("--label", help="Who or what the token is for.")
@click.pass_context
def token_create(ctx: click.Context, scopes: tuple[str, ...], label: str | None) -> None:
    """Make a new token and print it (shown once: only its hash is kept)."""
    secret = open_catalog(ctx).create_token(" ".join(scopes), label)
    click.echo(f"new token for {' '.join(scopes)} (shown once, keep it safe): {secret}")


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List the tokens: id, scopes, label, created, revoked."""
    rows = open_catalog(ctx).list_tokens()
    if not rows:
        click.echo("no tokens yet; make one with `datamirror token create --scope SCOPE`")
        return
    for row in rows:
        revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        created = f"{row.created_at:%Y-%m-%d %H:%M}"
        click.echo(f"{row.id}\t{' '.join(row.scopes)}\t{row.label or '-'}\t{created}\t{revoked}")


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token; serve processes refuse it within their token cache TTL (5 s)."""
    open_catalog(ctx).revoke_token(token_id)
    click.echo(f"revoked token {token_id}")


@token.command("sign")
@click.argument("path")
@click.option(
    "--expires-in",
    type=click.IntRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds the URL stays valid.",
)
@click.pass_context
def token_sign(ctx: click.Context, path: str, expires_in: int) -> None:
    """Print an expiring signed URL path for PATH (`ds/release/file` or `/datasets/...`)."""
    secret = os.environ.get(SECRET_ENV)
    key = secret.encode() if secret else open_catalog(ctx).signing_key()
    click.echo(signed_url_path(key, path, int(time.time()) + expires_in))
