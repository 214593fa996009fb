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
