#!/bin/sh
# Start SeaweedFS's S3 API with one read-write identity from the environment and anonymous reads
# (the public side that players and the CDN use).
set -eu
mkdir -p /data
cat > /data/s3.json <<JSON
{"identities": [
  {"name": "hls", "credentials": [{"accessKey": "${S3_ACCESS_KEY}", "secretKey": "${S3_SECRET_KEY}"}],
   "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
  {"name": "anonymous", "actions": ["Read"]}
]}
JSON
exec weed mini -dir=/data -s3.port=8333 -s3.config=/data/s3.json -webdav=false -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0
