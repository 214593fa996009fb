"""Classified failures: every error the pipeline records carries one class from ``ErrorClass``.

A class tells an operator whether retrying can help (``retryable``) and tells the people reading the
ledger what went wrong without reading a traceback.
"""

from __future__ import annotations

import errno
import re
import signal
from collections.abc import Callable
from enum import Enum

MESSAGE_LIMIT = 2000
# How a full disk reads in a child process's stderr (ffmpeg), where no errno reaches us.
NO_SPACE_TEXT = "No space left on device"
# What of a URL is a secret: its query string (a presigned URL's signature, a webhook's token)
# and its userinfo.
QUERY_STRING = re.compile(r"\?[^\s'\"#]+")
USERINFO = re.compile(r"(?<=//)[^/\s'\"@]+@")


class ErrorClass(str, Enum):
    SOURCE_UNREACHABLE = "source_unreachable"  # the source URL cannot be fetched
    SOURCE_FORBIDDEN = "source_forbidden"  # the source (or a redirect) points at an internal address
    NOT_VIDEO = "not_video"  # the file is not a video we can read (text, image, audio only)
    CORRUPT = "corrupt"  # a video container that is broken or truncated
    UNSUPPORTED = "unsupported"  # valid, but outside what we convert (encrypted, too large, ...)
    TRANSCODE_FAILED = "transcode_failed"  # ffmpeg failed on an input ffprobe accepted
    STORAGE_UNAVAILABLE = "storage_unavailable"  # object storage errors and timeouts
    CATALOG_UNAVAILABLE = "catalog_unavailable"  # PostgreSQL errors and timeouts
    VERIFICATION_FAILED = "verification_failed"  # the uploaded set is not complete or not consistent
    CATALOG_CHANGED = "catalog_changed"  # the application edited video_url during the conversion
    CLAIMED_ELSEWHERE = "claimed_elsewhere"  # another run holds this movie
    WORKER_LOST = "worker_lost"  # a task try, or the ffmpeg it ran, was killed (worker going down)
    OUT_OF_MEMORY = "out_of_memory"  # the kernel's OOM killer took ffmpeg (the worker was short of memory)
    DISK_FULL = "disk_full"  # the work directory ran out of space
    TIMEOUT = "timeout"  # ffmpeg ran longer than the source duration allows
    INTERNAL = "internal"  # a bug: anything not classified above


# Faults of the environment, not of the movie: another try may succeed.
RETRYABLE = frozenset(
    {
        ErrorClass.STORAGE_UNAVAILABLE,
        ErrorClass.CATALOG_UNAVAILABLE,
        ErrorClass.WORKER_LOST,
        ErrorClass.OUT_OF_MEMORY,
        ErrorClass.DISK_FULL,
    }
)


# The input itself is bad: converting the same source again gives the same result.
BAD_INPUT = frozenset({ErrorClass.NOT_VIDEO, ErrorClass.CORRUPT, ErrorClass.UNSUPPORTED, ErrorClass.SOURCE_FORBIDDEN})

# Faults of the pipeline itself (a bug, an encoder failing on what the probe accepted, a set that does
# not verify): neither a retry nor another night mends them, so a wave with one needs a person.
DEFECTS = frozenset({ErrorClass.INTERNAL, ErrorClass.TRANSCODE_FAILED, ErrorClass.VERIFICATION_FAILED})


class MigrationError(Exception):
    """A failure with a class; ``retryable`` defaults from the class and can be overridden."""

    def __init__(self, error_class: ErrorClass, message: str, *, retryable: bool | None = None):
        message = redacted(message)
        super().__init__(f"{error_class.value}: {message}")
        self.error_class = error_class
        self.message = bound_message(message)
        self.retryable = error_class in RETRYABLE if retryable is None else retryable


def is_disk_full(error: BaseException | str) -> bool:
    """A full disk, raised in Python (ENOSPC) or reported in a child process's stderr."""
    if isinstance(error, OSError):
        return error.errno == errno.ENOSPC
    return NO_SPACE_TEXT in str(error)


def killed_by_signal(label: str, signal_number: int | None, *, oom_killed: bool) -> MigrationError:
    """A process ended by a signal is a fault of the worker, not of the movie: retried.
    ``signal_number`` None: the process said it stopped on one, not which. ``oom_killed``: the kernel
    says its OOM killer struck while the process ran."""
    if signal_number is None:
        name = "a signal"
    else:
        try:
            name = signal.Signals(signal_number).name
        except ValueError:
            name = f"signal {signal_number}"
    if oom_killed and signal_number == signal.SIGKILL:
        return MigrationError(
            ErrorClass.OUT_OF_MEMORY, f"{label} was killed by the kernel's OOM killer (the worker ran out of memory)"
        )
    return MigrationError(
        ErrorClass.WORKER_LOST, f"{label} was killed by {name} (the worker stopping, or another process killing it)"
    )


def redacted(text: str) -> str:
    """``text`` with the query strings and userinfo of the URLs in it cut out: what the ledger, the
    status API, the webhook and the logs may show of a presigned source URL or a webhook URL."""
    return USERINFO.sub("…@", QUERY_STRING.sub("?…", text))


def bound_message(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """Keep messages short enough for a ledger row and a UI cell; the tail is usually the cause."""
    message = message.strip()
    if len(message) <= limit:
        return message
    return "..." + message[-(limit - 3) :]


def classify(error: BaseException, *readers: Callable[[BaseException], MigrationError | None]) -> MigrationError:
    """Every failure becomes a ``MigrationError``: as it is; as the edge whose library raised it reads
    it (``readers``: each edge knows its own library's exceptions); a full disk; else ``internal``,
    not retried."""
    if isinstance(error, MigrationError):
        return error
    for read in readers:
        if (known := read(error)) is not None:
            return known
    if is_disk_full(error):
        return MigrationError(ErrorClass.DISK_FULL, str(error))
    return MigrationError(ErrorClass.INTERNAL, f"{type(error).__name__}: {error}", retryable=False)
