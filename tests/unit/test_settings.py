import pytest

from hls_operators.core.errors import ErrorClass, MigrationError, bound_message, killed_by_signal
from hls_operators.settings import Settings, variables_set


def test_strings_from_variables_are_typed():
    settings = Settings.from_values(
        {
            "bucket": "media",
            "public_base_url": "https://cdn.example/",
            "segment_seconds": "4",
            "max_duration_hours": "2.5",
        }
    )
    assert settings.segment_seconds == 4 and settings.max_duration_hours == 2.5
    assert settings.public_url("hls/movies/1/v/master.m3u8") == "https://cdn.example/hls/movies/1/v/master.m3u8"
    assert [s.short_side for s in settings.rungs] == [1080, 720, 480, 360]


def test_required_settings_and_bad_ladders_fail_at_load():
    with pytest.raises(ValueError, match="hls_bucket"):
        Settings.from_values({"public_base_url": "x"})
    with pytest.raises(ValueError):
        Settings.from_values({"bucket": "b", "public_base_url": "x", "ladder": "720"})


def test_rate_control_is_checked_at_load_and_reaches_the_encoder():
    base = {"bucket": "b", "public_base_url": "x"}
    assert Settings.from_values(base).encoding.crf is None  # "bitrate", the default
    assert Settings.from_values({**base, "rate_control": "quality", "crf": "21"}).encoding.crf == 21
    for bad in ({"rate_control": "crf"}, {"rate_control": "quality", "crf": "60"}):
        with pytest.raises(ValueError, match="hls_rate_control"):
            Settings.from_values({**base, **bad})
    assert Settings.from_values(base).encoding.segment_format == "fmp4"
    with pytest.raises(ValueError, match="hls_segment_format"):
        Settings.from_values({**base, "segment_format": "mp4"})


def test_hevc_rungs_are_asked_for_beside_h264_and_only_in_fmp4():
    base = {"bucket": "b", "public_base_url": "x"}
    assert Settings.from_values(base).codecs == {"h264"}
    assert (
        Settings.from_values({**base, "video_codecs": "h264, hevc", "x265_preset": "medium"}).encoding.x265_preset
        == "medium"
    )
    for bad in ("hevc", "h264,av1"):
        with pytest.raises(ValueError, match="hls_video_codecs"):
            Settings.from_values({**base, "video_codecs": bad})
    with pytest.raises(ValueError, match="fMP4"):
        Settings.from_values({**base, "video_codecs": "h264,hevc", "segment_format": "ts"})


def test_transcode_timeout_scales_with_duration():
    settings = Settings.from_values({"bucket": "b", "public_base_url": "x"})
    assert settings.transcode_timeout(3600) > settings.transcode_timeout(60) > settings.transcode_timeout(0)


def test_errors_carry_class_retryability_and_bounded_message():
    assert MigrationError(ErrorClass.STORAGE_UNAVAILABLE, "x").retryable
    assert not MigrationError(ErrorClass.CORRUPT, "x").retryable
    assert MigrationError(ErrorClass.SOURCE_UNREACHABLE, "503", retryable=True).retryable
    long = "a" * 5000 + "the cause"
    assert len(bound_message(long)) == 2000 and bound_message(long).endswith("the cause")


def test_a_process_killed_by_a_signal_is_a_fault_of_the_worker_and_retried():
    lost = killed_by_signal("movie 3 audio", 15, oom_killed=False)
    assert (lost.error_class, lost.retryable) == (ErrorClass.WORKER_LOST, True)
    assert lost.message.startswith("movie 3 audio was killed by SIGTERM")
    assert killed_by_signal("x", 9, oom_killed=False).error_class is ErrorClass.WORKER_LOST
    oom = killed_by_signal("movie 3 chunk 1/2", 9, oom_killed=True)
    assert (oom.error_class, oom.retryable) == (ErrorClass.OUT_OF_MEMORY, True)
    assert "OOM killer" in oom.message
    assert (
        killed_by_signal("x", 15, oom_killed=True).error_class is ErrorClass.WORKER_LOST
    )  # the OOM killer sends SIGKILL
    assert "signal 77" in killed_by_signal("x", 77, oom_killed=False).message


def test_sources_may_come_from_the_pipelines_bucket_alone_unless_more_are_named():
    base = {"bucket": "media", "public_base_url": "x"}
    assert Settings.from_values(base).source_locations_allowed == (("media", ""),)
    named = Settings.from_values({**base, "source_buckets": "originals/films/, media , archive/a/b"})
    assert named.source_locations_allowed == (("originals", "films"), ("media", ""), ("archive", "a/b"))


def test_outside_a_task_every_variable_is_asked_for():
    """Only a task can list the metadata database's Variables; a command-line tool asks for each
    name (the environment or a secrets backend answers)."""
    names = ["hls_bucket", "hls_wave_size"]
    assert variables_set(names) == names
