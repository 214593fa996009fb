"""Create the HLS bucket and its CORS rule (players on other origins fetch playlists and segments).

Run once by the compose service ``storage-init`` with the ``hls_storage`` connection's credentials.
"""

import json
import os

import boto3
from botocore.config import Config

connection = json.loads(os.environ["AIRFLOW_CONN_HLS_STORAGE"])
bucket = os.environ["AIRFLOW_VAR_HLS_BUCKET"]
client = boto3.client(
    "s3",
    endpoint_url=connection["extra"]["endpoint_url"],
    region_name=connection["extra"].get("region_name", "us-east-1"),
    aws_access_key_id=connection["login"],
    aws_secret_access_key=connection["password"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
    client.create_bucket(Bucket=bucket)
origins = [o.strip() for o in os.environ.get("HLS_CORS_ORIGINS", "*").split(",")]
client.put_bucket_cors(
    Bucket=bucket,
    CORSConfiguration={
        "CORSRules": [{"AllowedOrigins": origins, "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 3600}]
    },
)
print(f"bucket {bucket} ready, CORS origins {origins}")
