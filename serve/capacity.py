"""How many connections a server process can hold. Every connection costs one file
descriptor, so the open-files limit (RLIMIT_NOFILE) is the ceiling: at start-up the server
raises its soft limit to the hard one, as nginx's `worker_rlimit_nofile` does (the
default soft limit, often 1024, is far below what the kernel allows), and keeps back the
descriptors it needs for itself: the held object files (`serve.open_files`), the catalog's
connections, logs, the listening socket and the event loop's own.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path

from serve.open_files import DEFAULT_CAPACITY as HELD_FILES

RESERVED = HELD_FILES + 64
NR_OPEN = Path("/proc/sys/fs/nr_open")
NR_OPEN_DEFAULT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class OpenFilesLimit:
    """The soft limit found at start-up (`before`), the one in force and the hard one."""

    before: int
    soft: int
    hard: int

    @property
    def connections(self) -> int:
        """Connections one server process can hold at once."""
        return connections_for(self.soft)

    def describe(self) -> str:
        raised = f", raised from {self.before}" if self.soft > self.before else ""
        return (
            f"up to {self.connections:,} connections per worker "
            f"(open files limit {self.soft:,}{raised})"
        )


def connections_for(soft_limit: int) -> int:
    return max(0, soft_limit - RESERVED)


def current_connections() -> int:
    """What this process can hold under the limit in force now."""
    return connections_for(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def raise_open_files_limit() -> OpenFilesLimit:
    """Raise this process's soft open-files limit as far as the hard limit allows (children
    forked later inherit it). A hard limit of "unlimited" means the kernel's `nr_open`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = _nr_open() if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        except (ValueError, OSError):
            ceiling = soft  # a sandbox may refuse: the limit stays where it was
        else:
            return OpenFilesLimit(soft, ceiling, _finite(hard))
    return OpenFilesLimit(_finite(soft), _finite(soft), _finite(hard))


def _nr_open() -> int:
    try:
        return int(NR_OPEN.read_text())
    except (OSError, ValueError):
        return NR_OPEN_DEFAULT


def _finite(limit: int) -> int:
    return _nr_open() if limit == resource.RLIM_INFINITY else limit
