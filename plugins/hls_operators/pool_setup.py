"""Create the Airflow pool the chunk encodes run in, or set its size:

    python -m hls_operators.pool_setup SLOTS

One slot per 4 worker cores, at least one per worker (docs/operating.md, "Pools and concurrency").
The pool's name and description come from ``settings``, as everywhere else; docker-compose's
airflow-init runs this.
"""

from __future__ import annotations

import subprocess
import sys

from hls_operators.settings import TRANSCODE_POOL, TRANSCODE_POOL_DESCRIPTION


def pool_command(slots: int) -> list[str]:
    if slots < 1:
        raise ValueError(f"the pool {TRANSCODE_POOL} needs at least one slot, not {slots}")
    return ["airflow", "pools", "set", TRANSCODE_POOL, str(slots), TRANSCODE_POOL_DESCRIPTION]


if __name__ == "__main__":
    subprocess.run(pool_command(int(sys.argv[1])), check=True)
