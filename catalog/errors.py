"""One error root for datamirror. Facts are fields; every error carries a hint for the user.

The CLI prints ``error: <message>`` and ``hint: <hint>`` (its `cli_hint` when it has one:
advice that names a command, meant for the operator at the terminal and never shown to
visitors of the server); the server maps ``status`` to an HTTP problem body with `hint`.
Backend errors are translated into these once, at the boundary.
"""

from __future__ import annotations


class DatamirrorError(Exception):
    """Something went wrong in datamirror."""

    hint: str = ""
    cli_hint: str = ""
    status: int = 500

    def __init__(
        self, message: str | None = None, *, hint: str | None = None, cli_hint: str | None = None
    ) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        if hint is not None:
            self.hint = hint
        if cli_hint is not None:
            self.cli_hint = cli_hint

    @property
    def message(self) -> str:
        return str(self)

    @property
    def public_message(self) -> str:
        """What the server may tell anyone: the message, unless it names the operator's
        own facts (a database address, a path of this machine)."""
        return self.message

    def is_transient(self) -> bool:
        """Whether trying the same operation again may succeed."""
        return False


class ConfigError(DatamirrorError):
    """The configuration is invalid."""

    status = 500


class CatalogUnavailableError(DatamirrorError):
    """The catalog database cannot be reached."""

    status = 503

    def __init__(self, cause: str) -> None:
        super().__init__(
            f"cannot reach the catalog database: {cause}",
            hint="try again in a moment",
            cli_hint="check DATAMIRROR_DB and that the database server is running",
        )
        self.cause = cause

    @property
    def public_message(self) -> str:
        return "the catalog database is unavailable for the moment"

    def is_transient(self) -> bool:
        return True


class CatalogSchemaError(DatamirrorError):
    """The catalog database's schema could not be brought to this version's."""

    status = 503

    def __init__(self, revision: str | None, head: str, cause: str) -> None:
        super().__init__(
            f"cannot upgrade the catalog's schema from {revision or 'none'} to {head}: {cause}",
            hint="the database keeps the schema it had; back it up before trying again",
        )
        self.revision = revision
        self.head = head


class DatasetBusyError(DatamirrorError):
    """Another job holds the dataset."""

    status = 409

    def __init__(self, dataset: str, holder: str, job: str) -> None:
        super().__init__(
            f"dataset {dataset!r} is busy: {job} by {holder}",
            hint="wait for it to finish, then try again",
        )
        self.dataset = dataset
        self.holder = holder
        self.job = job

    def is_transient(self) -> bool:
        return True


class UnknownDatasetError(DatamirrorError, LookupError):
    """No such dataset."""

    status = 404

    def __init__(self, dataset: str) -> None:
        super().__init__(
            f"unknown dataset {dataset!r}",
            hint="the index at / lists the datasets this server offers",
            cli_hint="run `datamirror source list` to see the registered datasets",
        )
        self.dataset = dataset


class DuplicateDatasetError(DatamirrorError):
    """A dataset with that name exists already."""

    status = 409

    def __init__(self, dataset: str) -> None:
        super().__init__(
            f"a dataset named {dataset!r} already exists",
            hint=f"pick another name, or `datamirror source remove {dataset}` first",
        )
        self.dataset = dataset


class InvalidNameError(DatamirrorError, ValueError):
    """A dataset or release name is not allowed."""

    status = 400


class UnknownReleaseError(DatamirrorError, LookupError):
    """No such release."""

    status = 404

    def __init__(self, dataset: str, release: str) -> None:
        super().__init__(
            f"dataset {dataset!r} has no release {release!r}",
            hint=f"the page /datasets/{dataset}/ lists its releases",
            cli_hint=f"run `datamirror releases {dataset}` to see its releases",
        )
        self.dataset = dataset
        self.release = release


class NoReleaseError(DatamirrorError, LookupError):
    """The dataset has no published release yet."""

    status = 404

    def __init__(self, dataset: str) -> None:
        super().__init__(
            f"dataset {dataset!r} has no published release yet",
            hint="the dataset is registered but not mirrored yet; try again later",
            cli_hint=f"run `datamirror sync {dataset}` to publish one",
        )
        self.dataset = dataset


class InvalidSettingError(DatamirrorError, ValueError):
    """A source's setting is not one datamirror can use."""

    status = 400


class InvalidSourceURLError(DatamirrorError, ValueError):
    """The source URL is not one datamirror can mirror."""

    status = 400

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"invalid source URL {url!r}: {reason}",
            hint="use an http://, https://, ftp:// or s3:// URL of a directory or prefix",
        )
        self.url = url
        self.reason = reason


class SourceError(DatamirrorError):
    """The source could not be read."""

    status = 502

    def __init__(
        self,
        url: str,
        cause: str,
        *,
        transient: bool = False,
        hint: str | None = None,
        retry_after: float | None = None,
        fault: str | None = None,
    ) -> None:
        super().__init__(
            f"source {url}: {cause}",
            hint=hint or "check that the URL is right and the server is reachable",
        )
        self.url = url
        self.cause = cause
        self.transient = transient
        self.retry_after = retry_after
        self.fault = fault  # the kind of network fault, as retries are counted

    def is_transient(self) -> bool:
        return self.transient


class NotPublicAddressError(DatamirrorError):
    """A source's host is not at a public address."""

    status = 400

    def __init__(self, host: str, address: str) -> None:
        shown = host if host == address else f"{host} resolves to {address}, which"
        super().__init__(
            f"{shown} is not a public address "
            "(loopback, private, link-local and metadata addresses are refused)",
            hint=f"an operator may allow the host with DATAMIRROR_SOURCE_ALLOWLIST={host}",
        )
        self.host = host
        self.address = address


class UnresolvableHostError(DatamirrorError):
    """A source's host does not resolve."""

    status = 400

    def __init__(self, host: str, cause: str) -> None:
        super().__init__(
            f"the host {host} does not resolve ({cause})",
            hint="check the host name in the URL",
        )
        self.host = host
        self.cause = cause


class PeerRefusedError(SourceError):
    """A public-only source's connection would go to an address that is not public."""

    status = 400

    def __init__(self, url: str, refusal: NotPublicAddressError) -> None:
        super().__init__(url, f"refused to connect: {refusal.message}", hint=refusal.hint)
        self.host = refusal.host
        self.address = refusal.address


class EmptyListingError(SourceError):
    """The source listed no files."""

    def __init__(self, url: str) -> None:
        super().__init__(
            url,
            "the listing contains no files to mirror",
            hint="check the URL and the --include/--exclude globs",
        )


class SourceChangedError(SourceError):
    """The file changed at the source while it was being fetched."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(
            url,
            f"changed during the sync ({cause})",
            transient=True,
            hint="the file is fetched again from the start",
        )


class ChecksumMismatchError(DatamirrorError):
    """A file's bytes do not match the digest the source publishes."""

    status = 502

    def __init__(self, path: str, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(
            f"checksum mismatch for {path}: {algorithm} expected {expected}, got {actual}",
            hint="the source file or its checksum file is corrupt; the release was not published",
        )
        self.path = path
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual

    def is_transient(self) -> bool:
        return True


class ChecksumFileError(DatamirrorError, ValueError):
    """A checksum file the source publishes cannot be trusted or read."""

    status = 502

    def __init__(self, checksum_file: str, cause: str) -> None:
        hint = "nothing was published; the source's maintainers can fix the file"
        cli_hint = "sync with `--checksums none` (unverified), or `--exclude` the file"
        super().__init__(f"checksum file {checksum_file}: {cause}", hint=hint, cli_hint=cli_hint)
        self.checksum_file = checksum_file


class SyncAbortedError(DatamirrorError):
    """The sync stopped before publishing."""

    status = 500


class StoreError(DatamirrorError):
    """The object store failed."""

    status = 503

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint or "check that the object store is reachable")
        self.transient = transient
        self.retry_after = retry_after

    def is_transient(self) -> bool:
        return self.transient


class StoreFullError(StoreError, OSError):
    """The object store has no space left (a full disk or a quota)."""

    status = 507

    def __init__(self, store: str, cause: str) -> None:
        super().__init__(
            f"no space left in the object store {store}: {cause}",
            hint="free space in the store (or raise its quota), then sync again: "
            "what already landed is kept",
        )
        self.store = store
        self.cause = cause


class ObjectNotFoundError(StoreError, FileNotFoundError):
    """No object under that key."""

    status = 404

    def __init__(self, key: str) -> None:
        super().__init__(
            f"no object {key!r} in the store",
            hint="the mirror lost an object; tell its operators",
        )
        self.cli_hint = "run `datamirror verify DATASET` to find the damage, then sync it again"
        self.key = key


class InvalidPathError(DatamirrorError, ValueError):
    """A path would leave its dataset or is malformed."""

    status = 400


class AccessDeniedError(DatamirrorError, PermissionError):
    """The credentials do not allow this."""

    status = 403


class InvalidScopeError(DatamirrorError, ValueError):
    """A token scope is not one datamirror knows."""

    status = 400

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"invalid token scope {scope!r}",
            hint="use `curator` or `read:<dataset>` (several separated by spaces)",
        )
        self.scope = scope


class UnknownTokenError(DatamirrorError, LookupError):
    """No such token."""

    status = 404

    def __init__(self, token_id: int) -> None:
        super().__init__(
            f"no token with id {token_id}", hint="run `datamirror token list` to see the tokens"
        )
        self.token_id = token_id
