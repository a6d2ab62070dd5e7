"""fsspec's WebHDFS filesystem and pandas against cairn's WebHDFS.

Run by e2e/webhdfs_test.go with Debian's /usr/bin/python3 (python3-fsspec,
python3-requests, python3-pandas):

    webhdfs_fsspec.py HOST PORT USER

It writes a CSV with pandas through a webhdfs:// URL, lists it, reads it
back, and mkdirs, renames and deletes through fsspec, failing (non-zero
exit) on the first difference. On success it prints one JSON object on
stdout, which the test checks against the cluster.
"""

import json
import sys

import fsspec
import pandas as pd

host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
url = f"webhdfs://{host}:{port}"
opts = {"user": user}


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


df = pd.DataFrame({
    "id": range(2000),
    "name": [f"row-{i}" for i in range(2000)],
    "value": [i * 0.5 for i in range(2000)],
})
df.to_csv(f"{url}/pandas/data.csv", index=False, storage_options=opts)
back = pd.read_csv(f"{url}/pandas/data.csv", storage_options=opts)
check(back.equals(df), f"read_csv gave back\n{back}\nnot\n{df}")

fs = fsspec.filesystem("webhdfs", host=host, port=port, user=user)
check(fs.ls("/pandas") == ["/pandas/data.csv"], f"ls /pandas = {fs.ls('/pandas')}")
info = fs.info("/pandas/data.csv")
check(info["type"] == "file" and info["owner"] == user, f"info = {info}")
size = info["size"]

# Ranged reads: fsspec sends OPEN with offset and length.
with fs.open("/pandas/data.csv", "rb", block_size=1000) as f:
    f.seek(1500)
    part = f.read(3000)
whole = fs.cat_file("/pandas/data.csv")
check(len(whole) == size and part == whole[1500:4500], "ranged read differs")

# A binary file written in several chunks (CREATE then APPENDs).
blob = bytes(range(256)) * 40000  # 10 MB
with fs.open("/pandas/blob.bin", "wb", block_size=2**20) as f:
    f.write(blob)
check(fs.cat_file("/pandas/blob.bin") == blob, "blob differs")

fs.mkdir("/pandas/sub")
fs.mv("/pandas/blob.bin", "/pandas/sub/blob.bin")
check(fs.ls("/pandas/sub") == ["/pandas/sub/blob.bin"], f"ls after mv = {fs.ls('/pandas/sub')}")
check(not fs.exists("/pandas/blob.bin"), "blob.bin still there after mv")
summary = fs.content_summary("/pandas")
check(summary["fileCount"] == 2 and summary["directoryCount"] == 2, f"content summary = {summary}")
checksum = fs.ukey("/pandas/data.csv")
fs.rm("/pandas/sub", recursive=True)
check(not fs.exists("/pandas/sub"), "sub still there after rm")
check(fs.home_directory() == f"/user/{user}", f"home = {fs.home_directory()}")
try:
    fs.info("/pandas/none")
    sys.exit("FAIL: info of a missing file succeeded")
except FileNotFoundError:
    pass

print(json.dumps({
    "size": size,
    "fsspec": fsspec.__version__,
    "pandas": pd.__version__,
    "checksum": checksum,
}))
