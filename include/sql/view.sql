-- What the migration view shows, by name (see hls_operators/edges/sql.py). Read-only.

-- name: totals
-- converted: video_url is the master of a succeeded conversion; remaining: active movies still on
-- an MP4 that a wave would take (not refused); refused and failed: movies still on an MP4 whose latest attempt failed, on bad input
-- (the bad_input classes) or otherwise.
WITH latest AS (
    SELECT DISTINCT ON (movie_id) movie_id, status, error_class
    FROM hls_conversions WHERE status <> 'dry_run'
    ORDER BY movie_id, id DESC
), failing AS (
    SELECT l.error_class = ANY(%(bad_input)s) AS refused
    FROM movies m JOIN latest l ON l.movie_id = m.id
    WHERE l.status = 'failed' AND m.video_url ~* '\.mp4(\?.*)?$'
)
SELECT
    (SELECT count(*) FROM movies m
      WHERE EXISTS (SELECT 1 FROM hls_conversions c
                    WHERE c.movie_id = m.id AND c.status = 'succeeded' AND c.master_url = m.video_url)),
    (SELECT count(*) FROM failing WHERE refused),
    (SELECT count(*) FROM failing WHERE NOT refused),
    (SELECT count(*) FROM movies m LEFT JOIN latest l ON l.movie_id = m.id
      WHERE m.is_active AND m.video_url ~* '\.mp4(\?.*)?$'
        AND NOT COALESCE(l.status = 'failed' AND l.error_class = ANY(%(bad_input)s), false)),
    (SELECT COALESCE(sum(c.bytes), 0) FROM movies m
       JOIN hls_conversions c ON c.movie_id = m.id AND c.status = 'succeeded' AND c.master_url = m.video_url);

-- name: failures_by_class
-- Movies whose latest attempt failed, but not on bad input, by error class, with the newest
-- message of each class.
WITH latest AS (
    SELECT DISTINCT ON (movie_id) movie_id, status, error_class, error_message, finished_at
    FROM hls_conversions WHERE status <> 'dry_run'
    ORDER BY movie_id, id DESC
)
SELECT error_class, count(*),
       (ARRAY_AGG(error_message ORDER BY finished_at DESC NULLS LAST))[1],
       (ARRAY_AGG(movie_id ORDER BY finished_at DESC NULLS LAST))[1]
FROM latest WHERE status = 'failed' AND NOT COALESCE(error_class = ANY(%(bad_input)s), false)
GROUP BY error_class
ORDER BY count(*) DESC, error_class;

-- name: refused
-- Movies still on an MP4 whose latest attempt refused their source as bad input, newest first: the
-- report for the catalog's owners (the page shows the first few, the CSV all of them).
WITH latest AS (
    SELECT DISTINCT ON (movie_id) movie_id, status, error_class, error_message, source_url, finished_at
    FROM hls_conversions WHERE status <> 'dry_run'
    ORDER BY movie_id, id DESC
)
SELECT l.movie_id, m.title, l.error_class, l.error_message, l.source_url, l.finished_at
FROM latest l JOIN movies m ON m.id = l.movie_id
WHERE l.status = 'failed' AND l.error_class = ANY(%(bad_input)s) AND m.video_url ~* '\.mp4(\?.*)?$'
ORDER BY l.finished_at DESC NULLS LAST, l.movie_id
LIMIT %(limit)s;

-- name: throughput
-- Conversions that succeeded in the last day: how many, and how many source seconds.
SELECT count(*), COALESCE(sum((probe ->> 'duration')::float), 0)
FROM hls_conversions
WHERE status = 'succeeded' AND finished_at > now() - interval '24 hours';

-- name: latest_wave_pace
-- The pace of the newest wave of the migration DAG that finished in the last 7 days having converted
-- a movie: its run, the movies it converted in its window, and its own window, from its selection
-- (after any wait for approval) to its finish, so that what every wave spends around its movies
-- (selection, starting each movie's run, recording, finishing) is in the pace too.
SELECT w.run_id, count(*), w.started_at, w.finished_at
FROM hls_waves w
JOIN hls_conversions c ON c.dag_id = w.dag_id AND c.run_id = w.run_id AND c.status = 'succeeded'
                      AND c.finished_at BETWEEN w.started_at AND w.finished_at
WHERE w.dag_id = %(dag_id)s AND w.finished_at > now() - interval '7 days'
GROUP BY w.run_id, w.started_at, w.finished_at
ORDER BY w.finished_at DESC
LIMIT 1;

-- name: recent_conversions
-- With the audio and subtitle renditions the package step published, the tracks it could not carry,
-- and the video rungs it published (with the per-title probe's quality, where it ran).
SELECT c.movie_id, m.title, c.run_id, c.dag_id, c.master_url, c.bytes, (c.probe ->> 'duration')::float, c.finished_at,
       COALESCE(c.steps -> 'package' -> 'audio', '[]'::jsonb), COALESCE(c.steps -> 'package' -> 'subtitles', '[]'::jsonb),
       COALESCE(c.steps -> 'package' -> 'not_carried', '[]'::jsonb), COALESCE(c.ladder, '[]'::jsonb)
FROM hls_conversions c
LEFT JOIN movies m ON m.id = c.movie_id
WHERE c.status = 'succeeded'
ORDER BY c.finished_at DESC
LIMIT %(limit)s;

-- name: latest_estimate
SELECT run_id, estimate, created_at FROM hls_estimates ORDER BY created_at DESC LIMIT 1;

-- name: published_movies
-- Movies that play from a conversion now, with the MP4 they came from (for the player page).
SELECT m.id, m.title, c.master_url, c.source_url, c.output_prefix
FROM movies m
JOIN hls_conversions c ON c.movie_id = m.id AND c.status = 'succeeded' AND c.master_url = m.video_url
ORDER BY m.id;
