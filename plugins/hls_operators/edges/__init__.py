"""The edges: PostgreSQL, object storage, source downloads, ffmpeg processes, the worker's disk."""
