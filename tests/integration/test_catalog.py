"""Selection, claims, ledger and the catalog flip, against a real PostgreSQL."""

from __future__ import annotations

import uuid

import psycopg2
import pytest

from hls_operators.core.errors import ErrorClass, MigrationError
from hls_operators.core.job import ClaimedMovie
from hls_operators.edges import catalog, ledger, run_records
from hls_operators.edges.sql import queries, sql_file
from hls_operators.edges.summary import load_summary

pytestmark = pytest.mark.services  # PostgreSQL, SeaweedFS or ffmpeg


@pytest.fixture
def conn(postgres):
    name = f"hls_catalog_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    connection = psycopg2.connect(postgres.dsn(name))
    with connection, connection.cursor() as cur:
        cur.execute(sql_file("movies.sql"))
    catalog.ensure_schema(connection)
    catalog.ensure_schema(connection)  # idempotent
    yield connection
    connection.close()
    postgres.drop_database(name)


def add_movies(conn, urls: dict[int, str | None], *, inactive: tuple[int, ...] = ()) -> None:
    with conn, conn.cursor() as cur:
        for movie_id, url in urls.items():
            cur.execute(
                """INSERT INTO movies (id, title, slug, video_url, is_active, created_at)
                   VALUES (%s, %s, %s, %s, %s, now() - make_interval(days => %s))""",
                (movie_id, f"Movie {movie_id}", f"movie-{movie_id}", url, movie_id not in inactive, 1000 - movie_id),
            )


def claim(conn, run_id="run-a", movie_ids=None, limit=100, force=False, dry_run=False):
    claimed = catalog.claim_movies(
        conn, run_id=run_id, movie_ids=movie_ids, limit=limit, force=force, ttl_minutes=60, dry_run=dry_run
    )
    return [c.movie_id for c in claimed]


def key(movie_id, run_id="run-a", try_number=1):
    return ledger.AttemptKey("hls_migration", run_id, movie_id, map_index=0, try_number=try_number)


def flip(conn, ledger_id, movie_id, master_url, *, step="update", expected_url=None, published=(1, 1)):
    """The flip of ``movie_id`` to ``master_url`` from ``expected_url`` (default: the MP4
    ``add_movies`` gave it); ``published``: (bytes, segments)."""
    catalog.flip_to_hls(
        conn,
        ledger_id=ledger_id,
        step=step,
        seconds=1.0,
        movie_id=movie_id,
        expected_url=expected_url or f"https://cdn.example/{movie_id}.mp4",
        master_url=master_url,
        bytes_published=published[0],
        segments=published[1],
    )


def video_url(conn, movie_id):
    with conn, conn.cursor() as cur:
        cur.execute("SELECT video_url FROM movies WHERE id = %s", (movie_id,))
        return cur.fetchone()[0]


def test_only_mp4_urls_qualify_whatever_their_case_or_query(conn):
    add_movies(
        conn,
        {
            1: "https://cdn.example/a.mp4",
            2: "https://cdn.example/B.MP4",
            3: "s3://bucket/c.mp4?X-Amz-Signature=abc",
            4: "https://cdn.example/d/master.m3u8",
            5: "https://cdn.example/e.mp4.bak",
            6: "https://cdn.example/f.mov",
            7: None,
            8: "https://cdn.example/mp4/page",
        },
    )
    assert claim(conn) == [1, 2, 3]


def test_oldest_first_limit_and_active_only(conn):
    add_movies(conn, {i: f"https://cdn.example/{i}.mp4" for i in range(1, 6)}, inactive=(2,))
    assert claim(conn, limit=2) == [1, 3]
    assert claim(conn, run_id="run-b", limit=10) == [4, 5]


def test_named_movies_are_taken_even_when_inactive_and_beyond_the_limit(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4", 2: "https://cdn.example/2.mp4"}, inactive=(2,))
    assert claim(conn, movie_ids=[1, 2], limit=1) == [1, 2]


def test_overlapping_runs_never_share_a_movie_and_claims_expire(conn):
    add_movies(conn, {i: f"https://cdn.example/{i}.mp4" for i in range(1, 4)})
    assert claim(conn, run_id="run-a") == [1, 2, 3]
    assert claim(conn, run_id="run-b") == []
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE hls_claims SET expires_at = now() - interval '1 second' WHERE movie_id = 2")
    assert claim(conn, run_id="run-b") == [2]
    movie_2 = ClaimedMovie(2, "https://cdn.example/2.mp4", "https://cdn.example/2.mp4")
    with pytest.raises(MigrationError) as caught:
        catalog.renew_claim(conn, movie_2, run_id="run-a", ttl_minutes=60)
    assert caught.value.error_class is ErrorClass.CLAIMED_ELSEWHERE


def test_a_released_claim_is_taken_again_by_a_cleared_task_unless_another_run_holds_it(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    assert claim(conn, run_id="run-a") == [1]
    movie = ClaimedMovie(1, "https://cdn.example/1.mp4", "https://cdn.example/1.mp4")
    ledger.finalize_attempt(conn, key(1))  # the attempt closed: the claim is released
    assert catalog.renew_claim(conn, movie, run_id="run-a", ttl_minutes=60) == movie  # a cleared step re-runs
    with pytest.raises(MigrationError):
        catalog.renew_claim(conn, movie, run_id="run-b", ttl_minutes=60)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT run_id FROM hls_claims WHERE movie_id = 1")
        assert cur.fetchall() == [("run-a",)]


def test_a_run_lifts_only_the_hold_it_set_and_resume_lifts_any(conn):
    run_records.set_hold(conn, run_id="run-a", reason="3 of 8 movies failed")
    assert run_records.lift_hold(conn, set_by="run-b") is None  # another run's finish leaves it
    hold = run_records.current_hold(conn)
    assert (hold.run_id, hold.reason, hold.asked_by) == ("run-a", "3 of 8 movies failed", None)
    run_records.ask_to_lift_hold(conn, run_id="run-b")  # run-b waits for a person's answer
    asking = run_records.current_hold(conn)
    assert asking.asked_by == "run-b" and asking.asked_at >= hold.held_at
    run_records.ask_to_lift_hold(conn, run_id=None)  # answered
    assert run_records.current_hold(conn) == hold
    run_records.ask_to_lift_hold(conn, run_id="run-b")
    run_records.set_hold(conn, run_id="run-a", reason="3 of 8 movies failed")  # held again: nobody has been asked yet
    assert run_records.current_hold(conn).asked_by is None
    assert run_records.lift_hold(conn, set_by="run-a") == ("run-a", "3 of 8 movies failed")
    run_records.set_hold(conn, run_id="run-c", reason="2 of 2 movies failed")
    assert run_records.lift_hold(conn) == ("run-c", "2 of 2 movies failed")
    assert run_records.current_hold(conn) is None


def test_the_view_tells_refused_from_failed_and_paces_the_eta_on_the_newest_wave(conn):
    add_movies(conn, {i: f"https://cdn.example/{i}.mp4?X-Amz-Signature=secret" for i in range(1, 8)})
    for run_id, outcomes in (
        ("old-wave", {1: None}),
        ("new-wave", {2: None, 3: None, 4: ErrorClass.CORRUPT, 5: ErrorClass.WORKER_LOST}),
    ):
        claim(conn, run_id=run_id, movie_ids=list(outcomes))
        for movie_id, error_class in outcomes.items():
            source_url = f"https://cdn.example/{movie_id}.mp4?X-Amz-Signature=secret"
            ledger_id = ledger.begin_step(conn, key(movie_id, run_id), "probe", source_url=source_url)
            if error_class:
                ledger.fail_attempt(conn, ledger_id, MigrationError(error_class, f"movie {movie_id} went wrong"))
            else:
                flip(
                    conn,
                    ledger_id,
                    movie_id,
                    f"https://cdn.example/hls/{movie_id}/master.m3u8",
                    step="probe",
                    expected_url=video_url(conn, movie_id),
                    published=(100, 1),
                )
            ledger.finalize_attempt(conn, key(movie_id, run_id))
    for run_id in ("old-wave", "new-wave", "unfinished-wave"):
        run_records.start_wave(conn, dag_id="hls_migration", run_id=run_id)
    for run_id in ("old-wave", "new-wave"):
        run_records.finish_wave(conn, dag_id="hls_migration", run_id=run_id)
    with (
        conn,
        conn.cursor() as cur,
    ):  # the new wave ran from 10:00 to 10:30, its movies within; the old one a day before
        cur.execute("""UPDATE hls_conversions SET started_at = timestamptz '2026-11-20 10:01+00' + (movie_id - 2) * interval '1 min',
                                                  finished_at = timestamptz '2026-11-20 10:25+00' - (movie_id - 2) * interval '1 min'
                       WHERE run_id = 'new-wave'""")
        cur.execute("""UPDATE hls_conversions SET started_at = timestamptz '2026-11-19 10:00+00',
                                                  finished_at = timestamptz '2026-11-19 11:00+00'
                       WHERE run_id = 'old-wave'""")
        cur.execute("""UPDATE hls_waves SET started_at = timestamptz '2026-11-20 10:00+00', finished_at = timestamptz '2026-11-20 10:30+00'
                       WHERE run_id = 'new-wave'""")
        cur.execute("""UPDATE hls_waves SET started_at = timestamptz '2026-11-19 09:59+00', finished_at = timestamptz '2026-11-19 11:00+00'
                       WHERE run_id = 'old-wave'""")
    summary = load_summary(conn)
    assert (summary.converted, summary.refused, summary.failed, summary.remaining) == (
        3,
        1,
        1,
        3,
    )  # 5, 6, 7 left; 4 refused
    assert [(f.error_class, f.movies) for f in summary.failures] == [("worker_lost", 1)]
    [refused] = summary.refused_movies
    assert (refused.movie_id, refused.error_class, refused.message) == (4, "corrupt", "movie 4 went wrong")
    assert refused.source_url == "https://cdn.example/4.mp4?…"  # a presigned URL's signature is no part of a report
    assert summary.pace is None  # both waves ended more than 7 days before now
    with conn, conn.cursor() as cur:
        for table in ("hls_conversions", "hls_waves"):
            cur.execute(
                f"UPDATE {table} SET started_at = started_at + (now() - timestamptz '2026-11-21 00:00+00'), "
                "finished_at = finished_at + (now() - timestamptz '2026-11-21 00:00+00')"
            )
    pace = load_summary(conn).pace
    # the wave's own window (its selection to its finish), not its movies' (10:01 to 10:25); the
    # wave still running (started now, no finish) has no pace yet
    assert (pace.run_id, pace.movies, pace.seconds) == ("new-wave", 2, 1800.0)
    run_records.start_wave(
        conn, dag_id="hls_migration", run_id="new-wave"
    )  # selected again after a clear: a new window
    assert load_summary(conn).pace.run_id == "old-wave"


def test_concurrent_selections_skip_locked_rows_instead_of_waiting(conn, postgres):
    add_movies(conn, {i: f"https://cdn.example/{i}.mp4" for i in range(1, 5)})
    other = psycopg2.connect(conn.dsn)
    try:
        statement = queries("catalog.sql")["claim_movies"]
        params = dict(movie_ids=None, limit=2, force=False, ttl_minutes=60, bad_input_classes=["corrupt"])
        with conn.cursor() as first, other.cursor() as second:
            first.execute(statement, {**params, "run_id": "run-a"})  # transaction left open: rows locked
            second.execute("SET lock_timeout = '2s'")
            second.execute(statement, {**params, "run_id": "run-b"})
            taken_a = sorted(row[0] for row in first.fetchall())
            taken_b = sorted(row[0] for row in second.fetchall())
        conn.commit()
        other.commit()
    finally:
        other.close()
    assert taken_a == [1, 2] and taken_b == [3, 4]


def test_a_dry_run_keeps_no_claim(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    assert claim(conn, dry_run=True) == [1]
    assert claim(conn, run_id="run-b") == [1]


def test_converted_movies_are_skipped_unless_forced_from_their_original_mp4(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    assert claim(conn) == [1]
    ledger_id = ledger.begin_step(conn, key(1), "update", source_url="https://cdn.example/1.mp4")
    master = "https://cdn.example/hls/movies/1/v1/master.m3u8"
    flip(conn, ledger_id, 1, master, published=(10, 2))
    ledger.finalize_attempt(conn, key(1))
    assert video_url(conn, 1) == master
    assert claim(conn, run_id="run-b") == []
    forced = catalog.claim_movies(
        conn, run_id="run-c", movie_ids=[1], limit=10, force=True, ttl_minutes=60, dry_run=False
    )
    assert [(c.source_url, c.expected_url) for c in forced] == [("https://cdn.example/1.mp4", master)]


def test_bad_input_is_not_retried_for_the_same_url(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4", 2: "https://cdn.example/2.mp4"})
    claim(conn)
    for movie_id, error_class in ((1, ErrorClass.CORRUPT), (2, ErrorClass.STORAGE_UNAVAILABLE)):
        ledger_id = ledger.begin_step(conn, key(movie_id), "probe", source_url=f"https://cdn.example/{movie_id}.mp4")
        ledger.fail_attempt(conn, ledger_id, MigrationError(error_class, "x"))
        ledger.finalize_attempt(conn, key(movie_id))
    assert claim(conn, run_id="run-b") == [2]
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE movies SET video_url = 'https://cdn.example/1-fixed.mp4' WHERE id = 1")
    assert claim(conn, run_id="run-c") == [1]


def test_steps_share_one_attempt_and_a_retry_after_failure_opens_the_next(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    first = ledger.begin_step(conn, key(1), "probe", source_url="https://cdn.example/1.mp4")
    ledger.finish_step(conn, first, "probe", 0.5, probe={"duration": 60.0}, ladder=[{"name": "720p"}])
    assert ledger.begin_step(conn, key(1), "transcode") == first
    ledger.fail_attempt(conn, first, MigrationError(ErrorClass.STORAGE_UNAVAILABLE, "timeout"))
    second = ledger.begin_step(conn, key(1, try_number=2), "transcode")
    assert second != first
    with conn, conn.cursor() as cur:
        cur.execute("SELECT attempt, status, error_class, probe, source_url FROM hls_conversions ORDER BY id")
        rows = cur.fetchall()
    assert rows[0][:3] == (1, "failed", "storage_unavailable")
    assert rows[1][:3] == (2, "running", None)
    assert rows[1][3] == {"duration": 60.0} and rows[1][4] == "https://cdn.example/1.mp4"  # carried over


def test_a_step_beside_one_that_failed_for_good_joins_its_attempt_and_a_later_try_opens_the_next(conn):
    """One try, one attempt: the ledger counts a refusal once, and keeps the input's fault as its cause."""
    add_movies(conn, {1: "https://cdn.example/1.mp4", 2: "https://cdn.example/2.mp4", 3: "https://cdn.example/3.mp4"})
    first = ledger.begin_step(conn, key(1), "encode_0", source_url="https://cdn.example/1.mp4")
    ledger.fail_attempt(conn, first, MigrationError(ErrorClass.CORRUPT, "chunk 1 decodes to 10 frames of 150"))
    assert ledger.begin_step(conn, key(1), "thumbnails") == first  # the same try: no second attempt
    ledger.fail_attempt(conn, first, MigrationError(ErrorClass.CORRUPT, "the thumbnail's seek found nothing"))
    # A refusal of the input found beside a failure that is not one explains it, and is kept.
    thumbnails_first = ledger.begin_step(conn, key(3), "thumbnails", source_url="https://cdn.example/3.mp4")
    ledger.fail_attempt(conn, thumbnails_first, MigrationError(ErrorClass.TRANSCODE_FAILED, "no frame at 4.0 s"))
    assert ledger.begin_step(conn, key(3), "package") == thumbnails_first
    ledger.fail_attempt(conn, thumbnails_first, MigrationError(ErrorClass.CORRUPT, "decodes to 4.0 s of 8.0"))
    assert ledger.begin_step(conn, key(1, try_number=2), "encode_0") != first  # cleared after a fix
    # A retryable failure is retried: the step beside it starts the attempt of the retry.
    retried = ledger.begin_step(conn, key(2), "encode_0", source_url="https://cdn.example/2.mp4")
    ledger.fail_attempt(conn, retried, MigrationError(ErrorClass.STORAGE_UNAVAILABLE, "timeout"))
    assert ledger.begin_step(conn, key(2), "thumbnails") != retried
    with conn, conn.cursor() as cur:
        cur.execute("SELECT movie_id, attempt, status, error_message FROM hls_conversions ORDER BY id")
        rows = cur.fetchall()
    assert rows == [
        (1, 1, "failed", "chunk 1 decodes to 10 frames of 150"),  # the first refusal is the one kept
        (3, 1, "failed", "decodes to 4.0 s of 8.0"),
        (1, 2, "running", None),
        (2, 1, "failed", "timeout"),
        (2, 2, "running", None),
    ]


def test_a_try_that_died_without_reporting_is_ledgered_as_worker_lost(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    first = ledger.begin_step(conn, key(1), "probe", source_url="https://cdn.example/1.mp4")
    ledger.finish_step(conn, first, "probe", 0.5)
    ledger.begin_step(conn, key(1), "transcode")  # try 1 is killed here: it never finishes
    second = ledger.begin_step(conn, key(1, try_number=2), "transcode")
    assert second != first
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status, error_class, error_message FROM hls_conversions WHERE id = %s", (first,))
        status, error_class, message = cur.fetchone()
    assert (status, error_class) == ("failed", "worker_lost") and "transcode try 1" in message


def test_finalize_closes_an_attempt_left_running_and_releases_the_claim(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    claim(conn)
    ledger.begin_step(conn, key(1), "transcode", source_url="https://cdn.example/1.mp4")
    assert ledger.finalize_attempt(conn, key(1)) == "failed"
    assert claim(conn, run_id="run-b") == [1]


def test_the_flip_is_refused_when_the_application_changed_video_url(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    claim(conn)
    ledger_id = ledger.begin_step(conn, key(1), "update", source_url="https://cdn.example/1.mp4")
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE movies SET video_url = 'https://cdn.example/1-recut.mp4' WHERE id = 1")
    with pytest.raises(MigrationError) as caught:
        flip(conn, ledger_id, 1, "https://cdn.example/hls/m.m3u8")
    assert caught.value.error_class is ErrorClass.CATALOG_CHANGED
    assert video_url(conn, 1) == "https://cdn.example/1-recut.mp4"
    with conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM hls_conversions WHERE id = %s", (ledger_id,))
        assert cur.fetchone() == ("running",)  # the flip's transaction left nothing behind


def test_rollback_restores_the_original_and_ledgers_it(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4", 2: "https://cdn.example/2.mp4"})
    claim(conn)
    ledger_id = ledger.begin_step(conn, key(1), "update", source_url="https://cdn.example/1.mp4")
    flip(conn, ledger_id, 1, "https://cdn.example/hls/1/master.m3u8")
    rollback_key = ledger.AttemptKey("hls_rollback", "rollback-run", 1)
    assert catalog.roll_back(conn, rollback_key) == "https://cdn.example/1.mp4"
    assert video_url(conn, 1) == "https://cdn.example/1.mp4"
    assert catalog.roll_back(conn, rollback_key) is None  # nothing left to roll back
    assert catalog.roll_back(conn, ledger.AttemptKey("hls_rollback", "rollback-run", 2)) is None


def test_progress_of_a_running_step_is_visible_in_the_ledger(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4"})
    ledger_id = ledger.begin_step(conn, key(1), "transcode", source_url="https://cdn.example/1.mp4")
    ledger.record_progress(conn, ledger_id, "transcode", percent=42.04, speed=1.5, eta_seconds=20.4)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT steps -> 'transcode' -> 'progress' FROM hls_conversions WHERE id = %s", (ledger_id,))
        progress = cur.fetchone()[0]
    assert (progress["percent"], progress["speed"], progress["eta_seconds"]) == (42.0, 1.5, 20)
    ledger.finish_step(conn, ledger_id, "transcode", 3.0)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT steps -> 'transcode' FROM hls_conversions WHERE id = %s", (ledger_id,))
        step = cur.fetchone()[0]
    assert step["seconds"] == 3.0 and step["progress"]["percent"] == 42.0  # kept after the step ends


def status(conn, movie_id):
    found = catalog.movie_status(conn, movie_id)
    return found and {
        k: found[k] for k in ("state", "progress", "step", "error_class", "master_url", "audio_languages")
    }


def test_the_application_reads_each_movies_state_through_a_run_a_failure_and_a_rollback(conn):
    add_movies(conn, {1: "https://cdn.example/1.mp4", 2: "https://cdn.example/2.mp4", 3: "https://cdn.example/3.mp4"})
    assert catalog.movie_status(conn, 1) is None  # not seen yet
    claim(conn, movie_ids=[1, 2])
    assert status(conn, 1) == {
        "state": "queued",
        "progress": 0,
        "step": None,
        "error_class": None,
        "master_url": None,
        "audio_languages": None,
    }
    probe = ledger.begin_step(conn, key(1), "probe", source_url="https://cdn.example/1.mp4")
    ledger.finish_step(conn, probe, "probe", 1.0)
    encode = ledger.begin_step(conn, key(1), "encode_0")
    ledger.record_progress(conn, encode, "encode_0", percent=42.4, speed=1.5, eta_seconds=20)
    assert status(conn, 1) == {
        "state": "converting",
        "progress": 42,
        "step": "encode_0",
        "error_class": None,
        "master_url": None,
        "audio_languages": None,
    }
    ledger.finish_step(conn, encode, "encode_0", 3.0)
    package = ledger.begin_step(conn, key(1), "package")
    ledger.finish_step(
        conn, package, "package", 1.0, details={"audio": [{"language": "en"}, {"language": "fr"}], "subtitles": []}
    )
    flip_id = ledger.begin_step(conn, key(1), "verify_and_flip")
    master = "https://cdn.example/hls/movies/1/v1/master.m3u8"
    flip(conn, flip_id, 1, master, step="verify_and_flip", published=(10, 2))
    ledger.finalize_attempt(conn, key(1))
    ready = catalog.movie_status(conn, 1)
    assert (ready["state"], ready["progress"], ready["master_url"]) == ("ready", 100, master)
    assert (ready["audio_languages"], ready["subtitle_languages"]) == (["en", "fr"], [])
    assert ready["updated_at"].startswith("20")  # ISO 8601, for JSON

    failing = ledger.begin_step(conn, key(2), "probe", source_url="https://cdn.example/2.mp4")
    ledger.fail_attempt(conn, failing, MigrationError(ErrorClass.CORRUPT, "moov atom not found"))
    ledger.finalize_attempt(conn, key(2))
    failed = catalog.movie_status(conn, 2)
    assert (failed["state"], failed["progress"], failed["error_class"], failed["error_message"]) == (
        "failed",
        None,
        "corrupt",
        "moov atom not found",
    )

    assert catalog.roll_back(conn, ledger.AttemptKey("hls_rollback", "rollback-run", 1)) == "https://cdn.example/1.mp4"
    assert status(conn, 1) == {
        "state": "rolled_back",
        "progress": None,
        "step": None,
        "error_class": None,
        "master_url": None,
        "audio_languages": None,
    }
    assert catalog.movie_status(conn, 3) is None  # never claimed nor attempted: not the migration's yet
