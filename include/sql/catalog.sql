-- Statements on the application's catalog and the pipeline's claims, by name (see hls_operators/edges/sql.py).

-- name: claim_movies
-- Select the movies to convert and claim them for this run, in one statement.
-- A movie qualifies when its video_url is an MP4 (any case, query string allowed), it has no
-- succeeded conversion (unless force), and no other run holds a live claim on it. Without
-- movie_ids only active movies qualify; named movies qualify whatever is_active says. With force, a movie
-- already on HLS is re-converted from the MP4 its published conversion came from.
-- FOR UPDATE SKIP LOCKED: two overlapping runs never pick the same movie.
WITH picked AS (
    SELECT m.id, m.video_url, src.source_url, m.created_at
    FROM movies m
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN m.video_url ~* '\.mp4(\?.*)?$' THEN m.video_url
            WHEN %(force)s THEN (
                SELECT c.source_url FROM hls_conversions c
                WHERE c.movie_id = m.id AND c.status = 'succeeded' AND c.master_url = m.video_url
                ORDER BY c.finished_at DESC LIMIT 1)
        END AS source_url
    ) src
    WHERE src.source_url IS NOT NULL
      -- Implied by the line above without force; spelled out so that the planner walks the partial
      -- index hls_movies_to_convert (schema.sql) in order and stops at the limit.
      AND (%(force)s OR m.video_url ~* '\.mp4(\?.*)?$')
      AND (CASE WHEN %(movie_ids)s::bigint[] IS NULL THEN m.is_active
                ELSE m.id = ANY(%(movie_ids)s::bigint[]) END)
      AND (%(force)s OR NOT EXISTS (
            SELECT 1 FROM hls_conversions c WHERE c.movie_id = m.id AND c.status = 'succeeded'))
      -- A source refused as bad input is not retried every night; a new URL, naming the movie or
      -- force tries again.
      AND (%(force)s OR %(movie_ids)s::bigint[] IS NOT NULL OR NOT EXISTS (
            SELECT 1 FROM hls_conversions c
            WHERE c.movie_id = m.id AND c.source_url = src.source_url AND c.status = 'failed'
              AND c.error_class = ANY(%(bad_input_classes)s)))
      AND NOT EXISTS (
            SELECT 1 FROM hls_claims k
            WHERE k.movie_id = m.id AND k.expires_at > now() AND k.run_id <> %(run_id)s)
    ORDER BY m.created_at, m.id
    LIMIT (CASE WHEN %(movie_ids)s::bigint[] IS NULL THEN %(limit)s END)  -- named movies: all of them
    FOR UPDATE OF m SKIP LOCKED
)
INSERT INTO hls_claims AS k (movie_id, run_id, source_url, expected_url, claimed_at, expires_at)
SELECT id, %(run_id)s, source_url, video_url, now(), now() + make_interval(mins => %(ttl_minutes)s)
FROM picked
ON CONFLICT (movie_id) DO UPDATE
    SET run_id = EXCLUDED.run_id, source_url = EXCLUDED.source_url,
        expected_url = EXCLUDED.expected_url, claimed_at = EXCLUDED.claimed_at,
        expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= now() OR k.run_id = EXCLUDED.run_id
RETURNING movie_id, source_url, expected_url;

-- name: renew_claim
-- Extend this run's claim on a movie at the start of each step; take it back if it lapsed or was
-- released (a task cleared after the movie's attempt closed) and nobody else took it. Returns no
-- row when another run holds the movie.
INSERT INTO hls_claims AS k (movie_id, run_id, source_url, expected_url, claimed_at, expires_at)
VALUES (%(movie_id)s, %(run_id)s, %(source_url)s, %(expected_url)s, now(), now() + make_interval(mins => %(ttl_minutes)s))
ON CONFLICT (movie_id) DO UPDATE
    SET run_id = EXCLUDED.run_id, expires_at = EXCLUDED.expires_at
    WHERE k.run_id = EXCLUDED.run_id OR k.expires_at <= now()
RETURNING source_url, expected_url;

-- name: flip_video_url
-- Point the catalog at the HLS master, only if the application has not changed video_url since the
-- movie was claimed. Zero rows updated means the application's edit wins.
UPDATE movies
SET video_url = %(master_url)s, updated_at = now()
WHERE id = %(movie_id)s AND video_url = %(expected_url)s
RETURNING id;

-- name: rollback_video_url
-- Put a movie's original MP4 back, only while video_url still points at the published master.
UPDATE movies
SET video_url = %(source_url)s, updated_at = now()
WHERE id = %(movie_id)s AND video_url = %(master_url)s
RETURNING id;

-- name: published_conversion
-- The succeeded conversion that a movie's video_url currently points at, if any.
SELECT c.id, c.source_url, c.master_url, c.output_prefix
FROM movies m
JOIN hls_conversions c ON c.movie_id = m.id AND c.status = 'succeeded' AND c.master_url = m.video_url
WHERE m.id = %(movie_id)s
ORDER BY c.finished_at DESC
LIMIT 1;

-- name: release_claim
-- A finished movie (converted or failed) is free for other runs again.
DELETE FROM hls_claims WHERE movie_id = %(movie_id)s AND run_id = %(run_id)s;

-- name: movie_status
-- One movie as the application reads the migration (the view hls_movie_status, schema.sql).
SELECT movie_id, state, progress, step, error_class, error_message, master_url, audio_languages,
       subtitle_languages, updated_at
FROM hls_movie_status WHERE movie_id = %(movie_id)s;

-- name: referenced_urls
-- Every URL the application's catalog points at: a set any of them names is never swept.
SELECT video_url FROM movies WHERE video_url IS NOT NULL
UNION SELECT trailer_url FROM movies WHERE trailer_url IS NOT NULL;

-- name: kept_conversions
-- (movie, output prefix) of each movie's latest succeeded conversion, and of every attempt
-- still running: what a rollback, a re-flip or an attempt under way may still need.
SELECT movie_id, output_prefix FROM (
    SELECT DISTINCT ON (movie_id) movie_id, output_prefix FROM hls_conversions
    WHERE status = 'succeeded' AND output_prefix IS NOT NULL ORDER BY movie_id, finished_at DESC
) latest
UNION
SELECT movie_id, output_prefix FROM hls_conversions WHERE status = 'running' AND output_prefix IS NOT NULL;

-- name: claimed_movies
SELECT movie_id FROM hls_claims WHERE expires_at > now();

-- name: retirement_candidates
-- Ready movies (hls_movie_status) whose published conversion has played for the grace period,
-- with what retiring their MP4 needs; %(movie_ids)s narrows them when not NULL.
SELECT s.movie_id, c.source_url, c.output_prefix, (c.probe ->> 'duration')::float
FROM hls_movie_status s
JOIN movies m ON m.id = s.movie_id
JOIN LATERAL (
    SELECT * FROM hls_conversions c
    WHERE c.movie_id = s.movie_id AND c.status = 'succeeded' AND c.master_url = m.video_url
    ORDER BY c.finished_at DESC LIMIT 1
) c ON true
WHERE s.state = 'ready'
  AND c.finished_at < now() - make_interval(secs => %(grace_seconds)s)
  AND (%(movie_ids)s::bigint[] IS NULL OR s.movie_id = ANY(%(movie_ids)s::bigint[]))
ORDER BY s.movie_id;

-- name: mp4_references
-- Every URL a movie plays or may roll back to: its video, its trailer and, while it plays from HLS,
-- the MP4 its published conversion came from. An original that any other of them resolves to (the
-- same object however spelled: s3://, the public base, a query) is never retired.
SELECT id, 'video', video_url FROM movies WHERE video_url IS NOT NULL
UNION ALL
SELECT id, 'trailer', trailer_url FROM movies WHERE trailer_url IS NOT NULL
UNION ALL
SELECT c.movie_id, 'rollback point', c.source_url
FROM hls_conversions c JOIN movies m ON m.id = c.movie_id AND m.video_url = c.master_url
WHERE c.status = 'succeeded' AND c.source_url IS NOT NULL;

-- name: record_retirement
INSERT INTO hls_retirements (movie_id, run_id, status, source_url, archive, bytes, sha256, reason)
VALUES (%(movie_id)s, %(run_id)s, %(status)s, %(source_url)s, %(archive)s, %(bytes)s, %(sha256)s, %(reason)s);

-- name: latest_retirement
-- The movie's archived original, while it is retired (not restored since).
SELECT source_url, archive, bytes, sha256 FROM (
    SELECT * FROM hls_retirements WHERE movie_id = %(movie_id)s AND status IN ('retired', 'restored')
    ORDER BY id DESC LIMIT 1
) latest WHERE status = 'retired';
