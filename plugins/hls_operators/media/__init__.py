"""Media work on local folders: ffmpeg and ffprobe over files, never storage or the catalog."""
