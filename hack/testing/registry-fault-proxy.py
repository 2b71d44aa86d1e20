#!/usr/bin/env python3
"""An HTTP proxy in front of a test registry that injects faults.

Usage: registry-fault-proxy.py PORT UPSTREAM_PORT MODE [N]
MODE: pass (forward everything), 429 (answer the first N requests 429 with Retry-After: 1, then
forward), 500 (answer the first N requests 500, then forward), hang (accept and never answer), page (serve tag lists in pages of N with `Link` headers,
as Docker Hub and GHCR do; distribution 2.8 does not paginate them). /stats (JSON) counts the requests and when each came.
"""
import json, sys, threading, time, urllib.request, urllib.error
from urllib.parse import urlparse, parse_qs
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
stats = {"requests": 0, "limited": 0, "times": []}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/stats":
            return self.reply(200, {"Content-Type": "application/json"}, json.dumps(stats).encode())
        with lock:
            stats["requests"] += 1
            stats["times"].append(time.time())
            limited = mode in ("429", "500") and stats["limited"] < limit
            if limited:
                stats["limited"] += 1
        if mode == "hang":
            time.sleep(3600)
            return
        if limited and mode == "500":
            return self.reply(500, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNKNOWN","message":"injected"}]}')
        if limited:
            return self.reply(429, {"Retry-After": "1", "Content-Type": "application/json"}, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}')
        request = urllib.request.Request(f"http://127.0.0.1:{upstream}{self.path}",
                                         headers={k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization")})
        try:
            with urllib.request.urlopen(request) as response:
                body, status, headers = response.read(), response.status, response.headers
        except urllib.error.HTTPError as e:
            body, status, headers = e.read(), e.code, e.headers
        keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "docker-content-digest", "link", "www-authenticate")}
        url = urlparse(self.path)
        if mode == "page" and status == 200 and url.path.endswith("/tags/list"):
            listing = json.loads(body)
            tags = sorted(listing.get("tags") or [])
            last = parse_qs(url.query).get("last", [""])[0]
            rest = [t for t in tags if t > last]
            page, more = rest[:limit], len(rest) > limit
            body = json.dumps({"name": listing["name"], "tags": page}).encode()
            if more:
                keep["Link"] = f'<{url.path}?n={limit}&last={page[-1]}>; rel="next"'
        self.reply(status, keep, body)

    do_HEAD = do_GET

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
