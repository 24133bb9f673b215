"""The folder where the server's processes keep their metrics (prometheus-client's
multiprocess mode): PROMETHEUS_MULTIPROC_DIR when the environment names one (Kubernetes
mounts an emptyDir there), else a private temporary folder made before the workers start
and removed when the server stops. Either is emptied at start, since files left by an
earlier run would be counted again; a worker that exits is marked dead, so the in-flight
gauge sums the live workers only.

Nothing here imports prometheus-client before the variable is set: it reads the variable
once, when it is first imported, to choose where its values live.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """The folder, set in the environment (inherited by forked workers) and emptied."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        empty(folder)
    else:
        folder = Path(tempfile.mkdtemp(prefix="datamirror-metrics-"))
        os.environ[MULTIPROC_ENV] = str(folder)
    try:
        yield folder
    finally:
        if not given:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(folder, ignore_errors=True)


def empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_file() and child.suffix == ".db":
            child.unlink()


def mark_dead(pid: int, folder: Path) -> None:
    """A worker that exited no longer counts in live gauges."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
