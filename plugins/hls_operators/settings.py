"""The one place where the pipeline's configuration is read.

Connections carry credentials (``hls_catalog``, ``hls_storage``); Airflow Variables carry everything
else. ``Settings.from_values`` is pure so that tests and tools can build settings without Airflow;
``load_settings`` reads the Variables inside a running task.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

from hls_operators.core.commands import EncodingOptions
from hls_operators.core.estimate import Prices
from hls_operators.core.ladder import RungSpec, parse_ladder
from hls_operators.core.layout import SEGMENT_FORMATS
from hls_operators.core.trickplay import StoryboardPlan
from hls_operators.core.video_codecs import VIDEO_CODECS

DAG_ID = "hls_migration"
CONVERT_DAG_ID = "hls_convert_movie"  # one movie, one mapped encode task per chunk
ROLLBACK_DAG_ID = "hls_rollback"
SWEEP_DAG_ID = "hls_sweep"
RETIRE_DAG_ID = "hls_retire_originals"
WARM_UP_DAG_ID = "hls_cdn_warm_up"
# Every DAG of the pipeline: what the migration operator's role may trigger, clear and edit.
PIPELINE_DAG_IDS = (DAG_ID, CONVERT_DAG_ID, ROLLBACK_DAG_ID, SWEEP_DAG_ID, RETIRE_DAG_ID, WARM_UP_DAG_ID)
CATALOG_CONN_ID = "hls_catalog"
STORAGE_CONN_ID = "hls_storage"
WEBHOOK_CONN_ID = "hls_webhook"  # optional: the application's URL (host) and signing secret (password)
# The Airflow Asset every published movie updates (its event's extra: movie_id, master_url, version):
# what CDN warm-up or search re-index DAGs schedule on.
PUBLISHED_ASSET_NAME = "hls_movies_published"
PUBLISHED_ASSET_URI = "hls-migration://movies/published"
# Airflow pool that bounds concurrent ffmpeg transcodes across all workers (docs/operating.md, "Pools and concurrency").
TRANSCODE_POOL = "hls_transcode"
TRANSCODE_POOL_DESCRIPTION = "ffmpeg transcodes across all workers"

DEFAULT_LADDER = "1080:5000,720:2800,480:1400,360:800"
RATE_CONTROLS = ("quality", "bitrate", "per_title")


@dataclass(frozen=True)
class Settings:
    """Every tunable of the pipeline; the Variable name is ``hls_`` + the field name."""

    bucket: str
    public_base_url: str
    ladder: str = DEFAULT_LADDER
    segment_seconds: int = 6
    keyframe_seconds: int = 2
    x264_preset: str = "faster"
    # Lighter than the preset's own lookahead, subpixel and motion search: 9 to 33 % less CPU in
    # two runs, within 0.3 VMAF of the plain preset on real footage (docs/performance.md).
    x264_params: str = "rc-lookahead=10:subme=3:me=dia"
    # "bitrate": every rung at its ladder bitrate on average. "quality": every rung at x264's
    # constant quality ``crf`` limited to its ladder bitrate, rungs barely cheaper than the one
    # above dropped: fewer bytes for easy movies, but up to several VMAF points below "bitrate" on
    # the lower rungs at CRF 17 to 21 (docs/performance.md), so not the default yet.
    # "per_title": a complexity probe (a few seconds of the movie encoded at a few rates per rung
    # and scored with VMAF) sets each rung's bitrate: the fewest bits that reach VMAF
    # per_title_quality (above about 95 no viewer sees a difference), never above the fixed ladder's,
    # except the top rung of a hard title, which may rise to per_title_ceiling times it (1.5: 7500
    # kbit/s at 1080p, under Apple's 7800); a rung that looks no better than a cheaper one is dropped.
    rate_control: str = "bitrate"
    crf: int = 17
    per_title_quality: float = 95.0
    per_title_ceiling: float = 1.5
    per_title_samples: int = 3
    per_title_sample_seconds: int = 2
    # "fmp4": fMP4 (CMAF) segments, .m4s after an init.mp4 per rendition; "ts": MPEG-TS segments.
    segment_format: str = "fmp4"
    # "h264", or "h264,hevc": every rung also in HEVC (fMP4 only), at three quarters of its bitrate,
    # for the players that decode it. x265 needs "slow" to keep x264's picture at that bitrate, and
    # costs several times x264's CPU (docs/performance.md).
    video_codecs: str = "h264"
    x265_preset: str = "slow"
    # A movie longer than this is cut into chunks of about this length, each encoded by its own task
    # on any worker: as many tasks as the movie's length asks for.
    chunk_seconds: int = 300
    audio_bitrate_kbps: int = 128
    thumbnail_count: int = 10
    thumbnail_width: int = 640
    storyboard_interval_seconds: float = 5.0
    storyboard_tile_width: int = 160
    output_prefix: str = "hls/movies"
    work_prefix: str = "hls-work"
    claim_ttl_minutes: int = 360
    max_source_bytes: int = 20 * 1024**3
    max_pixels: int = 8192 * 4320
    max_duration_hours: float = 12.0
    max_tracks: int = 32  # audio tracks, and subtitle tracks, each
    http_timeout_seconds: float = 30.0
    # An http(s) source must arrive at this average rate at least: its whole download may take the
    # timeout plus its declared size (else hls_max_source_bytes) at this rate, then it is retried.
    min_source_kbps: float = 2000.0
    allowed_source_hosts: str = ""  # comma-separated host or host:port allowed to be internal
    # Comma-separated bucket or bucket/prefix that sources may be read from through the storage
    # connection (s3:// URLs, the public base, the endpoint's path-style URLs); empty: ``bucket``
    # alone. Whoever writes video_url could otherwise have any object the connection reads published.
    source_buckets: str = ""
    upload_concurrency: int = 8
    # The application's webhook (connection hls_webhook): tries per event, the wait before the
    # second (doubling after), and each try's connect and read timeout.
    webhook_attempts: int = 4
    webhook_first_backoff_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    # Each worker keeps the sources it downloaded and the hand-offs it uploaded (under tmp_dir) up to
    # this many bytes, so the tasks of one conversion that land on the same worker download its
    # source once and skip the hand-offs' downloads; 0 turns this off.
    worker_cache_bytes: int = 20 * 1024**3
    transcode_timeout_base_seconds: int = 600
    # An ffmpeg of a transcode holding more memory than this is stopped (``unsupported``) before the
    # kernel's OOM killer takes the worker down: about 4x the measured peak of a four-rung encode
    # (500 MB from a 1080p source, 550 MB from 2160p); 0 turns the limit off.
    transcode_memory_limit_mb: int = 2048
    transcode_timeout_per_source_second: float = 10.0
    tmp_dir: str = ""
    # The sweep keeps an unreachable set this long (days): a CDN may still serve it to a player mid-movie.
    sweep_grace_days: float = 7.0
    # Retiring originals (DAG hls_retire_originals): how long a movie must have played from HLS, and
    # where its MP4 is archived before it is deleted (bucket: empty for hls_bucket; a storage class
    # such as GLACIER_IR or DEEP_ARCHIVE where the storage has one, empty for the bucket's default).
    retire_grace_days: float = 30.0
    archive_bucket: str = ""
    archive_prefix: str = "archive/originals"
    archive_storage_class: str = ""
    # Waves: a scheduled run takes wave_size movies; when more than max_failure_rate of a wave fails,
    # the next runs ask for approval in Airflow's Required Actions before they take new movies; an
    # unanswered request counts as Reject after approval_timeout_hours (less than a day, so that
    # the next nightly run asks again).
    wave_size: int = 50
    max_failure_rate: float = 0.25
    approval_timeout_hours: float = 20.0
    # The dry run's estimate: prices in your currency, and the speed assumed before any is measured
    # in CPU-s per encoded megapixel-second of x264 (a 4-rung 1080p ladder took 1.6 at veryfast on
    # 2 cores, and faster costs about 1.3 times that in bench/transcode.py; HEVC rungs weigh as
    # each codec's encode_cost in core/video_codecs.py says).
    storage_price_per_gb_month: float = 0.015
    egress_price_per_gb: float = 0.0
    views_per_movie_month: float = 10.0
    cpu_seconds_per_megapixel_second: float = 2.0

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> Settings:
        """Build settings from ``{field: value}``, converting strings to each field's type."""
        kwargs: dict[str, object] = {}
        for field in fields(cls):
            if field.name not in values or values[field.name] in (None, ""):
                continue
            caster: Callable[[object], object] = {"int": int, "float": float}.get(field.type, str)
            kwargs[field.name] = caster(values[field.name])
        missing = [name for name in ("bucket", "public_base_url") if name not in kwargs]
        if missing:
            raise ValueError(f"missing settings: {', '.join('hls_' + m for m in missing)}")
        settings = cls(**kwargs)
        parse_ladder(settings.ladder)  # fail at load time, not in the middle of a transcode
        if settings.rate_control not in RATE_CONTROLS or not 0 <= settings.crf <= 51:
            raise ValueError(f"hls_rate_control must be one of {', '.join(RATE_CONTROLS)} and hls_crf within 0-51")
        if settings.segment_format not in SEGMENT_FORMATS:
            raise ValueError(f"hls_segment_format must be one of {', '.join(SEGMENT_FORMATS)}")
        if "h264" not in settings.codecs or not settings.codecs <= set(VIDEO_CODECS):
            raise ValueError(f"hls_video_codecs must name h264 and may add hevc (of {', '.join(VIDEO_CODECS)})")
        if any(VIDEO_CODECS[codec].fmp4_only for codec in settings.codecs) and settings.segment_format != "fmp4":
            raise ValueError("HEVC rungs need fMP4 segments (Apple's rule 1.5): set hls_segment_format to fmp4")
        return settings

    @property
    def codecs(self) -> set[str]:
        return {codec.strip() for codec in self.video_codecs.split(",") if codec.strip()}

    @property
    def rungs(self) -> list[RungSpec]:
        return parse_ladder(self.ladder)

    @property
    def source_hosts_allowed(self) -> frozenset[str]:
        return frozenset(host.strip() for host in self.allowed_source_hosts.split(",") if host.strip())

    @property
    def source_locations_allowed(self) -> tuple[tuple[str, str], ...]:
        """(bucket, key prefix) pairs a source in storage must lie under; prefix "" for a whole bucket."""
        entries = [entry.strip().strip("/") for entry in self.source_buckets.split(",") if entry.strip()]
        return tuple(
            (bucket, prefix.strip("/")) for bucket, _, prefix in (e.partition("/") for e in entries or [self.bucket])
        )

    @property
    def work_dir(self) -> str:
        return self.tmp_dir or tempfile.gettempdir()

    @property
    def prices(self) -> Prices:
        return Prices(self.storage_price_per_gb_month, self.egress_price_per_gb, self.views_per_movie_month)

    @property
    def encoding(self) -> EncodingOptions:
        return EncodingOptions(
            segment_seconds=self.segment_seconds,
            keyframe_seconds=self.keyframe_seconds,
            x264_preset=self.x264_preset,
            x264_params=self.x264_params,
            audio_kbps=self.audio_bitrate_kbps,
            crf=self.crf if self.rate_control == "quality" else None,
            segment_format=self.segment_format,
            x265_preset=self.x265_preset,
        )

    def storyboard_plan(self, width: int, height: int) -> StoryboardPlan:
        """The storyboard of a movie whose top rung is ``width`` x ``height``."""
        return StoryboardPlan.for_source(
            width, height, interval=self.storyboard_interval_seconds, tile_width=self.storyboard_tile_width
        )

    def public_url(self, key: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/{key}"

    @property
    def transcode_memory_limit_bytes(self) -> int:
        return self.transcode_memory_limit_mb * 2**20

    def transcode_timeout(self, source_seconds: float) -> float:
        return self.transcode_timeout_base_seconds + self.transcode_timeout_per_source_second * source_seconds


def load_settings() -> Settings:
    """Read the ``hls_*`` Airflow Variables (env ``AIRFLOW_VAR_HLS_*`` works too). Each lookup in a
    task is a call to the API server and most settings keep their defaults: only those set are read."""
    from airflow.sdk import Variable

    names = {f"hls_{field.name}": field.name for field in fields(Settings)}
    values = {names[name]: Variable.get(name, default=None) for name in variables_set(list(names))}
    return Settings.from_values(values)


def variables_set(names: list[str]) -> list[str]:
    """Those of ``names`` that may be set: in a task on Airflow's own secrets backends, the ones the
    metadata database lists (one call) or the environment sets; with a custom secrets backend
    (which need not list what it holds) or outside a task, every one."""
    from airflow.sdk import Variable
    from airflow.sdk.configuration import conf

    if conf.get("workers", "secrets_backend", fallback="") or conf.get("secrets", "backend", fallback=""):
        return names
    try:
        stored = set(Variable.keys(prefix="hls_"))
    except ImportError:  # not in a task (a command-line tool): no metadata database to list
        return names
    return [name for name in names if name in stored or f"AIRFLOW_VAR_{name.upper()}" in os.environ]


def dag_defaults(*, retries: int) -> dict:
    """What every DAG of the project shares: its start, no catchup, its tags, its owner,
    ``retries`` retries of each task, the delay doubling from ``HLS_RETRY_DELAY_SECONDS``, and a
    time limit on each try (``task_timeout``) for whatever hangs where no inner limit reaches."""
    return {
        "start_date": datetime(2026, 1, 1),
        "catchup": False,
        "tags": ["hls", "video"],
        "default_args": {
            "owner": "video-platform",
            "retries": retries,
            "retry_delay": timedelta(seconds=retry_delay_seconds()),
            "retry_exponential_backoff": True,
            "execution_timeout": task_timeout(),
        },
    }


def task_timeout() -> timedelta:
    """How long one try of a task may run, from ``HLS_TASK_TIMEOUT_HOURS`` (default 30: above the
    slowest download the caps allow, 20 GiB at hls_min_source_kbps's default in 24 h). A try past
    it fails and is retried like any other failure."""
    return timedelta(hours=float(os.environ.get("HLS_TASK_TIMEOUT_HOURS", "30")))


def retry_delay_seconds() -> int:
    """First retry delay of every task (doubles on each retry), from the environment like the schedule."""
    return int(os.environ.get("HLS_RETRY_DELAY_SECONDS", "60"))


def dag_schedule() -> str | None:
    """The nightly schedule, from the environment so that parsing the DAG does no I/O.

    An empty value turns the schedule off: manual triggers only.
    """
    return os.environ.get("HLS_MIGRATION_SCHEDULE", "0 2 * * *") or None


def sql_dir() -> Path:
    """Where ``include/sql/`` is: beside ``plugins/`` in the repository and in an Airflow
    deployment; ``HLS_SQL_DIR`` overrides it."""
    return Path(os.environ.get("HLS_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))
