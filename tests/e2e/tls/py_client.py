"""An HTTPS client on Python's ssl module: urllib requests (certificate not
verified), one connection each.
Usage: py_client.py PORT [--wait] REQ...   (REQ: /path for GET, POST:/path)
With --wait it prints "ready" and starts after a line on stdin.
Prints "STATUS BODYSIZE" per request.
"""
import ssl
import sys
import urllib.error
import urllib.request

args = sys.argv[1:]
port = int(args.pop(0))
if args and args[0] == "--wait":
    args.pop(0)
    print("ready", flush=True)
    sys.stdin.readline()
ctx = ssl._create_unverified_context()
for spec in args:
    data = None
    if spec.startswith("POST:"):
        spec, data = spec[5:], b"py=1&x=2"
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{spec}", data=data, context=ctx, timeout=20) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    print(status, len(body), flush=True)
