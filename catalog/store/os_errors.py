"""A local store's failed writes as store errors: "no space" when the disk or the quota is
full, transient when the file system says a retry may succeed."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from catalog.errors import StoreError, StoreFullError

NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
# what a busy or remote file system (NFS, a FUSE mount) answers when a retry may succeed
TRY_AGAIN = frozenset({errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.EINTR})


def store_write_error(root: Path, key: str, exc: OSError) -> StoreError:
    if exc.errno in NO_SPACE:
        return StoreFullError(str(root), f"writing {key!r}: {exc.strerror or exc}")
    return StoreError(
        f"could not write {key!r} in the store {root}: {exc.strerror or exc}",
        transient=exc.errno in TRY_AGAIN,
        hint="check the store folder's file system, its free space and its permissions",
    )


@contextmanager
def write_errors(root: Path, key: str) -> Iterator[None]:
    """Translate the OSErrors of writing `key` under `root` (store errors pass through)."""
    try:
        yield
    except StoreError:
        raise
    except OSError as exc:
        raise store_write_error(root, key, exc) from exc
