"""hls-migration: convert a catalog of progressive MP4 movies to adaptive HLS with Airflow.

The layers and every module are listed in ARCHITECTURE.md, the one list of them.
"""
