"""The preflight's verdicts: each problem names what is wrong and the command or setting that mends it."""

import subprocess

import pytest

from hls_operators.core import preflight
from hls_operators.core.probe_commands import list_encoders
from hls_operators.pool_setup import pool_command
from hls_operators.settings import TRANSCODE_POOL, TRANSCODE_POOL_DESCRIPTION

# The head and a few rows of Debian ffmpeg 5.1's ``ffmpeg -hide_banner -encoders``.
LISTING = """Encoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264rgb           libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 RGB (codec h264)
 A..... aac                  AAC (Advanced Audio Coding)
 S..... webvtt               WebVTT subtitle
"""


def test_a_missing_pool_or_one_without_slots_names_the_pool_and_the_command():
    missing = preflight.pool_problem("hls_transcode", TRANSCODE_POOL_DESCRIPTION, None)
    assert missing.check == "pool" and "hls_transcode does not exist" in missing.what
    assert missing.fix.startswith('airflow pools set hls_transcode 2 "ffmpeg transcodes across all workers"')
    empty = preflight.pool_problem("hls_transcode", TRANSCODE_POOL_DESCRIPTION, 0)
    assert "has 0 slots" in empty.what and "airflow pools set hls_transcode" in empty.fix
    assert preflight.pool_problem("hls_transcode", TRANSCODE_POOL_DESCRIPTION, 1) is None


def test_the_encoders_a_run_needs_follow_its_codecs():
    assert preflight.needed_encoders({"h264"}) == ["aac", "libx264", "webvtt"]
    assert preflight.needed_encoders({"h264", "hevc"}) == ["aac", "libx264", "libx265", "webvtt"]
    available = preflight.parse_encoders(LISTING)
    assert available == {"libx264", "libx264rgb", "aac", "webvtt"}  # the legend above ------ is no encoder
    assert preflight.encoders_problem(available, preflight.needed_encoders({"h264"})) is None
    problem = preflight.encoders_problem(available, preflight.needed_encoders({"h264", "hevc"}))
    assert problem.check == "ffmpeg" and problem.what == "this ffmpeg has no libx265 encoder"


@pytest.mark.services
def test_this_machines_ffmpeg_lists_every_encoder_the_settings_can_ask_for():
    """The parser against the real table, not only the excerpt above."""
    listing = subprocess.run(list_encoders(), capture_output=True, text=True, check=True).stdout
    assert (
        preflight.encoders_problem(preflight.parse_encoders(listing), preflight.needed_encoders({"h264", "hevc"}))
        is None
    )


def test_the_summary_says_nothing_was_claimed_and_keeps_every_fix():
    problems = [
        preflight.paused_problem("hls_convert_movie"),
        preflight.settings_problem("ladder entry '1080:fast' is not SHORT_SIDE:KBPS"),
    ]
    text = preflight.summary(problems)
    assert text.startswith("preflight found 2 problem(s); nothing was claimed: ")
    assert (
        "dag: hls_convert_movie is paused, so no movie of a wave would start. Fix: airflow dags unpause hls_convert_movie"
        in text
    )
    assert "settings: ladder entry '1080:fast' is not SHORT_SIDE:KBPS. Fix: set or correct that Variable" in text
    assert "AIRFLOW_CONN_HLS_CATALOG" in preflight.catalog_problem("hls_catalog", "connection refused").fix


def test_the_pool_is_made_with_the_name_and_description_of_the_settings():
    assert pool_command(3) == ["airflow", "pools", "set", TRANSCODE_POOL, "3", TRANSCODE_POOL_DESCRIPTION]
    with pytest.raises(ValueError, match="at least one slot"):
        pool_command(0)
