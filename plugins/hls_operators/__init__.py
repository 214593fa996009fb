"""hls-migration: convert a catalog of progressive MP4 movies to adaptive HLS with Airflow.

Pure core (ladder, probe, commands, playlists, publishing, verify), I/O at the edges (catalog,
storage, source, ffmpeg, steps), Airflow shells (hooks, operators).
"""
