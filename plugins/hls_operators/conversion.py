"""The tasks of one movie's conversion, wired at the top of ``hls_convert_movie``: one encode task
mapped over the movie's chunks, as many as its length asks for."""

from __future__ import annotations

from typing import Any

from hls_operators.core.step_graph import STEP_UPSTREAMS
from hls_operators.run_operators import RecordOperator
from hls_operators.settings import TRANSCODE_POOL
from hls_operators.step_operators import (
    AudioOperator,
    ChunksOperator,
    EncodeChunkOperator,
    PackageOperator,
    ProbeOperator,
    ThumbnailsOperator,
    UploadOperator,
    VerifyAndFlipOperator,
)


def movie_conversion(movie: Any) -> RecordOperator:
    """Wire the steps as ``core/step_graph.py`` orders them (``probe`` -> the chunk encodes and
    ``audio`` -> ``package``, ``thumbnails`` beside them, then ``upload`` -> ``verify_and_flip``),
    and ``record`` after all of them, into the DAG being defined; returns ``record``, the last task.

    :param movie: the claimed movie (``claim_movie``'s XCom).
    """
    probe = ProbeOperator(task_id="probe", movie=movie)
    chunks = ChunksOperator(task_id="chunks", movie=probe.output)
    steps = {
        "probe": probe,
        "encode": EncodeChunkOperator.partial(task_id="encode", movie=probe.output, pool=TRANSCODE_POOL).expand(
            chunk_index=chunks.output
        ),
        "audio": AudioOperator(task_id="audio", movie=probe.output),
        "thumbnails": ThumbnailsOperator(task_id="thumbnails", movie=probe.output),
        "package": PackageOperator(task_id="package", movie=probe.output),
        "upload": UploadOperator(task_id="upload", movie=probe.output),
        "verify_and_flip": VerifyAndFlipOperator(task_id="verify_and_flip", movie=probe.output),
    }
    for step, upstreams in STEP_UPSTREAMS.items():
        for upstream in upstreams:
            steps[upstream] >> steps[step]
    record = RecordOperator(task_id="record", movie=movie)
    # record waits for every step, not only the last: when one branch fails, verify_and_flip is
    # done at once (upstream failed) while the other branch may still run or retry, and a step
    # that started after record would find its attempt closed and its claim released.
    list(steps.values()) >> record
    return record
