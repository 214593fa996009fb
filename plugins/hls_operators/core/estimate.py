"""What converting a selection would cost, from a dry run's probes: pure arithmetic.

Output bytes come from the ladder's bitrates (audio included) plus container overhead; CPU time from
the CPU seconds per encoded megapixel-second that recent transcodes measured (a configured value
until there are some); money from the prices in the settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hls_operators.core.video_codecs import H264, VIDEO_CODECS

# Stored bytes over the elementary streams' bitrates, per hls_segment_format: MPEG-TS packetization
# (188-byte packets, PES headers, PAT/PMT per segment); fMP4's boxes cost less: bench/ladder.py measured
# the fixed ladder's video at 1.04 and 1.007 times its bitrates.
CONTAINER_OVERHEAD = {"ts": 1.05, "fmp4": 1.01}
GB = 1e9


@dataclass(frozen=True)
class Prices:
    storage_per_gb_month: float
    egress_per_gb: float
    views_per_movie_month: float


@dataclass(frozen=True)
class ProbedMovie:
    """One movie as a dry run saw it: duration and planned ladder, or the class it was refused with."""

    movie_id: int
    duration: float = 0.0
    ladder: list[dict] = field(default_factory=list)  # name, width, height, video_kbps
    has_audio: bool = False
    refused_as: str | None = None


@dataclass(frozen=True)
class Estimate:
    would_convert: list[int]
    refused: dict[str, list[int]]
    source_hours: float
    output_bytes: int
    cpu_hours: float
    cpu_seconds_per_megapixel_second: float
    speed_measured_on: int  # how many past transcodes the speed comes from (0: the configured value)
    storage_per_month: float
    egress_per_month: float

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The estimate as the task log and the migration view show it."""
        source = (
            f"measured on {self.speed_measured_on} recent transcodes"
            if self.speed_measured_on
            else "configured, nothing measured yet"
        )
        refused = ", ".join(f"{name}: {ids}" for name, ids in sorted(self.refused.items())) or "none"
        return [
            f"would convert {len(self.would_convert)} movie(s): {self.would_convert}",
            f"would refuse {sum(len(ids) for ids in self.refused.values())} movie(s): {refused}",
            f"source: {human_seconds(self.source_hours * 3600)} of video",
            f"output: {human_bytes(self.output_bytes)} at the ladder's bitrates",
            f"CPU: {human_seconds(self.cpu_hours * 3600)} of one core at "
            f"{self.cpu_seconds_per_megapixel_second:.2f} CPU-s per encoded megapixel-second ({source})",
            f"storage: {self.storage_per_month:.2f} per month; egress: {self.egress_per_month:.2f} per month",
        ]


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def human_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def encoded_megapixel_seconds(duration: float, ladder: list[dict]) -> float:
    """What a ladder costs to encode over ``duration`` seconds, in x264 megapixel-seconds: the
    encoded rungs' pixels, each weighted by its codec's cost."""
    pixels = sum(
        r["width"] * r["height"] * VIDEO_CODECS[r.get("codec", H264.name)].encode_cost
        for r in ladder
        if not r.get("source_copy")
    )
    return duration * pixels / 1e6


def measured_speed(transcodes: list[tuple[float, float, list[dict]]]) -> float | None:
    """CPU seconds per encoded megapixel-second over past transcodes, each (CPU seconds, duration,
    ladder); None when they encoded nothing."""
    megapixel_seconds = sum(encoded_megapixel_seconds(duration, ladder) for _, duration, ladder in transcodes)
    return sum(cpu for cpu, _, _ in transcodes) / megapixel_seconds if megapixel_seconds else None


def rendition_bytes(duration: float, video_kbps: float, audio_kbps: float, overhead: float) -> float:
    return (video_kbps + audio_kbps) * 1000 / 8 * duration * overhead


def estimate(
    movies: list[ProbedMovie],
    *,
    audio_kbps: int,
    cpu_seconds_per_megapixel_second: float,
    speed_measured_on: int,
    prices: Prices,
    segment_format: str,
) -> Estimate:
    convertible = [m for m in movies if m.refused_as is None]
    refused: dict[str, list[int]] = {}
    for movie in movies:
        if movie.refused_as is not None:
            refused.setdefault(movie.refused_as, []).append(movie.movie_id)
    output = top_rungs = megapixel_seconds = 0.0
    for movie in convertible:
        audio = audio_kbps if movie.has_audio else 0
        sizes = [
            rendition_bytes(movie.duration, rung["video_kbps"], audio, CONTAINER_OVERHEAD[segment_format])
            for rung in movie.ladder
        ]
        output += sum(sizes)
        top_rungs += max(sizes, default=0.0)  # a full view at the best rung: egress's upper bound
        megapixel_seconds += encoded_megapixel_seconds(movie.duration, movie.ladder)
    return Estimate(
        would_convert=sorted(m.movie_id for m in convertible),
        refused={name: sorted(ids) for name, ids in refused.items()},
        source_hours=sum(m.duration for m in convertible) / 3600,
        output_bytes=round(output),
        cpu_hours=megapixel_seconds * cpu_seconds_per_megapixel_second / 3600,
        cpu_seconds_per_megapixel_second=cpu_seconds_per_megapixel_second,
        speed_measured_on=speed_measured_on,
        storage_per_month=output / GB * prices.storage_per_gb_month,
        egress_per_month=top_rungs / GB * prices.views_per_movie_month * prices.egress_per_gb,
    )
