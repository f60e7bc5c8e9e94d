#!/usr/bin/python3
"""Alertmanager webhook receiver for the lab.

Appends every notification body (JSON), one per line, to the output file.
GET / answers 200 with the number of notifications received (a health check).

usage: webhook.py --listen 127.0.0.1:9095 --out STATE/notifications.jsonl
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNT = 0


def make_handler(out_path):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            global COUNT
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {"invalid_json": body.decode("utf-8", "replace"), "path": self.path}
            line = json.dumps(doc, separators=(",", ":"), sort_keys=True)
            with LOCK:
                with open(out_path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
                COUNT += 1
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok\n")

        def do_GET(self):
            body = f"notifications {COUNT}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write("webhook %s %s\n" % (self.address_string(), fmt % args))

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:9095")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    open(args.out, "a").close()
    srv = ThreadingHTTPServer((host or "127.0.0.1", int(port)), make_handler(args.out))
    sys.stderr.write(f"webhook listening on {args.listen}, writing {args.out}\n")
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
