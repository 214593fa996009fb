#!/bin/sh
# Start SeaweedFS's S3 API with the access rules of s3_config.py: one read-write identity from the
# environment, anonymous reads of the published prefix only (the public side that players and the
# CDN use). Nothing starts while the keys are the example's.
set -eu
mkdir -p /data
python /usr/local/bin/s3_config.py > /data/s3.json.new
mv /data/s3.json.new /data/s3.json
exec weed mini -dir=/data -s3.port=8333 -s3.config=/data/s3.json -webdav=false -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0
