#!/usr/bin/env bash
# System packages beside the Python ones: ffmpeg/ffprobe, PostgreSQL's server binaries when no
# server answers on 127.0.0.1:5432, Redis likewise, Chromium and Node.js for playback checks.
# Debian/Ubuntu (apt).
set -euo pipefail

missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
   && ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# Browser playback checks: Debian's Chromium (test tools that download their own browser cannot
# run here) and Node.js for playwright-core and hls.js.
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
# Redis for the distributed (Celery) test, when none answers on 127.0.0.1:6379.
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && ! command -v redis-server >/dev/null; then
  missing+=(redis-server)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]} with apt-get"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
