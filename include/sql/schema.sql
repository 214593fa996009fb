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
-- The run that waits for a person to lift the hold in Required Actions, and since when: the view
-- shows who is waiting. (Added to holds of an earlier schema in place.)
ALTER TABLE hls_hold ADD COLUMN IF NOT EXISTS asked_by text, ADD COLUMN IF NOT EXISTS asked_at timestamptz;

-- The newest preflight of a converting run (the first task of hls_migration and hls_convert_movie):
-- what it found wrong, each with its fix ([] when nothing), for the migration view. At most one row.
CREATE TABLE IF NOT EXISTS hls_preflight (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    dag_id     text NOT NULL,
    run_id     text NOT NULL,
    problems   jsonb NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now()
);

-- Each wave's own window, from its selection (after any wait for approval) to its finish: what the
-- migration view's ETA paces the rest of the catalog on, the wave's overheads included.
CREATE TABLE IF NOT EXISTS hls_waves (
    dag_id      text NOT NULL,
    run_id      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (dag_id, run_id)
);

-- What each dry run estimated, for the migration view.
CREATE TABLE IF NOT EXISTS hls_estimates (
    run_id     text PRIMARY KEY,
    estimate   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Each movie's ledger rows, newest first: what hls_movie_status (below) reads of one movie, so that
-- reading one costs a primary-key lookup and an index scan, whatever the catalog's size.
CREATE INDEX IF NOT EXISTS hls_conversions_movie_latest ON hls_conversions (movie_id, id DESC);

-- Every try to deliver the application's webhook, with its answer (hls_webhook connection).
CREATE TABLE IF NOT EXISTS hls_webhook_deliveries (
    id           bigserial PRIMARY KEY,
    movie_id     bigint NOT NULL,
    run_id       text NOT NULL,
    event        text NOT NULL,
    attempt      integer NOT NULL,
    status_code  integer,            -- NULL: no answer (refused, timed out)
    detail       text,               -- the start of the answer, or what went wrong
    delivered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hls_webhook_deliveries_movie ON hls_webhook_deliveries (movie_id, id);

-- Originals retired once their HLS has proven itself: each movie's MP4 archived (copy checked by
-- size and SHA-256) before it is deleted, and restored from the archive by a rollback.
CREATE TABLE IF NOT EXISTS hls_retirements (
    id          bigserial PRIMARY KEY,
    movie_id    bigint NOT NULL,
    run_id      text NOT NULL,
    status      text NOT NULL CHECK (status IN ('dry_run', 'retired', 'refused', 'restored')),
    source_url  text NOT NULL,
    archive     text,            -- bucket/key of the archived copy
    bytes       bigint,
    sha256      text,
    reason      text,            -- why a movie was refused
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS hls_retirements_movie ON hls_retirements (movie_id, id DESC);

-- The application's read of the migration (the README's contract): one row per movie the pipeline
-- has claimed or attempted, from the latest attempt that is not a dry run; a ready movie whose
-- original was archived and deleted is 'retired'.
CREATE OR REPLACE VIEW hls_movie_status AS
SELECT m.id AS movie_id,
       CASE
           WHEN latest.status = 'running' THEN 'converting'
           WHEN claim.expires_at > now() AND (latest.id IS NULL OR latest.started_at < claim.claimed_at) THEN 'queued'
           WHEN latest.status = 'succeeded' AND m.video_url = latest.master_url AND retirement.status = 'retired' THEN 'retired'
           WHEN latest.status = 'succeeded' AND m.video_url = latest.master_url THEN 'ready'
           WHEN latest.status = 'rolled_back' THEN 'rolled_back'
           WHEN latest.status = 'failed' THEN 'failed'
           ELSE 'queued'  -- converted once, but the movie is an MP4 again: the next selection takes it
       END AS state,
       CASE
           WHEN latest.status = 'running' THEN COALESCE(running.percent, 0)
           WHEN latest.status = 'succeeded' AND m.video_url = latest.master_url THEN 100
           WHEN latest.status IN ('failed', 'rolled_back') THEN NULL
           ELSE 0
       END::integer AS progress,
       CASE WHEN latest.status = 'running' THEN running.step END AS step,
       CASE WHEN latest.status = 'failed' THEN latest.error_class END AS error_class,
       CASE WHEN latest.status = 'failed' THEN latest.error_message END AS error_message,
       CASE WHEN latest.status = 'succeeded' AND m.video_url = latest.master_url THEN latest.master_url END AS master_url,
       CASE WHEN latest.status = 'succeeded' AND m.video_url = latest.master_url
            THEN ARRAY(SELECT track ->> 'language' FROM jsonb_array_elements(latest.steps -> 'package' -> 'audio') AS track) END
           AS audio_languages,
       CASE WHEN latest.status = 'succeeded' AND m.video_url = latest.master_url
            THEN ARRAY(SELECT track ->> 'language' FROM jsonb_array_elements(latest.steps -> 'package' -> 'subtitles') AS track) END
           AS subtitle_languages,
       GREATEST(latest.updated_at, claim.claimed_at) AS updated_at
FROM movies m
LEFT JOIN hls_claims claim ON claim.movie_id = m.id
LEFT JOIN LATERAL (
    SELECT c.* FROM hls_conversions c
    WHERE c.movie_id = m.id AND c.status <> 'dry_run'
    ORDER BY c.id DESC LIMIT 1
) latest ON true
LEFT JOIN LATERAL (
    SELECT r.status FROM hls_retirements r WHERE r.movie_id = m.id AND r.status IN ('retired', 'restored')
    ORDER BY r.id DESC LIMIT 1
) retirement ON true
LEFT JOIN LATERAL (
    -- the step that has started and not finished, and how far its ffmpeg has got
    SELECT step.key AS step, round((step.value -> 'progress' ->> 'percent')::float) AS percent
    FROM jsonb_each(latest.steps) AS step
    WHERE NOT step.value ? 'seconds'
    ORDER BY step.value ->> 'started_at' DESC LIMIT 1
) running ON latest.status = 'running'
WHERE latest.id IS NOT NULL OR claim.movie_id IS NOT NULL;
