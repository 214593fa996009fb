"""The steps of one movie's conversion and what each waits for, written once: ``hls_convert_movie``
wires its tasks from it, and the tests and the bench run the steps on one machine in its order."""

from __future__ import annotations

STEP_UPSTREAMS: dict[str, tuple[str, ...]] = {
    "probe": (),
    "encode": ("probe",),  # one task per chunk of the movie
    "audio": ("probe",),  # beside the chunk encodes: every audio track encoded once
    "thumbnails": ("probe",),
    "package": ("encode", "audio"),
    "upload": ("package", "thumbnails"),
    "verify_and_flip": ("upload",),
}


def step_order(upstreams: dict[str, tuple[str, ...]] = STEP_UPSTREAMS) -> list[str]:
    """The steps in an order that runs each after everything it waits for (as written where that holds)."""
    ordered: list[str] = []
    waiting = dict(upstreams)
    while waiting:
        ready = [step for step, before in waiting.items() if all(b in ordered for b in before)]
        if not ready:
            raise ValueError(f"the steps {sorted(waiting)} wait on each other or on no step")
        ordered += ready
        for step in ready:
            del waiting[step]
    return ordered


def steps_through(last: str, upstreams: dict[str, tuple[str, ...]] = STEP_UPSTREAMS) -> list[str]:
    """``last`` and every step it waits for, near or far, in ``step_order``'s order."""
    needed, waiting = set(), [last]
    while waiting:
        step = waiting.pop()
        needed.add(step)
        waiting += [before for before in upstreams[step] if before not in needed]
    return [step for step in step_order(upstreams) if step in needed]
