from datetime import datetime, timezone

from hls_operators.core.estimate import Prices, ProbedMovie, estimate
from hls_operators.core.view import Conversion, Failure, Summary, render_page, run_link

AT = datetime(2026, 11, 23, 2, 30, tzinfo=timezone.utc)
MASTER = "https://cdn.example/hls/movies/7/20261123T020000Z-abcdef/master.m3u8"


def summary(**changes) -> Summary:
    values = dict(
        converted=40, failed=2, remaining=60, bytes_published=12_300_000_000, converted_last_day=12,
        source_seconds_last_day=7200.0, dag_id="hls_migration",
        failures=[Failure("corrupt", 2, "moov atom not found <script>", 9)],
        recent=[Conversion(7, "Heat & Dust", "scheduled__2026-11-23T02:00:00+00:00", "hls_migration", MASTER, 5_000_000, 95.0, AT,
                           audio=[{"language": "en", "name": "English", "default": True}, {"language": "fr", "name": "French"}],
                           subtitles=[{"language": "fr", "name": "French", "forced": True}],
                           not_carried=[{"track": 4, "codec": "hdmv_pgs_subtitle"}])],
    )  # fmt: skip
    values.update(changes)
    return Summary(**values)


def test_totals_throughput_and_eta():
    page = render_page(summary())
    assert "id='total-converted'>converted<b>40</b>" in page
    assert "id='total-published'>published<b>12.3 GB</b>" in page
    assert "id='total-ETA'>ETA<b>120.0 h</b>" in page  # 60 left at 0.5 per hour
    assert render_page(summary(converted_last_day=0)).count("no conversion in the last 24 h") == 1


def test_failures_recent_conversions_and_links_are_escaped():
    page = render_page(summary())
    assert "<td>corrupt</td><td>2</td><td>movie 9: moov atom not found &lt;script&gt;</td>" in page
    assert "Heat &amp; Dust" in page
    assert "src='https://cdn.example/hls/movies/7/20261123T020000Z-abcdef/thumbs/thumb_000.jpg'" in page
    assert run_link("hls_migration", "scheduled__2026-11-23T02:00:00+00:00") == (
        "/dags/hls_migration/runs/scheduled__2026-11-23T02%3A00%3A00%2B00%3A00"
    )
    assert "href='/dags/hls_migration/runs/scheduled__2026-11-23T02%3A00%3A00%2B00%3A00'" in page


def test_hold_and_estimate_are_shown():
    result = estimate([ProbedMovie(3, refused_as="not_video")], audio_kbps=128, cpu_seconds_per_megapixel_second=1.6,
                      speed_measured_on=0, prices=Prices(0.015, 0.0, 10), segment_format="fmp4")  # fmt: skip
    page = render_page(summary(hold=("manual__x", "3 of 4 movies failed", AT), estimate=("manual__dry", result, AT)))
    assert "<b>On hold</b> since 2026-11-23 02:30 UTC" in page and "3 of 4 movies failed" in page
    assert "would refuse 1 movie(s): not_video: [3]" in page
    assert "No dry run yet" in render_page(summary())


def test_each_conversion_shows_the_languages_it_was_published_with():
    page = render_page(summary())
    assert "<td>audio en (default), fr; subtitles fr (forced); not carried over: hdmv_pgs_subtitle track 4</td>" in page
    silent = Conversion(8, "Silent", "r", "hls_migration", MASTER, 1, 1.0, AT)
    assert silent.tracks == "no audio"
