"""The tasks of one movie's conversion, wired once for both DAGs that convert: inside each movie's
mapped task group in ``hls_migration`` (fixed chunk slots, because Airflow cannot map a task inside
a mapped group) and at the top of ``hls_convert_movie`` (one encode task mapped over the chunks)."""

from __future__ import annotations

from typing import Any

from hls_operators.operators import (
    AudioOperator,
    ChunksOperator,
    EncodeChunkOperator,
    PackageOperator,
    ProbeOperator,
    ThumbnailsOperator,
    UploadOperator,
    VerifyAndFlipOperator,
)
from hls_operators.run_operators import RecordOperator
from hls_operators.settings import TRANSCODE_POOL


def movie_conversion(movie: Any, *, chunk_slots: int | None) -> RecordOperator:
    """Wire ``probe`` -> chunk encodes and ``audio`` -> ``package``, ``thumbnails`` beside them,
    then ``upload`` -> ``verify_and_flip`` -> ``record`` into the DAG or task group being defined;
    returns ``record``, the last task.

    :param movie: the claimed movie (the selection's mapped XCom, or the claim's).
    :param chunk_slots: that many chunk tasks ``encode_0`` ... (those past the movie's chunks
        skip); None: ``chunks`` lists the probe's chunks and one ``encode`` task is mapped over them.
    """
    probe = ProbeOperator(task_id="probe", movie=movie, chunk_slots=chunk_slots)
    if chunk_slots is None:
        chunks = ChunksOperator(task_id="chunks", movie=probe.output)
        encodes = [
            EncodeChunkOperator.partial(task_id="encode", movie=probe.output, pool=TRANSCODE_POOL).expand(
                chunk_index=chunks.output
            )
        ]
    else:
        encodes = [
            EncodeChunkOperator(task_id=f"encode_{i}", movie=probe.output, chunk_index=i, pool=TRANSCODE_POOL)
            for i in range(chunk_slots)
        ]
    audio = AudioOperator(task_id="audio", movie=probe.output)
    package = PackageOperator(task_id="package", movie=probe.output)
    thumbnails = ThumbnailsOperator(task_id="thumbnails", movie=probe.output)
    upload = UploadOperator(task_id="upload", movie=probe.output)
    verify_and_flip = VerifyAndFlipOperator(task_id="verify_and_flip", movie=probe.output)
    record = RecordOperator(task_id="record", movie=movie)
    probe >> [*encodes, audio, thumbnails]
    [*encodes, audio] >> package
    [package, thumbnails] >> upload >> verify_and_flip >> record
    return record
