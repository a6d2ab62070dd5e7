"""Drive cairn's S3 gateway with boto3, for the gateway's tests.

usage: boto_client.py ENDPOINT CAFILE ACCESS_KEY SECRET_KEY
Prints one JSON object with what each step saw; the Go test checks it.
"""
import hashlib
import io
import json
import sys

import boto3
from boto3.s3.transfer import TransferConfig
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, cafile, access_key, secret_key = sys.argv[1:5]


def client(ak=access_key, sk=secret_key):
    cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                 retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak,
                        aws_secret_access_key=sk, region_name="us-east-1",
                        verify=cafile, config=cfg)


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def md5hex(b):
    return hashlib.md5(b).hexdigest()


s3 = client()
B = "boto-bucket"
out = {"botocore": botocore.__version__}

s3.create_bucket(Bucket=B)
out["buckets"] = [b["Name"] for b in s3.list_buckets()["Buckets"]]

keys = ["a-b", "a/b", "a.c", "a0", "dir/sub/x y.txt", "ünï/ключ", "plus+sign",
        "tilde~", "a b", "percent%41", "folder/"]
etags = {}
for k in keys:
    body = b"" if k.endswith("/") else ("body of " + k).encode()
    r = s3.put_object(Bucket=B, Key=k, Body=body, ContentType="text/plain",
                      Metadata={"origin": "boto"})
    etags[k] = [r["ETag"], '"' + md5hex(body) + '"']
out["etags"] = etags

big = bytes(range(256)) * (3 * 4096 + 7)
r = s3.put_object(Bucket=B, Key="big.bin", Body=big, ChecksumAlgorithm="SHA256")
out["big_etag"] = [r["ETag"], '"' + md5hex(big) + '"']
g = s3.get_object(Bucket=B, Key="big.bin", ChecksumMode="ENABLED")
out["big_roundtrip"] = g["Body"].read() == big
out["big_checksum"] = g.get("ChecksumSHA256", "")
out["range"] = s3.get_object(Bucket=B, Key="big.bin", Range="bytes=10-19")["Body"].read() == big[10:20]
out["not_modified"] = error_code(lambda: s3.get_object(Bucket=B, Key="big.bin", IfNoneMatch=r["ETag"]))
out["precondition"] = error_code(lambda: s3.get_object(Bucket=B, Key="big.bin", IfMatch='"0000"'))
out["bad_range"] = error_code(lambda: s3.get_object(Bucket=B, Key="big.bin", Range="bytes=99999999-"))

head = s3.head_object(Bucket=B, Key="a-b")
out["head"] = [head["ETag"], head["ContentLength"], head["Metadata"].get("origin"), head["ContentType"]]


def listing(paginator, **kw):
    keys, prefixes = [], []
    for page in s3.get_paginator(paginator).paginate(Bucket=B, **kw):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return {"keys": keys, "prefixes": prefixes}


out["list_v2"] = listing("list_objects_v2", PaginationConfig={"PageSize": 2})
out["list_v2_delim"] = listing("list_objects_v2", Delimiter="/", PaginationConfig={"PageSize": 2})
out["list_v1"] = listing("list_objects", PaginationConfig={"PageSize": 3})
out["list_v1_delim"] = listing("list_objects", Delimiter="/", PaginationConfig={"PageSize": 1})

# A multipart upload of three parts of 5 MiB and a small one, through
# upload_fileobj (boto's transfer manager) and by hand.
mk = "multi/part.bin"
parts = [bytes([i]) * (5 * 1024 * 1024 + 1000 * i) for i in range(1, 4)] + [b"the tail"]
uid = s3.create_multipart_upload(Bucket=B, Key=mk, Metadata={"kind": "multi"})["UploadId"]
pe = [s3.upload_part(Bucket=B, Key=mk, UploadId=uid, PartNumber=i + 1, Body=p)["ETag"]
      for i, p in enumerate(parts)]
out["uploads"] = [u["Key"] for u in s3.list_multipart_uploads(Bucket=B).get("Uploads", [])]
out["parts"] = [[p["PartNumber"], p["ETag"], p["Size"]]
                for p in s3.list_parts(Bucket=B, Key=mk, UploadId=uid)["Parts"]]
out["part_order"] = error_code(lambda: s3.complete_multipart_upload(
    Bucket=B, Key=mk, UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": pe[1]}, {"PartNumber": 1, "ETag": pe[0]}]}))
c = s3.complete_multipart_upload(Bucket=B, Key=mk, UploadId=uid, MultipartUpload={
    "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(pe)]})
want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-4"
out["multipart_etag"] = [c["ETag"], '"' + want + '"']
got = s3.get_object(Bucket=B, Key=mk)
out["multipart_roundtrip"] = got["Body"].read() == b"".join(parts)
out["multipart_meta"] = got["Metadata"].get("kind")
out["no_such_upload"] = error_code(lambda: s3.list_parts(Bucket=B, Key=mk, UploadId=uid))

tm = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
blob = bytes(range(256)) * (48 * 1024)  # 12 MiB: three parts
s3.upload_fileobj(io.BytesIO(blob), B, "transfer.bin", Config=tm)
buf = io.BytesIO()
s3.download_fileobj(B, "transfer.bin", buf, Config=tm)
out["transfer_roundtrip"] = buf.getvalue() == blob

cp = s3.copy_object(Bucket=B, Key="copy.txt", CopySource={"Bucket": B, "Key": "a-b"})
out["copy"] = [cp["CopyObjectResult"]["ETag"], etags["a-b"][1]]
s3.copy_object(Bucket=B, Key="copy.txt", CopySource={"Bucket": B, "Key": "copy.txt"},
               MetadataDirective="REPLACE", ContentType="text/replaced", Metadata={"new": "yes"})
h = s3.head_object(Bucket=B, Key="copy.txt")
out["copy_replace"] = [h["ContentType"], h["Metadata"].get("new"), h["Metadata"].get("origin")]

d = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "a0"}, {"Key": "never-there"}, {"Key": "dir/sub/x y.txt"}], "Quiet": False})
out["deleted"] = sorted(x["Key"] for x in d.get("Deleted", []))
d = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "a.c"}], "Quiet": True})
out["deleted_quiet"] = d.get("Deleted", [])
out["after_delete"] = listing("list_objects_v2", Prefix="d")

out["location"] = s3.get_bucket_location(Bucket=B).get("LocationConstraint")
out["versioning"] = s3.get_bucket_versioning(Bucket=B).get("Status")
out["acl"] = [g["Permission"] for g in s3.get_bucket_acl(Bucket=B)["Grants"]]

out["errors"] = {
    "get_missing": error_code(lambda: s3.get_object(Bucket=B, Key="missing")),
    "head_missing": error_code(lambda: s3.head_object(Bucket=B, Key="missing")),
    "bad_key": error_code(lambda: s3.put_object(Bucket=B, Key="bad//key", Body=b"x")),
    "reserved_key": error_code(lambda: s3.put_object(Bucket=B, Key=".cairn-s3/x", Body=b"x")),
    "conflict": error_code(lambda: s3.put_object(Bucket=B, Key="a", Body=b"x")),
    "bad_bucket": error_code(lambda: s3.list_objects_v2(Bucket="Bad_Bucket")),
    "no_bucket": error_code(lambda: s3.list_objects_v2(Bucket="no-such-bucket")),
    "not_empty": error_code(lambda: s3.delete_bucket(Bucket=B)),
    "owned": error_code(lambda: s3.create_bucket(Bucket=B)),
    "wrong_secret": error_code(lambda: client(sk="not-the-secret").list_buckets()),
    "unknown_key": error_code(lambda: client(ak="NOBODY").list_buckets()),
}

out["presigned_get"] = s3.generate_presigned_url(
    "get_object", Params={"Bucket": B, "Key": "a b"}, ExpiresIn=300)
print(json.dumps(out))
