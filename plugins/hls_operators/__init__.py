"""hls-migration: convert a catalog of progressive MP4 movies to adaptive HLS with Airflow.

Layers, each importing only those below it (ARCHITECTURE.md): ``core/`` (pure rules and plans),
``settings.py`` (configuration), ``edges/`` (PostgreSQL, storage, sources, ffmpeg, hand-offs),
``media/`` (ffmpeg work on local folders), ``steps.py`` (one function per task), and the Airflow
shells ``hooks.py`` and ``operators.py``.
"""
