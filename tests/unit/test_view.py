import csv
import io
from datetime import UTC, datetime, timedelta

from hls_operators.core.estimate import Prices, ProbedMovie, estimate
from hls_operators.core.preflight import Preflight, pool_problem
from hls_operators.core.refused_report import refused_csv
from hls_operators.core.view import Conversion, Failure, Pace, Refused, Summary, render_page, run_link
from hls_operators.core.waves import Hold

AT = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
MASTER = "https://cdn.example/hls/movies/7/20261123T020000Z-abcdef/master.m3u8"


def summary(**changes) -> Summary:
    values = dict(
        converted=40,
        refused=1,
        failed=2,
        remaining=60,
        bytes_published=12_300_000_000,
        converted_last_day=12,
        source_seconds_last_day=7200.0,
        dag_id="hls_migration",
        as_of=AT,
        failures=[Failure("storage_unavailable", 2, "503 <script>", 9)],
        refused_movies=[
            Refused(
                6, "=cmd|' /C calc'!A0", "corrupt", "moov atom not found <b>", "https://cdn.example/uploads/6.mp4?…", AT
            )
        ],
        recent=[
            Conversion(
                7,
                "Heat & Dust",
                "scheduled__2026-11-23T02:00:00+00:00",
                "hls_migration",
                MASTER,
                5_000_000,
                95.0,
                AT,
                audio=[{"language": "en", "name": "English", "default": True}, {"language": "fr", "name": "French"}],
                subtitles=[{"language": "fr", "name": "French", "forced": True}],
                not_carried=[{"track": 4, "codec": "hdmv_pgs_subtitle"}],
                rungs=[
                    {"name": "1080p", "video_kbps": 2130, "quality": 95.6},
                    {"name": "360p", "video_kbps": 800, "quality": 78.24},
                ],
            )
        ],
    )
    values.update(changes)
    return Summary(**values)


def test_totals_and_an_eta_at_the_pace_of_the_newest_wave():
    pace = Pace("scheduled__2026-11-23T02:00:00+00:00", movies=6, seconds=1800.0, ended_at=AT)  # 12 movies an hour
    page = render_page(summary(pace=pace))
    assert "id='total-converted'>converted<b>40</b>" in page and "id='total-refused'>refused<b>1</b>" in page
    assert "id='total-published'>published<b>12.3 GB</b>" in page
    assert "id='total-ETA'>ETA<b>5.0 h</b>" in page  # 60 left at 12 per hour
    assert ": 6 movies in 30 min (12.0 movies/h), ended 2026-11-23 02:30 UTC.</p>" in page
    # No wave converted anything lately: no ETA rather than a guess.
    for no_pace in (None, Pace("manual__x", movies=0, seconds=60.0, ended_at=AT)):
        page = render_page(summary(pace=no_pace))
        assert "ETA<b>no recent wave</b>" in page and "No ETA: no wave converted a movie in the last 7 days." in page


def test_failures_recent_conversions_and_links_are_escaped():
    page = render_page(summary())
    assert "<td>storage_unavailable</td><td>2</td><td>movie 9: 503 &lt;script&gt;</td>" in page
    assert "Heat &amp; Dust" in page
    assert "src='https://cdn.example/hls/movies/7/20261123T020000Z-abcdef/thumbs/thumb_000.jpg'" in page
    assert run_link("hls_migration", "scheduled__2026-11-23T02:00:00+00:00") == (
        "/dags/hls_migration/runs/scheduled__2026-11-23T02%3A00%3A00%2B00%3A00"
    )
    assert "href='/dags/hls_migration/runs/scheduled__2026-11-23T02%3A00%3A00%2B00%3A00'" in page


def test_hold_and_estimate_are_shown():
    result = estimate(
        [ProbedMovie(3, refused_as="not_video")],
        audio_kbps=128,
        cpu_seconds_per_megapixel_second=1.6,
        speed_measured_on=0,
        prices=Prices(0.015, 0.0, 10),
        segment_format="fmp4",
    )
    page = render_page(
        summary(hold=Hold("manual__x", "3 of 4 movies failed", AT), estimate=("manual__dry", result, AT))
    )
    assert "<b>On hold</b> since 2026-11-23 02:30 UTC" in page and "3 of 4 movies failed" in page
    assert "The next run that selects movies itself asks" in page
    assert "would refuse 1 movie(s): not_video: [3]" in page
    assert "No dry run yet" in render_page(summary())


def test_a_run_waiting_for_an_answer_says_since_when_and_where_to_answer():
    hold = Hold("manual__x", "3 of 4 movies failed", AT, asked_by="scheduled__2026-11-24", asked_at=AT)
    page = render_page(summary(hold=hold, as_of=AT + timedelta(hours=2, minutes=30)))
    assert (
        "href='/dags/hls_migration/runs/scheduled__2026-11-24'>scheduled__2026-11-24</a> has waited 2.5 h for an answer"
        in page
    )
    assert "<a target='_top' href='/required_actions?response_received=false'>Required Actions</a>" in page


def test_refused_movies_are_a_report_with_a_csv_a_spreadsheet_cannot_run():
    page = render_page(summary())
    assert (
        "<td>6</td><td>=cmd|&#x27; /C calc&#x27;!A0</td><td>corrupt</td><td>moov atom not found &lt;b&gt;</td>" in page
    )
    assert "(all of them above)" in page and "href='refused.csv'" in page
    assert "(the newest 1 of 30 above)" in render_page(summary(refused=30))
    assert "No source was refused." in render_page(summary(refused=0, refused_movies=[]))
    rows = list(csv.reader(io.StringIO(refused_csv(summary().refused_movies))))
    assert rows == [
        ["movie_id", "title", "error_class", "error_message", "source_url", "refused_at"],
        [
            "6",
            "'=cmd|' /C calc'!A0",
            "corrupt",
            "moov atom not found <b>",
            "https://cdn.example/uploads/6.mp4?…",
            "2026-11-23T02:30:00+00:00",
        ],
    ]


def test_each_conversion_shows_the_languages_it_was_published_with():
    page = render_page(summary())
    assert "<td>audio en (default), fr; subtitles fr (forced); not carried over: hdmv_pgs_subtitle track 4</td>" in page
    silent = Conversion(8, "Silent", "r", "hls_migration", MASTER, 1, 1.0, AT)
    assert silent.tracks == "no audio"


def test_each_conversion_shows_its_rungs_and_the_quality_the_per_title_probe_expected():
    assert "<td>1080p 2.1 Mbit/s VMAF 95.6, 360p 0.8 Mbit/s VMAF 78.2</td>" in render_page(summary())
    fixed = Conversion(
        8, "Fixed", "r", "hls_migration", MASTER, 1, 1.0, AT, rungs=[{"name": "720p", "video_kbps": 2800}]
    )
    assert fixed.picture == "720p 2.8 Mbit/s"  # the fixed ladder: no probe, no expected quality


def test_a_failed_preflight_is_shown_first_with_each_fix_and_a_passed_one_not_at_all():
    failed = Preflight(
        "hls_migration",
        "scheduled__2026-11-23T02:00:00+00:00",
        AT,
        [pool_problem("hls_transcode", "ffmpeg transcodes across all workers", None)],
    )
    page = render_page(summary(preflight=failed))
    assert page.index("id='preflight'") < page.index("class='totals'")
    assert (
        "<b>Preflight failed</b> at 2026-11-23 02:30 UTC in run <a target='_top' href='/dags/hls_migration/runs/"
        in page
    )
    assert "the Airflow pool hls_transcode does not exist" in page
    assert "<i>Fix:</i> airflow pools set hls_transcode 2 &quot;ffmpeg transcodes across all workers&quot;" in page
    assert "id='preflight'" not in render_page(summary(preflight=Preflight("hls_migration", "manual__x", AT, [])))
