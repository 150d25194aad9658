"""User metadata as boto3 sees it, for TestBoto3UserMetadata.

Usage: python3 boto3_metadata.py ENDPOINT ACCESS_KEY SECRET_KEY BUCKET

Stores objects with user metadata by PutObject, CopyObject (COPY and
REPLACE) and a multipart upload, reads each back with GetObject and
HeadObject, and prints one JSON object mapping "<operation> <key>" to the
Metadata boto3 returned.
"""

import json
import sys

import boto3
from botocore.config import Config

endpoint, access_key, secret_key, bucket = sys.argv[1:5]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
)
meta = {"color": "blue", "owner-team": "ops"}
seen = {}


def read_back(key):
    got = s3.get_object(Bucket=bucket, Key=key)
    got["Body"].read()
    seen["GetObject " + key] = got["Metadata"]
    seen["HeadObject " + key] = s3.head_object(Bucket=bucket, Key=key)["Metadata"]


s3.create_bucket(Bucket=bucket)

s3.put_object(Bucket=bucket, Key="put", Body=b"put with metadata", Metadata=meta)
read_back("put")

s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "put"})
read_back("copied")
s3.copy_object(
    Bucket=bucket,
    Key="replaced",
    CopySource={"Bucket": bucket, "Key": "put"},
    MetadataDirective="REPLACE",
    Metadata={"color": "green"},
)
read_back("replaced")

upload = s3.create_multipart_upload(Bucket=bucket, Key="multipart", Metadata=meta)
parts = []
for number, body in ((1, b"a" * (5 << 20)), (2, b"tail")):
    part = s3.upload_part(
        Bucket=bucket, Key="multipart", UploadId=upload["UploadId"], PartNumber=number, Body=body
    )
    parts.append({"PartNumber": number, "ETag": part["ETag"]})
s3.complete_multipart_upload(
    Bucket=bucket, Key="multipart", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
)
read_back("multipart")

json.dump(seen, sys.stdout, sort_keys=True)
