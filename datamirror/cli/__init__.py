"""The `datamirror` console script: the root command group and the way every expected
failure is printed (`error:` and `hint:` lines, never a traceback).

Commands are loaded when used, so `datamirror source list` never imports the server or
the sync engine.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from catalog.config import Settings
from catalog.errors import DatamirrorError, UnknownDatasetError

COMMANDS = {
    "source": "datamirror.cli.sources:source",
    "releases": "datamirror.cli.sources:releases",
    "sync": "datamirror.cli.jobs:sync",
    "verify": "datamirror.cli.jobs:verify",
    "gc": "datamirror.cli.jobs:gc",
    "worker": "datamirror.cli.jobs:worker",
    "jobs": "datamirror.cli.queue:jobs",
    "migrate": "datamirror.cli.jobs:migrate",
    "serve": "datamirror.cli.serving:serve",
    "token": "datamirror.cli.tokens:token",
    "demo": "datamirror.demo:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup)
@click.option("--home", envvar="DATAMIRROR_HOME", help="Data folder (default ./datamirror-data).")
@click.option("--db", envvar="DATAMIRROR_DB", help="Catalog database URL.")
@click.option("--store", envvar="DATAMIRROR_STORE", help="Object store URL.")
@click.version_option(package_name="datamirror")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db: str | None, store: str | None) -> None:
    """Mirror life-science datasets as verified, versioned releases and serve them."""
    env = {**os.environ, **({"DATAMIRROR_HOME": home} if home else {})}
    ctx.obj = Settings.from_env(env).with_overrides(db_url=db, store_url=store)


def hint_for(exc: DatamirrorError, settings: Settings | None) -> str:
    """The hint for the operator: the error's own, and where the data home is when the
    command looked in the default one (a command run from another folder finds nothing)."""
    hint = exc.cli_hint or exc.hint
    if isinstance(exc, UnknownDatasetError) and settings is not None:
        where = f"the catalog used is {settings.db_url}"
        if settings.home_from_default:
            where += " (./datamirror-data of this folder; set DATAMIRROR_HOME to use another)"
        hint = f"{hint}; {where}" if hint else where
    return hint


def main(argv: list[str] | None = None) -> None:
    """Entry point: expected errors print `error:` and `hint:` lines, never a traceback."""
    args = list(argv if argv is not None else sys.argv[1:])
    ctx: click.Context | None = None
    try:
        with cli.make_context("datamirror", args) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DatamirrorError as exc:
        for note in getattr(exc, "__notes__", []):
            click.echo(note, err=True)
        click.echo(f"error: {exc.message}", err=True)
        hint = hint_for(exc, ctx.find_object(Settings) if ctx is not None else None)
        if hint:
            click.echo(f"hint: {hint}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
