from fractions import Fraction

import pytest

from hls_operators.core.chunks import Chunk, first_tile, plan_chunks


def test_a_movie_up_to_the_chunk_length_is_one_chunk():
    assert plan_chunks(300.0, chunk_seconds=300, segment_seconds=6, slots=4) == [Chunk(0, 0, None)]
    assert plan_chunks(5000.0, chunk_seconds=300, segment_seconds=6, slots=1) == [Chunk(0, 0, None)]


def test_a_long_movie_is_cut_on_the_segment_grid_into_at_most_slots_chunks():
    chunks = plan_chunks(7200.0, chunk_seconds=300, segment_seconds=6, slots=4)
    assert chunks == [Chunk(0, 0, 1800), Chunk(1, 1800, 3600), Chunk(2, 3600, 5400), Chunk(3, 5400, None)]
    chunks = plan_chunks(601.0, chunk_seconds=300, segment_seconds=6, slots=4)
    assert [(c.start, c.end) for c in chunks] == [(0, 204), (204, 402), (402, None)]
    assert all(c.start % 6 == 0 for c in chunks)


def test_segments_are_shared_out_evenly():
    # ten 6 s segments in four chunks: 3, 3, 2, 2 (not 3, 3, 3, 1), so two workers get 30 s each
    chunks = plan_chunks(60.0, chunk_seconds=15, segment_seconds=6, slots=4)
    assert [(c.start, c.end) for c in chunks] == [(0, 18), (18, 36), (36, 48), (48, None)]


def test_a_last_piece_under_a_second_joins_the_chunk_before():
    # chunks of whole 6 s segments: 0-6, 6-12 and 0.5 s left over
    chunks = plan_chunks(12.5, chunk_seconds=4, segment_seconds=6, slots=4)
    assert [(c.start, c.end) for c in chunks] == [(0, 6), (6, None)]


@pytest.mark.parametrize("fps", [Fraction(30), Fraction(30000, 1001), Fraction(25), Fraction(24000, 1001)])
def test_every_frame_and_every_tile_belongs_to_exactly_one_chunk(fps):
    chunks = plan_chunks(3599.9, chunk_seconds=600, segment_seconds=6, slots=4)
    frames = [(c.first_frame(fps), c.end_frame(fps)) for c in chunks]
    assert frames[0][0] == 0 and frames[-1][1] is None
    assert all(end == following for (_, end), (following, _) in zip(frames, frames[1:]))
    per_tile = Fraction(5) * fps
    for (first, _), (following, _) in zip(frames, frames[1:]):
        k, next_k = first_tile(first, per_tile), first_tile(following, per_tile)
        # every tile from k to next_k - 1 is a frame of this chunk, and no other
        assert all(first <= -(-j * per_tile // 1) < following for j in range(k, next_k))


def test_chunks_travel_as_json():
    chunk = Chunk(2, 600, None)
    assert Chunk.from_dict(chunk.to_dict()) == chunk and chunk.seek == 598


def test_without_a_ceiling_a_long_movie_gets_a_chunk_per_chunk_length():
    chunks = plan_chunks(7200.0, chunk_seconds=300, segment_seconds=6, slots=None)
    assert len(chunks) == 24 and [c.start for c in chunks[:3]] == [0, 300, 600] and chunks[-1] == Chunk(23, 6900, None)
    assert len(plan_chunks(50.0, chunk_seconds=6, segment_seconds=6, slots=None)) == 9
