"""Waves: a run converts a bounded batch, and a batch that fails too often stops the migration."""

from __future__ import annotations

from collections import Counter


def hold_reason(statuses: list[str], error_classes: list[str | None], max_failure_rate: float) -> str | None:
    """Why new movies should wait after this wave, or None when its failure rate is within bounds.

    ``statuses`` and ``error_classes`` are the wave's movies' latest outcomes, in the same order.
    """
    if not statuses:
        return None
    failed = [cls or "unknown" for status, cls in zip(statuses, error_classes) if status == "failed"]
    rate = len(failed) / len(statuses)
    if rate <= max_failure_rate:
        return None
    by_class = ", ".join(f"{name} x{count}" for name, count in Counter(failed).most_common())
    return (
        f"{len(failed)} of {len(statuses)} movies failed ({rate:.0%}, over the {max_failure_rate:.0%} allowed): {by_class}"
    )


def approval_request(held_by: str, reason: str, outcome: list[tuple[int, str, str | None, str | None]]) -> str:
    """The body (Markdown) of the question a held migration asks in Airflow's Required Actions:
    why it is held and which movies failed, by class, with one message per class to go on.

    ``outcome`` is the held run's (movie_id, status, error_class, error_message) per movie.
    """
    failed: dict[str, list[tuple[int, str | None]]] = {}
    for movie_id, status, error_class, message in outcome:
        if status == "failed":
            failed.setdefault(error_class or "unknown", []).append((movie_id, message))
    lines = [
        f"Run `{held_by}` put the migration on hold: {reason}.",
        "",
        "| error class | movies | first message |",
        "| --- | --- | --- |",
    ]
    for error_class, movies in sorted(failed.items(), key=lambda item: (-len(item[1]), item[0])):
        ids = ", ".join(str(movie_id) for movie_id, _ in movies)
        first = (movies[0][1] or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {error_class} | {ids} | {first} |")
    lines += [
        "",
        "**Approve**: the hold is lifted and this run takes the next wave.",
        "**Reject** (also what happens when nobody answers in time): this run takes no movie and the hold stays.",
    ]
    return "\n".join(lines)
