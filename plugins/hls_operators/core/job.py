"""What one movie's tasks hand each other: the claimed movie (the selection's XCom), the wave a
movie's run belongs to (its conf), and what the probe found and planned (``MovieJob``). Each is
read by attribute; ``to_dict`` and ``from_dict`` are the one way to and from XCom and conf."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hls_operators.core import publishing
from hls_operators.core.chunks import Chunk
from hls_operators.core.ladder import Rung
from hls_operators.core.probe import ProbeResult


@dataclass(frozen=True)
class ClaimedMovie:
    """A movie a run has claimed: what every task of its conversion starts from."""

    movie_id: int
    source_url: str
    expected_url: str  # the catalog's video_url when claimed; the flip requires it unchanged

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClaimedMovie:
        """From a claimed movie's payload, or from a ``MovieJob``'s, which starts with the same fields."""
        return cls(int(data["movie_id"]), data["source_url"], data["expected_url"])


@dataclass(frozen=True)
class Wave:
    """The wave a movie's run belongs to, in that run's conf: its ledger attempt and claim are the
    wave's, at the movie's place in it (``map_index``)."""

    dag_id: str
    run_id: str
    map_index: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Wave:
        return cls(data["dag_id"], data["run_id"], int(data["map_index"]))


@dataclass(frozen=True)
class MovieJob:
    """What every step after the probe needs to know about one movie; JSON-safe via ``to_dict``."""

    movie_id: int
    source_url: str
    expected_url: str  # the catalog's video_url when claimed: the flip requires it unchanged
    version: str
    probe: ProbeResult
    ladder: list[Rung]
    chunks: list[Chunk]
    dropped: dict[str, str] = field(default_factory=dict)  # rungs the plan left out, and why (per title)

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "probe": self.probe.to_dict(),
            "ladder": [r.to_dict() for r in self.ladder],
            "chunks": [c.to_dict() for c in self.chunks],
        }

    @classmethod
    def from_dict(cls, data: dict) -> MovieJob:
        return cls(
            movie_id=int(data["movie_id"]),
            source_url=data["source_url"],
            expected_url=data["expected_url"],
            version=data["version"],
            probe=ProbeResult.from_dict(data["probe"]),
            ladder=[Rung.from_dict(r) for r in data["ladder"]],
            chunks=[Chunk.from_dict(c) for c in data["chunks"]],
            dropped=data.get("dropped", {}),
        )

    @property
    def encoded_rungs(self) -> list[Rung]:
        return [rung for rung in self.ladder if not rung.source_copy]

    @property
    def top_rung(self) -> Rung:
        return max(self.ladder, key=lambda rung: rung.height)

    def chunk_frames(self, chunk: Chunk) -> int | None:
        """How many frames the chunk holds (None for the last: up to the end of the movie)."""
        end = chunk.end_frame(self.probe.fps)
        return None if end is None else end - chunk.first_frame(self.probe.fps)

    def chunk_seconds(self, chunk: Chunk) -> float:
        return (self.probe.duration if chunk.end is None else chunk.end) - chunk.start

    def output_prefix(self, output_root: str) -> str:
        """Where this conversion's set is published, under ``output_root`` (``hls_output_prefix``)."""
        return publishing.output_prefix(output_root, self.movie_id, self.version)

    def work_key(self, work_root: str, name: str) -> str:
        """Key of the hand-off ``name`` under ``work_root`` (``hls_work_prefix``)."""
        return publishing.work_key(work_root, self.movie_id, self.version, name)
