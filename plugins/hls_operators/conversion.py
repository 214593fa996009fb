"""The tasks of one movie's conversion, wired at the top of ``hls_convert_movie``: one encode task
mapped over the movie's chunks, as many as its length asks for."""

from __future__ import annotations

from typing import Any

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
    """Wire ``probe`` -> the chunk encodes and ``audio`` -> ``package``, ``thumbnails`` beside them,
    then ``upload`` -> ``verify_and_flip``, and ``record`` after all of them, into the DAG being
    defined; returns ``record``, the last task.

    :param movie: the claimed movie (``claim_movie``'s XCom).
    """
    probe = ProbeOperator(task_id="probe", movie=movie)
    chunks = ChunksOperator(task_id="chunks", movie=probe.output)
    encodes = EncodeChunkOperator.partial(task_id="encode", movie=probe.output, pool=TRANSCODE_POOL).expand(
        chunk_index=chunks.output
    )
    audio = AudioOperator(task_id="audio", movie=probe.output)
    package = PackageOperator(task_id="package", movie=probe.output)
    thumbnails = ThumbnailsOperator(task_id="thumbnails", movie=probe.output)
    upload = UploadOperator(task_id="upload", movie=probe.output)
    verify_and_flip = VerifyAndFlipOperator(task_id="verify_and_flip", movie=probe.output)
    record = RecordOperator(task_id="record", movie=movie)
    probe >> [encodes, audio, thumbnails]
    [encodes, audio] >> package
    [package, thumbnails] >> upload >> verify_and_flip
    # record waits for every step, not only the last: when one branch fails, verify_and_flip is
    # done at once (upstream failed) while the other branch may still run or retry, and a step
    # that started after record would find its attempt closed and its claim released.
    [encodes, audio, package, thumbnails, upload, verify_and_flip] >> record
    return record
