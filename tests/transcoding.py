"""The DAG's transcode stage on one machine: each chunk task's step, then the package task's."""

from __future__ import annotations

import logging
from pathlib import Path

from hls_operators.core.job import MovieJob
from hls_operators.edges.storage import ObjectStore
from hls_operators.settings import Settings
from hls_operators.steps import encode_chunk, package_movie


def transcode(job: MovieJob, *, store: ObjectStore, settings: Settings, work: Path, log: logging.Logger | None = None) -> dict:
    """Every chunk in turn, each in a folder of its own, then the package: the tasks of one worker,
    which share its cache (``tests/integration/test_handoffs.py`` hands over between workers)."""
    log = log or logging.getLogger(__name__)
    for chunk in job.chunks:
        folder = work / f"encode_{chunk.index}"
        folder.mkdir(parents=True)
        encode_chunk(job, chunk.index, store=store, settings=settings, work=folder, log=log)
    (work / "package").mkdir()
    return package_movie(job, store=store, settings=settings, work=work / "package", log=log)
