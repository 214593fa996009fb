-- Statements of the demo, the test catalog seeding and the benchmarks (devenv/, bench/), by name
-- (see hls_operators/edges/sql.py). Never run by the pipeline itself.

-- name: seed_movie
-- One movie of a demo or test catalog; %(minutes_ago)s orders the selection (oldest first).
INSERT INTO movies (id, title, slug, description, duration, video_url, is_active, created_at)
VALUES (%(id)s, %(title)s, %(slug)s, %(title)s, 1, %(video_url)s, %(is_active)s,
        now() - make_interval(mins => %(minutes_ago)s));

-- name: latest_attempt_per_movie
-- The demo's report: every movie with its latest conversion attempt, if any.
SELECT m.id, m.title, c.status, c.error_class, c.error_message, c.ladder, c.bytes, m.video_url
FROM movies m
LEFT JOIN LATERAL (SELECT * FROM hls_conversions c WHERE c.movie_id = m.id ORDER BY c.id DESC LIMIT 1) c ON true
ORDER BY m.id;

-- name: latest_attempt_steps
-- A benchmark's movie: the status and per-step timings of its latest attempt.
SELECT status, steps FROM hls_conversions WHERE movie_id = %(movie_id)s ORDER BY id DESC LIMIT 1;

-- name: bench_catalog
-- A catalog of %(movies)s rows for the selection benchmark: every third on HLS, one in fifty
-- inactive, the rest MP4s.
INSERT INTO movies (id, title, slug, video_url, is_active, created_at)
SELECT i, 'Movie ' || i, 'movie-' || i,
       CASE WHEN mod(i, 3) = 0 THEN 'https://cdn.example/hls/movies/' || i || '/v/master.m3u8'
            ELSE 'https://cdn.example/uploads/' || i || '/movie.mp4' END,
       mod(i, 50) <> 0, now() - make_interval(secs => %(movies)s - i)
FROM generate_series(1, %(movies)s) AS i;

-- name: bench_ledger
-- Its ledger: the movies on HLS succeeded, one in 97 of the others failed as corrupt.
INSERT INTO hls_conversions (movie_id, dag_id, run_id, attempt, try_number, status, source_url, master_url,
                             error_class, finished_at)
SELECT i, %(dag_id)s, 'bench', 1, 1,
       CASE WHEN mod(i, 3) = 0 THEN 'succeeded' ELSE 'failed' END,
       'https://cdn.example/uploads/' || i || '/movie.mp4',
       CASE WHEN mod(i, 3) = 0 THEN 'https://cdn.example/hls/movies/' || i || '/v/master.m3u8' END,
       CASE WHEN mod(i, 3) = 0 THEN NULL ELSE 'corrupt' END, now()
FROM generate_series(1, %(movies)s) AS i WHERE mod(i, 3) = 0 OR mod(i, 97) = 0;

-- name: analyze
ANALYZE;

-- name: status_counts
-- The admin panel's totals, for the status benchmark.
SELECT state, count(*) FROM hls_movie_status GROUP BY state;

-- name: explain_movie_status
-- How one movie's status is read: the benchmark checks that it is index-backed.
EXPLAIN SELECT * FROM hls_movie_status WHERE movie_id = %(movie_id)s;

-- name: soak_attempts
-- The chaos soak's reading of the ledger: every attempt, for its figures.
SELECT movie_id, status, error_class, master_url FROM hls_conversions;

-- name: soak_video_urls
SELECT id, video_url FROM movies;

-- name: soak_claims_left
SELECT movie_id, run_id FROM hls_claims ORDER BY movie_id;
