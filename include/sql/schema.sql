-- The pipeline's own tables. Idempotent: every run applies it before touching the catalog.

-- Parallel runs apply this at once: one at a time (until the transaction ends), so that two
-- CREATE ... IF NOT EXISTS never race on the same name.
SELECT pg_advisory_xact_lock(4738131);  -- 0x484C53, "HLS"

-- The audit ledger: one row per attempt to convert (or roll back) one movie.
CREATE TABLE IF NOT EXISTS hls_conversions (
    id            bigserial PRIMARY KEY,
    movie_id      bigint NOT NULL,
    dag_id        text NOT NULL,
    run_id        text NOT NULL,
    map_index     integer NOT NULL DEFAULT -1,
    attempt       integer NOT NULL,           -- 1, 2, ... per movie within one run
    try_number    integer NOT NULL,           -- Airflow try of the task that wrote last
    status        text NOT NULL
                  CHECK (status IN ('running', 'succeeded', 'failed', 'dry_run', 'rolled_back')),
    error_class   text,
    error_message text,
    source_url    text,
    probe         jsonb,
    ladder        jsonb,
    output_prefix text,
    master_url    text,
    bytes         bigint,
    segments      integer,
    steps         jsonb NOT NULL DEFAULT '{}'::jsonb,  -- per step: try, started_at, seconds
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, movie_id, attempt)
);
CREATE INDEX IF NOT EXISTS hls_conversions_movie_status ON hls_conversions (movie_id, status);

-- The queue of movies still on an MP4, oldest first: selection reads 50 rows of it instead of
-- sorting the whole catalog. An index on the application's table (no column is added); a converted
-- movie leaves it when its video_url flips. On a very large catalog, create it beforehand with
-- CREATE INDEX CONCURRENTLY, so that building it never blocks the application's writes.
CREATE INDEX IF NOT EXISTS hls_movies_to_convert ON movies (created_at, id)
    WHERE is_active AND video_url ~* '\.mp4(\?.*)?$';

-- Which run currently owns which movie. A claim expires so that a crashed run's movies come back.
CREATE TABLE IF NOT EXISTS hls_claims (
    movie_id     bigint PRIMARY KEY,
    run_id       text NOT NULL,
    source_url   text NOT NULL,   -- the MP4 to convert
    expected_url text NOT NULL,   -- movies.video_url when claimed: the flip requires it unchanged
    claimed_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- A hold stops scheduled runs from taking new movies: set when a wave's failure rate went over
-- hls_max_failure_rate, lifted by a run triggered with resume. At most one row.
CREATE TABLE IF NOT EXISTS hls_hold (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    run_id    text NOT NULL,
    reason    text NOT NULL,
    held_at   timestamptz NOT NULL DEFAULT now()
);

-- What each dry run estimated, for the migration view.
CREATE TABLE IF NOT EXISTS hls_estimates (
    run_id     text PRIMARY KEY,
    estimate   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
