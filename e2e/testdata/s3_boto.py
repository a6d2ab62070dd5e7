#!/usr/bin/env python3
"""Drives cairn's S3 gateway with boto3 for e2e/s3_test.go.

    s3_boto.py SCENARIO ARGS...

The endpoint is $S3_ENDPOINT; the key, secret and region come from the
usual AWS_* variables. Each scenario checks what the gateway answers
and exits 1 with a message on stderr at the first difference from S3's
behaviour; it prints "ok SCENARIO" when all is well. It runs under any
boto3 from 1.26 (Debian 12's python3-boto3) on.
"""

import hashlib
import json
import os
import random
import sys
import tempfile
import time

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1 << 20


# SLOW_CALL bounds every call, retries included: a call that takes
# longer stalled somewhere (a connection botocore misread waits for the
# read timeout, 20 s here, before a retry hides it).
SLOW_CALL = 15


def client(signature_version="s3v4", addressing_style="path"):
    c = boto3.client(
        "s3",
        endpoint_url=os.environ["S3_ENDPOINT"],
        # S3_INSECURE: an https endpoint with the test's own certificate.
        verify=not os.environ.get("S3_INSECURE"),
        config=Config(signature_version=signature_version, s3={"addressing_style": addressing_style},
                      retries={"max_attempts": 3, "mode": "standard"}, read_timeout=20),
    )

    def before(context, **kw):
        context["s3_boto_start"] = time.monotonic()

    def after(context, model, **kw):
        took = time.monotonic() - context.get("s3_boto_start", time.monotonic())
        if took > SLOW_CALL:
            fail("%s took %.1fs, more than %ds: a stall" % (model.name, took, SLOW_CALL))

    c.meta.events.register("before-call.s3", before)
    c.meta.events.register("after-call.s3", after)
    return c


def fail(msg):
    sys.stderr.write("s3_boto.py (boto3 %s, botocore %s): %s\n" % (boto3.__version__, botocore.__version__, msg))
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def want_eq(what, got, want):
    if got != want:
        fail("%s = %r, want %r" % (what, got, want))


def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response.get("Error", {}).get("Code")
    return None


def want_error(codes, fn, **kw):
    if isinstance(codes, str):
        codes = [codes]
    got = error_code(fn, **kw)
    if got not in codes:
        fail("%s(%r): error %r, want %r" % (fn.__name__, kw, got, codes))


def data(size, seed):
    r = random.Random(seed)
    return r.randbytes(size)


def md5(b):
    return hashlib.md5(b).hexdigest()


def s3_order(keys):
    """S3 lists keys in the order of their UTF-8 bytes."""
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def listing(bucket):
    """Paged listings (v1 and v2) across more keys than a page, with and
    without a delimiter, and S3's key order ("a-b" < "a.c" < "a/b")."""
    s3 = client()
    s3.create_bucket(Bucket=bucket)
    keys = ["logs/2026/%02d.txt" % i for i in range(14)] + ["a-b", "a.c", "a/b", "a0", "top1", "top2", "z/deep/er/key", "empty/",
                                                     "caf\u00e9/cr\u00e8me", "sp ace+plus&amp=%41"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"" if k.endswith("/") else k.encode())
    want = s3_order(keys)
    check(want.index("a-b") < want.index("a.c") < want.index("a/b") < want.index("a0"), "test's own order is wrong")

    # ListObjectsV2, 7 keys a page, through boto3's paginator.
    got, pages = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 7}):
        pages += 1
        contents = page.get("Contents", [])
        check(len(contents) <= 7, "page %d has %d keys, more than MaxKeys 7" % (pages, len(contents)))
        want_eq("KeyCount of page %d" % pages, page.get("KeyCount"), len(contents))
        for o in contents:
            body = b"" if o["Key"].endswith("/") else o["Key"].encode()
            want_eq("ETag of %s" % o["Key"], o["ETag"], '"%s"' % md5(body))
            want_eq("Size of %s" % o["Key"], o["Size"], len(body))
        got += [o["Key"] for o in contents]
    want_eq("keys listed by list_objects_v2 with MaxKeys 7", got, want)
    want_eq("pages of 7", pages, (len(keys) + 6) // 7)

    # ListObjects (v1), paged by hand with Marker.
    got, marker = [], ""
    while True:
        page = s3.list_objects(Bucket=bucket, MaxKeys=7, Marker=marker)
        contents = page.get("Contents", [])
        got += [o["Key"] for o in contents]
        if not page.get("IsTruncated"):
            break
        marker = page.get("NextMarker") or contents[-1]["Key"]
    want_eq("keys listed by list_objects with MaxKeys 7", got, want)

    # A delimiter: folders become common prefixes, in key order with the
    # keys, also across pages of 2.
    page = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    want_eq("CommonPrefixes with delimiter /", [p["Prefix"] for p in page.get("CommonPrefixes", [])], ["a/", "caf\u00e9/", "empty/", "logs/", "z/"])
    want_eq("Contents with delimiter /", [o["Key"] for o in page.get("Contents", [])], ["a-b", "a.c", "a0", "sp ace+plus&amp=%41", "top1", "top2"])
    got = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}):
        entries = [(o["Key"], "key") for o in page.get("Contents", [])] + [(p["Prefix"], "prefix") for p in page.get("CommonPrefixes", [])]
        check(len(entries) <= 2, "a page of 2 with a delimiter has %d entries" % len(entries))
        got += sorted(entries, key=lambda e: e[0].encode())
    want_eq("entries with delimiter / in pages of 2", [e[0] for e in got], ["a-b", "a.c", "a/", "a0", "caf\u00e9/", "empty/", "logs/", "sp ace+plus&amp=%41", "top1", "top2", "z/"])

    # A prefix, a delimiter and StartAfter.
    page = s3.list_objects_v2(Bucket=bucket, Prefix="logs/2026/", Delimiter="/", StartAfter="logs/2026/05.txt")
    want_eq("keys after logs/2026/05.txt", [o["Key"] for o in page.get("Contents", [])], ["logs/2026/%02d.txt" % i for i in range(6, 14)])
    page = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", Delimiter="/")
    want_eq("prefixes under logs/", [p["Prefix"] for p in page.get("CommonPrefixes", [])], ["logs/2026/"])
    page = s3.list_objects_v2(Bucket=bucket, Prefix="nothing/")
    want_eq("KeyCount of an empty prefix", page.get("KeyCount"), 0)
    print("ok listing")


def objects(bucket):
    """Put, head, ranged get, copy, metadata, batch delete, multipart
    through the transfer manager, abort, and the error codes."""
    s3 = client()
    s3.create_bucket(Bucket=bucket)
    code = error_code(s3.create_bucket, Bucket=bucket)
    check(code in (None, "BucketAlreadyOwnedByYou"), "creating an existing bucket of one's own: %r" % code)
    want_error("NoSuchBucket", s3.list_objects_v2, Bucket=bucket + "-missing")

    body = data(MiB + 7, 1)
    s3.put_object(Bucket=bucket, Key="dir/obj", Body=body, ContentType="text/x-test", Metadata={"color": "blue"})
    h = s3.head_object(Bucket=bucket, Key="dir/obj")
    want_eq("ContentLength", h["ContentLength"], len(body))
    want_eq("ETag", h["ETag"], '"%s"' % md5(body))
    want_eq("ContentType", h["ContentType"], "text/x-test")
    want_eq("Metadata", h["Metadata"], {"color": "blue"})

    g = s3.get_object(Bucket=bucket, Key="dir/obj", Range="bytes=100-199")
    want_eq("ranged status", g["ResponseMetadata"]["HTTPStatusCode"], 206)
    want_eq("ContentRange", g["ContentRange"], "bytes 100-199/%d" % len(body))
    check(g["Body"].read() == body[100:200], "bytes 100-199 differ")
    g = s3.get_object(Bucket=bucket, Key="dir/obj", Range="bytes=-10")
    check(g["Body"].read() == body[-10:], "the last 10 bytes differ")
    check(s3.get_object(Bucket=bucket, Key="dir/obj")["Body"].read() == body, "the object reads back different")

    # A checksum the client computes and the gateway verifies.
    s3.put_object(Bucket=bucket, Key="summed", Body=b"summed body", ChecksumAlgorithm="SHA256")
    check(s3.get_object(Bucket=bucket, Key="summed")["Body"].read() == b"summed body", "summed object differs")

    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "dir/obj"})
    h = s3.head_object(Bucket=bucket, Key="copy")
    want_eq("ETag of the copy", h["ETag"], '"%s"' % md5(body))
    want_eq("Metadata of the copy", h["Metadata"], {"color": "blue"})
    s3.copy_object(Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": "dir/obj"}, MetadataDirective="REPLACE", Metadata={"color": "red"})
    want_eq("replaced Metadata", s3.head_object(Bucket=bucket, Key="copy2")["Metadata"], {"color": "red"})

    # Multipart through the transfer manager: 12 MiB in 5 MiB parts.
    big = data(12 * MiB + 3, 2)
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
        with open(src, "wb") as f:
            f.write(big)
        tc = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
        s3.upload_file(src, bucket, "big", Config=tc)
        h = s3.head_object(Bucket=bucket, Key="big")
        want_eq("ContentLength of big", h["ContentLength"], len(big))
        check(h["ETag"].endswith('-3"'), "ETag of a 3-part object %s does not end in -3" % h["ETag"])
        s3.download_file(bucket, "big", dst, Config=tc)
        with open(dst, "rb") as f:
            want_eq("MD5 of big downloaded", md5(f.read()), md5(big))

    # An aborted upload is gone.
    up = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=up, PartNumber=1, Body=b"x" * 1000)
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=up)
    want_error("NoSuchUpload", s3.list_parts, Bucket=bucket, Key="aborted", UploadId=up)
    want_error("NoSuchUpload", s3.upload_part, Bucket=bucket, Key="x", UploadId="no-such-upload", PartNumber=1, Body=b"x")

    # Errors.
    want_error("NoSuchKey", s3.get_object, Bucket=bucket, Key="missing")
    want_error("NoSuchBucket", s3.get_object, Bucket=bucket + "-missing", Key="missing")
    want_error(["404", "NoSuchKey"], s3.head_object, Bucket=bucket, Key="missing")
    want_error("BucketNotEmpty", s3.delete_bucket, Bucket=bucket)
    want_error("InvalidRange", s3.get_object, Bucket=bucket, Key="summed", Range="bytes=1000-2000")

    # Batch delete; a missing key counts as deleted, as in S3.
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ["dir/obj", "copy", "copy2", "summed", "big", "never-was"]]})
    want_eq("Deleted", sorted(d["Key"] for d in r.get("Deleted", [])), ["big", "copy", "copy2", "dir/obj", "never-was", "summed"])
    want_eq("Errors", r.get("Errors", []), [])
    want_eq("keys left", s3.list_objects_v2(Bucket=bucket).get("KeyCount"), 0)
    s3.delete_bucket(Bucket=bucket)
    want_error("NoSuchBucket", s3.list_objects_v2, Bucket=bucket)
    print("ok objects")


def edges(bucket):
    """Conditional requests, UploadPartCopy, the checks of a completion,
    and keys and bodies the gateway must refuse."""
    s3 = client()
    s3.create_bucket(Bucket=bucket)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["ETag"]
    want_error(["304", "NotModified"], s3.get_object, Bucket=bucket, Key="k", IfNoneMatch=etag)
    want_error("PreconditionFailed", s3.get_object, Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    try:
        want_error("PreconditionFailed", s3.put_object, Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
        s3.put_object(Bucket=bucket, Key="k2", Body=b"two", IfNoneMatch="*")
    except botocore.exceptions.ParamValidationError:
        pass  # a boto3 older than conditional writes
    check(s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one", "a PUT with If-None-Match * replaced an object")

    # A part copied from a range of another object, and a small last part.
    src = data(6 * MiB, 3)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange="bytes=0-%d" % (5 * MiB - 1))
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"tail")
    want_error("InvalidPart", s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=up,
               MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    want_error("InvalidPartOrder", s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=up,
               MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    check(s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == src[:5 * MiB] + b"tail", "UploadPartCopy's object differs")
    up = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="small", UploadId=up, PartNumber=n, Body=b"x" * 100)["ETag"]} for n in (1, 2)]
    want_error("EntityTooSmall", s3.complete_multipart_upload, Bucket=bucket, Key="small", UploadId=up, MultipartUpload={"Parts": parts})
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=up)

    # Refusals.
    want_error("InvalidBucketName", s3.create_bucket, Bucket="Bad_Bucket")
    want_error("KeyTooLongError", s3.put_object, Bucket=bucket, Key="k" * 1100, Body=b"")
    for key in ("a/../b", "a//b", ".cairn-s3/x", "d/.cairn-s3"):
        want_error("InvalidArgument", s3.put_object, Bucket=bucket, Key=key, Body=b"")
    want_error("BadDigest", s3.put_object, Bucket=bucket, Key="md", Body=b"abc", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    want_error(["404", "NoSuchKey"], s3.head_object, Bucket=bucket, Key="md")
    want_error("NotImplemented", s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    print("ok edges")


def streams(bucket):
    """Bodies as a client sends them to an https endpoint, where recent
    botocore streams them aws-chunked with a trailing checksum
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER) instead of signing their
    SHA-256: bytes, a file, and the transfer manager's parts."""
    if os.environ.get("S3_INSECURE"):
        import urllib3
        urllib3.disable_warnings()
    s3 = client()
    s3.create_bucket(Bucket=bucket)
    small = data(1000, 4)
    s3.put_object(Bucket=bucket, Key="bytes", Body=small)
    big = data(12 * MiB + 5, 5)
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        with open(src, "wb") as f:
            f.write(big)
        with open(src, "rb") as f:
            s3.put_object(Bucket=bucket, Key="file", Body=f)
        s3.upload_file(src, bucket, "parts", Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    for key, want in (("bytes", small), ("file", big), ("parts", big)):
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        want_eq("MD5 of %s" % key, md5(got), md5(want))
    want_eq("ETag of file", s3.head_object(Bucket=bucket, Key="file")["ETag"], '"%s"' % md5(big))
    print("ok streams")


def part_data(n):
    """Part n of the restart test's upload: 5 MiB + 12345 bytes (not a
    whole number of blocks), the fourth 777777 bytes."""
    return data(777777 if n == 4 else 5 * MiB + 12345, 100 + n)


def mpu_start(bucket, key, state):
    """Begins a multipart upload of 4 parts and sends parts 1 and 2."""
    s3 = client()
    code = error_code(s3.create_bucket, Bucket=bucket)
    check(code in (None, "BucketAlreadyOwnedByYou"), "create_bucket: %r" % code)
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"stage": "one"})["UploadId"]
    etags = {}
    for n in (1, 2):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=part_data(n))
        want_eq("ETag of part %d" % n, r["ETag"], '"%s"' % md5(part_data(n)))
        etags[n] = r["ETag"]
    ups = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    check(any(u["UploadId"] == up and u["Key"] == key for u in ups), "upload %s not in list_multipart_uploads %r" % (up, ups))
    with open(state, "w") as f:
        json.dump({"upload": up, "etags": etags}, f)
    print("ok mpu-start")


def mpu_finish(bucket, key, state):
    """After a gateway restart: the parts sent are still there; sends
    parts 3 and 4, completes, and reads the object back."""
    s3 = client()
    with open(state) as f:
        st = json.load(f)
    up = st["upload"]
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=up).get("Parts", [])
    want_eq("parts after the restart", [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts],
            [(n, st["etags"][str(n)], len(part_data(n))) for n in (1, 2)])
    etags = [st["etags"]["1"], st["etags"]["2"]]
    for n in (3, 4):
        etags.append(s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=part_data(n))["ETag"])
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": t} for i, t in enumerate(etags)]})
    want_md5s = hashlib.md5(b"".join(bytes.fromhex(t.strip('"')) for t in etags)).hexdigest()
    want_eq("ETag of the completed object", r["ETag"], '"%s-4"' % want_md5s)
    whole = b"".join(part_data(n) for n in (1, 2, 3, 4))
    g = s3.get_object(Bucket=bucket, Key=key)
    want_eq("ETag read", g["ETag"], '"%s-4"' % want_md5s)
    want_eq("Metadata read", g["Metadata"], {"stage": "one"})
    want_eq("MD5 of the completed object", md5(g["Body"].read()), md5(whole))
    ups = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    check(not any(u["UploadId"] == up for u in ups), "completed upload still listed")
    print("ok mpu-finish")


def presign(bucket, key, method, expires, signature_version="s3v4", addressing_style="path"):
    """Prints a presigned URL for get_object or put_object, signed with
    SigV4 (s3v4), or as boto3 does unless told (its default for
    presigned URLs is SigV2, which the gateway refuses); path-style, or
    virtual-hosted (bucket.endpoint-host)."""
    s3 = client(None if signature_version == "default" else signature_version, addressing_style)
    op = {"GET": "get_object", "PUT": "put_object"}[method]
    print(s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires)))


SCENARIOS = {
    "listing": listing,
    "objects": objects,
    "edges": edges,
    "streams": streams,
    "mpu-start": mpu_start,
    "mpu-finish": mpu_finish,
    "presign": presign,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in SCENARIOS:
        fail("usage: s3_boto.py %s ARGS..." % "|".join(SCENARIOS))
    SCENARIOS[sys.argv[1]](*sys.argv[2:])
