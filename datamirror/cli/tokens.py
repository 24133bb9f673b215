"""`datamirror token create | list | revoke | sign`: bearer tokens and signed URLs."""

from __future__ import annotations

import time

import click

from catalog.tokens import TokenInfo
from datamirror.cli.common import table, with_runtime
from serve.signing import signed_url_path


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
    secret = with_runtime(
        ctx, lambda runtime: runtime.catalog.tokens.create(" ".join(scopes), label)
    )
    click.echo(f"new token for {' '.join(scopes)} (shown once, keep it safe): {secret}")


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List the tokens: id, scopes, label, created, revoked."""
    rows: list[TokenInfo] = with_runtime(ctx, lambda runtime: runtime.catalog.tokens.list())
    if not rows:
        click.echo("no tokens yet; make one with `datamirror token create --scope SCOPE`")
        return
    lines = [
        [str(row.id), " ".join(row.scopes), row.label or "-", f"{row.created_at:%Y-%m-%d %H:%M}",
         f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"]
        for row in rows
    ]  # fmt: skip
    click.echo(table(["ID", "SCOPES", "LABEL", "CREATED", "STATE"], lines))


@token.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token; serve processes refuse it within their token cache TTL (5 s)."""
    with_runtime(ctx, lambda runtime: runtime.catalog.tokens.revoke(token_id))
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
    key = with_runtime(ctx, lambda runtime: runtime.signing_key())
    click.echo(signed_url_path(key, path, int(time.time()) + expires_in))
