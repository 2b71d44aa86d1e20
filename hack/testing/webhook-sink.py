#!/usr/bin/env python3
"""A loopback HTTP endpoint that records every request (method, path, headers, body) as a JSON
line, for notification tests. Modes: ok (200), fail (500), hang (never answers).

usage: webhook-sink.py PORT LOGFILE [ok|fail|hang]"""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG = int(sys.argv[1]), sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "ok"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        with open(LOG, "a") as f:
            f.write(json.dumps({"method": "POST", "path": self.path, "headers": dict(self.headers.items()),
                                "body": body.decode("utf-8", "replace")}) + "\n")
        if MODE == "hang":
            time.sleep(3600)
        status = 200 if MODE == "ok" else 500
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
