"""The bundled storage's access rules, written as SeaweedFS's ``-s3.config`` JSON:

    python s3_config.py > /data/s3.json

One read-write identity from ``S3_ACCESS_KEY``/``S3_SECRET_KEY``, and anonymous reads of the
published prefixes of ``HLS_BUCKET`` only (``HLS_PUBLIC_PREFIXES``, default ``hls/movies``): what
players and the CDN fetch. The hand-offs (``hls-work/``), the archive of retired originals and the
originals themselves stay private. Refuses to write anything while a key is empty or still holds
the example's ``change-me``, as airflow-init refuses the rest of ``.env``.
"""

from __future__ import annotations

import json
import os
import sys

EXAMPLE_SECRET = "change-me"


def s3_config(*, access_key: str, secret_key: str, bucket: str, public_prefixes: list[str]) -> dict:
    return {
        "identities": [
            {
                "name": "hls",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {"name": "anonymous", "actions": [f"Read:{bucket}/{prefix.strip('/')}/*" for prefix in public_prefixes]},
        ]
    }


def main() -> int:
    keys = {name: os.environ.get(name, "") for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY")}
    refused = sorted(name for name, value in keys.items() if not value or EXAMPLE_SECRET in value.lower())
    if refused:
        print(
            f"refusing to start: {', '.join(refused)} empty or still the example's '{EXAMPLE_SECRET}'; set them in .env",
            file=sys.stderr,
        )
        return 1
    prefixes = os.environ.get("HLS_PUBLIC_PREFIXES", "hls/movies").replace(",", " ").split()
    config = s3_config(
        access_key=keys["S3_ACCESS_KEY"],
        secret_key=keys["S3_SECRET_KEY"],
        bucket=os.environ["HLS_BUCKET"],
        public_prefixes=prefixes,
    )
    print(json.dumps(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
