"""Sign requests with botocore, for cairn's SigV4 verifier tests.

Reads a JSON spec on stdin:
  {"access_key", "secret_key", "region", "endpoint",
   "requests": [{"method", "bucket", "key", "params": {..}, "headers": {..},
                 "body", "presign": seconds or 0, "unsigned_payload": bool}]}
and writes the signed requests as JSON on stdout:
  [{"method", "url", "headers": [[name, value], ...], "body"}].
URLs are built the way botocore's REST serializer builds them: the key
quoted with safe '/~', the query with botocore's percent_encode_sequence.
"""
import json
import sys
import types
from urllib.parse import quote

import botocore
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence


def main():
    spec = json.load(sys.stdin)
    creds = Credentials(spec["access_key"], spec["secret_key"])
    out = []
    for r in spec["requests"]:
        path = "/" + r["bucket"]
        if r.get("key"):
            path += "/" + quote(r["key"], safe="/~")
        url = spec["endpoint"] + path
        if r.get("params"):
            url += "?" + percent_encode_sequence(r["params"])
        body = r.get("body", "").encode("utf-8")
        req = AWSRequest(method=r["method"], url=url, headers=r.get("headers", {}), data=body)
        if r.get("unsigned_payload"):
            req.context["client_config"] = types.SimpleNamespace(s3={"payload_signing_enabled": False})
        if r.get("presign"):
            S3SigV4QueryAuth(creds, "s3", spec["region"], expires=r["presign"]).add_auth(req)
        else:
            S3SigV4Auth(creds, "s3", spec["region"]).add_auth(req)
        out.append({
            "method": req.method,
            "url": req.url,
            "headers": [[k, v] for k, v in req.headers.items()],
            "body": body.decode("utf-8"),
            "botocore": botocore.__version__,
        })
    json.dump(out, sys.stdout)


main()
