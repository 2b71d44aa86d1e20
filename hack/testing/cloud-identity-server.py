#!/usr/bin/env python3
"""Loopback stand-ins for the cloud identity endpoints that have no server here, each following
the provider's documented protocol and refusing requests that do not:

  gce      the GCE metadata server's token endpoint (GKE Workload Identity answers there):
           GET /computeMetadata/v1/instance/service-accounts/default/token with
           `Metadata-Flavor: Google`; answers with that header and {access_token, expires_in}.
  azure    Entra ID's token endpoint (POST /<tenant>/oauth2/v2.0/token, client credentials with
           a jwt-bearer client assertion) and an ACR's /oauth2/exchange (grant_type=access_token);
           every other request is proxied to the registry behind (--registry).
  aws-container
           the container credentials endpoint (EKS Pod Identity): GET with the Authorization
           token; answers {AccessKeyId, SecretAccessKey, Token, Expiration}.
  garbage  answers 200 with a body that is not JSON, to every request.

usage: cloud-identity-server.py MODE PORT [key=value ...]
  gce:           token=ACCESS_TOKEN
  azure:         tenant=T client=C assertion=JWT access=AAD_TOKEN refresh=ACR_REFRESH registry=http://127.0.0.1:P
  aws-container: auth=TOKEN key=ACCESS_KEY_ID secret=SECRET session=SESSION_TOKEN
Requests are logged to stderr, one line each (path and verdict, never a token)."""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, PORT = sys.argv[1], int(sys.argv[2])
ARGS = dict(a.split("=", 1) for a in sys.argv[3:])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        sys.stderr.write(f"{self.command} {self.path.split('?')[0]} -> {status}\n")

    def form(self):
        length = int(self.headers.get("Content-Length", "0"))
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

    def do_GET(self):
        if MODE == "garbage":
            return self.reply(200, b"<html>not json</html>", {"Metadata-Flavor": "Google"})
        if MODE == "gce":
            if self.path.split("?")[0] != "/computeMetadata/v1/instance/service-accounts/default/token":
                return self.reply(404, {"error": "not found"})
            if self.headers.get("Metadata-Flavor") != "Google":
                return self.reply(403, {"error": "missing Metadata-Flavor: Google"})
            return self.reply(200, {"access_token": ARGS["token"], "expires_in": 3599, "token_type": "Bearer"}, {"Metadata-Flavor": "Google"})
        if MODE == "aws-container":
            if self.headers.get("Authorization") != ARGS["auth"]:
                return self.reply(401, {"message": "bad authorization token"})
            return self.reply(200, {"AccessKeyId": ARGS["key"], "SecretAccessKey": ARGS["secret"], "Token": ARGS["session"],
                                    "Expiration": "2099-01-01T00:00:00Z"})
        if MODE == "azure":
            return self.proxy()
        self.reply(404, {"error": "unknown mode"})

    def do_HEAD(self):
        self.proxy() if MODE == "azure" else self.reply(404, b"")

    def do_PUT(self):
        self.do_POST()

    def do_POST(self):
        if MODE == "garbage":
            return self.reply(200, b"not json")
        if MODE != "azure":
            return self.reply(405, {"error": "method not allowed"})
        path = self.path.split("?")[0]
        if path == f"/{ARGS['tenant']}/oauth2/v2.0/token":
            f = self.form()
            wanted = {"grant_type": "client_credentials", "client_id": ARGS["client"],
                      "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                      "client_assertion": ARGS["assertion"]}
            wrong = [k for k, v in wanted.items() if f.get(k) != v]
            if wrong or not f.get("scope", "").endswith("/.default"):
                return self.reply(400, {"error": "invalid_client", "error_description": "AADSTS700016: wrong " + ",".join(wrong or ["scope"])})
            return self.reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": ARGS["access"]})
        if path == "/oauth2/exchange":
            f = self.form()
            if f.get("grant_type") != "access_token" or f.get("access_token") != ARGS["access"] or f.get("tenant") != ARGS["tenant"] or not f.get("service"):
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad exchange"}]})
            return self.reply(200, {"refresh_token": ARGS["refresh"]})
        self.proxy()

    def proxy(self):
        """The rest of an ACR: the registry API, served by the docker-registry behind."""
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else None
        request = urllib.request.Request(ARGS["registry"] + self.path, data=body, method=self.command)
        for k in ("Authorization", "Accept", "Content-Type"):
            if self.headers.get(k):
                request.add_header(k, self.headers[k])
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                status, headers, data = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, e.headers, e.read()
        passed = {k: v for k, v in headers.items() if k.lower() in ("content-type", "docker-content-digest", "www-authenticate", "link")}
        self.reply(status, data, passed)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
