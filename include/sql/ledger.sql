-- The audit ledger hls_conversions, by name (see hls_operators/edges/sql.py).

-- name: run_outcome
-- The latest attempt of each movie in one run.
SELECT DISTINCT ON (movie_id) movie_id, status, error_class, error_message
FROM hls_conversions
WHERE run_id = %(run_id)s AND dag_id = %(dag_id)s
ORDER BY movie_id, attempt DESC;

-- name: latest_attempt
SELECT id, attempt, status, steps, error_class, try_number
FROM hls_conversions
WHERE run_id = %(run_id)s AND movie_id = %(movie_id)s AND dag_id = %(dag_id)s
ORDER BY attempt DESC
LIMIT 1
FOR UPDATE;

-- name: open_attempt
-- A new attempt carries over what earlier attempts of the same run already learned.
INSERT INTO hls_conversions
    (movie_id, dag_id, run_id, map_index, attempt, try_number, status, source_url, probe, ladder,
     output_prefix)
SELECT %(movie_id)s, %(dag_id)s, %(run_id)s, %(map_index)s,
       COALESCE(MAX(attempt), 0) + 1, %(try_number)s, 'running',
       COALESCE((ARRAY_AGG(source_url ORDER BY attempt DESC))[1], %(source_url)s),
       (ARRAY_AGG(probe ORDER BY attempt DESC))[1],
       (ARRAY_AGG(ladder ORDER BY attempt DESC))[1],
       (ARRAY_AGG(output_prefix ORDER BY attempt DESC))[1]
FROM hls_conversions
WHERE run_id = %(run_id)s AND movie_id = %(movie_id)s AND dag_id = %(dag_id)s
RETURNING id;

-- name: start_step
UPDATE hls_conversions
SET steps = jsonb_set(steps, ARRAY[%(step)s], jsonb_build_object('try', %(try_number)s, 'started_at', now())),
    try_number = GREATEST(try_number, %(try_number)s), map_index = %(map_index)s, updated_at = now()
WHERE id = %(id)s;

-- name: finish_step
-- Record a step's duration, its own details (such as cpu_seconds) and whatever it learned; NULL
-- arguments leave a column as it was.
UPDATE hls_conversions
SET steps = jsonb_set(steps, ARRAY[%(step)s],
                      steps -> %(step)s || jsonb_build_object('seconds', %(seconds)s::float)
                                        || COALESCE(%(details)s::jsonb, '{}'::jsonb)),
    source_url = COALESCE(%(source_url)s, source_url),
    probe = COALESCE(%(probe)s::jsonb, probe),
    ladder = COALESCE(%(ladder)s::jsonb, ladder),
    output_prefix = COALESCE(%(output_prefix)s, output_prefix),
    master_url = COALESCE(%(master_url)s, master_url),
    bytes = COALESCE(%(bytes)s, bytes),
    segments = COALESCE(%(segments)s, segments),
    status = COALESCE(%(status)s, status),
    finished_at = CASE WHEN %(status)s IS NULL THEN finished_at ELSE now() END,
    updated_at = now()
WHERE id = %(id)s;

-- name: record_progress
-- Live progress of a running step, for the ledger's readers (percent, speed, ETA).
UPDATE hls_conversions
SET steps = jsonb_set(steps, ARRAY[%(step)s, 'progress'],
                      jsonb_build_object('percent', %(percent)s::float, 'speed', %(speed)s::float,
                                         'eta_seconds', %(eta_seconds)s::float, 'at', now())),
    updated_at = now()
WHERE id = %(id)s AND status = 'running';

-- name: fail_attempt
UPDATE hls_conversions
SET status = 'failed', error_class = %(error_class)s, error_message = %(error_message)s,
    finished_at = now(), updated_at = now()
WHERE id = %(id)s AND status = 'running';

-- name: blame_the_input
-- A failed attempt takes a refusal of the input found by a step beside the one that failed: the
-- source's fault explains the other step's failure (a thumbnail's seek into a truncated file).
UPDATE hls_conversions
SET error_class = %(error_class)s, error_message = %(error_message)s, updated_at = now()
WHERE id = %(id)s AND status = 'failed' AND error_class <> ALL(%(bad_input)s);

-- name: record_rollback
INSERT INTO hls_conversions
    (movie_id, dag_id, run_id, map_index, attempt, try_number, status, source_url, master_url,
     output_prefix, finished_at)
SELECT %(movie_id)s, %(dag_id)s, %(run_id)s, -1, COALESCE(MAX(attempt), 0) + 1, %(try_number)s,
       'rolled_back', %(source_url)s, %(master_url)s, %(output_prefix)s, now()
FROM hls_conversions
WHERE run_id = %(run_id)s AND movie_id = %(movie_id)s AND dag_id = %(dag_id)s;

-- name: dry_run_results
-- What a dry run learned of each movie: its probe and ladder, or why it would be refused.
SELECT DISTINCT ON (movie_id) movie_id, status, error_class, probe, ladder
FROM hls_conversions
WHERE run_id = %(run_id)s AND dag_id = %(dag_id)s
ORDER BY movie_id, attempt DESC;

-- name: recent_transcode_costs
-- What recent successful transcodes cost: the CPU time of all their steps that ran ffmpeg (chunk
-- encodes, audio, packaging), their duration and ladder; the estimate's speed comes from these.
SELECT (SELECT sum((s.value ->> 'cpu_seconds')::float) FROM jsonb_each(c.steps) s) AS cpu_seconds,
       (c.probe ->> 'duration')::float AS duration,
       c.ladder
FROM hls_conversions c
WHERE c.status = 'succeeded' AND jsonb_path_exists(c.steps, '$.*.cpu_seconds')
ORDER BY c.finished_at DESC
LIMIT 200;

-- name: save_estimate
INSERT INTO hls_estimates (run_id, estimate) VALUES (%(run_id)s, %(estimate)s::jsonb)
ON CONFLICT (run_id) DO UPDATE SET estimate = EXCLUDED.estimate, created_at = now();

-- name: start_wave
-- Selected again after a clear, the wave's window starts again.
INSERT INTO hls_waves (dag_id, run_id) VALUES (%(dag_id)s, %(run_id)s)
ON CONFLICT (dag_id, run_id) DO UPDATE SET started_at = now(), finished_at = NULL;

-- name: finish_wave
UPDATE hls_waves SET finished_at = now() WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s;

-- name: record_preflight
INSERT INTO hls_preflight (dag_id, run_id, problems) VALUES (%(dag_id)s, %(run_id)s, %(problems)s::jsonb)
ON CONFLICT (singleton) DO UPDATE SET dag_id = EXCLUDED.dag_id, run_id = EXCLUDED.run_id, problems = EXCLUDED.problems,
                                      checked_at = now();

-- name: latest_preflight
SELECT dag_id, run_id, checked_at, problems FROM hls_preflight;

-- name: current_hold
SELECT run_id, reason, held_at, asked_by, asked_at FROM hls_hold;

-- name: set_hold
INSERT INTO hls_hold (run_id, reason) VALUES (%(run_id)s, %(reason)s)
ON CONFLICT (singleton) DO UPDATE SET run_id = EXCLUDED.run_id, reason = EXCLUDED.reason, held_at = now(),
                                      asked_by = NULL, asked_at = NULL;

-- name: ask_to_lift_hold
-- A run waits for a person's answer; (run_id NULL) nobody is asked any more.
UPDATE hls_hold SET asked_by = %(run_id)s, asked_at = CASE WHEN %(run_id)s::text IS NULL THEN NULL ELSE now() END;

-- name: lift_hold
-- Any hold, or (run_id given) only the one that run set.
DELETE FROM hls_hold WHERE %(run_id)s::text IS NULL OR run_id = %(run_id)s RETURNING run_id, reason;

-- name: record_delivery
-- One try to deliver the application's webhook.
INSERT INTO hls_webhook_deliveries (movie_id, run_id, event, attempt, status_code, detail)
VALUES (%(movie_id)s, %(run_id)s, %(event)s, %(attempt)s, %(status_code)s, %(detail)s);
