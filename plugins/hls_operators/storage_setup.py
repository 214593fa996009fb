"""Prepare the HLS bucket for players: create it if missing and set its CORS rule.

    python -m hls_operators.storage_setup [ORIGIN[,ORIGIN...] ...]     (default origin: *)

Uses the ``hls_storage`` connection and the ``hls_bucket`` Variable, like the pipeline itself.
Browsers on other origins than the bucket's (a web app, a CDN domain) need the rule to play HLS.
"""

from __future__ import annotations

import sys

from hls_operators.hooks import StorageHook
from hls_operators.settings import load_settings


def main(origins: list[str]) -> None:
    settings = load_settings()
    store = StorageHook().object_store(settings.bucket)
    store.ensure_bucket()
    store.allow_origins(origins or ["*"])
    print(f"bucket {settings.bucket}: ready, CORS origins {origins or ['*']}")


if __name__ == "__main__":
    main([origin for arg in sys.argv[1:] for origin in arg.split(",") if origin.strip()])
