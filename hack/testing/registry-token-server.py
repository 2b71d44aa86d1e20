#!/usr/bin/env python3
"""A registry token server for tests (the Docker token auth flow, RS256 JWTs).

Usage: registry-token-server.py PORT KEY_PEM CERT_PEM ISSUER USER:PASSWORD
Grants what is asked on any repository to USER:PASSWORD (Basic); anonymous and wrong credentials get 401.
Tokens carry the certificate in `x5c`, which distribution 2.8 verifies against its
`rootcertbundle`. Every request is counted in /stats (JSON).
"""
import base64, json, sys, time, threading, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography import x509

port, key_path, cert_path, issuer, userpass = sys.argv[1:6]
key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
cert_der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
stats = {"requests": 0}
lock = threading.Lock()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/stats":
            return self.reply(200, stats)
        with lock:
            stats["requests"] += 1
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic ") or base64.b64decode(auth[6:]).decode() != userpass:
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        query = parse_qs(url.query)
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [cert_der]}
        claims = {"iss": issuer, "sub": userpass.split(":")[0], "aud": query.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        self.reply(200, {"token": signing_input + "." + b64url(signature), "expires_in": 300})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
