#!/usr/bin/env python3
"""A small SOPS encoder for age recipients, written from SOPS's published file format and
independent of Flotilla's decoder, for tests. Every scalar the rules select is encrypted with
AES-256-GCM under a fresh data key (a 32-byte nonce, the value's path joined with ':' plus ':' as
additional data, `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`); the MAC is the SHA-512 of every
value in file order (booleans as True/False), encrypted with `lastmodified` as additional data;
the data key is encrypted to each recipient by Debian's `age -a`.

usage: sops-age-encrypt.py RECIPIENT [--encrypted-regex RE] < plain.yaml > encrypted.yaml
Several YAML documents in, as many out."""

import base64
import hashlib
import os
import re
import subprocess
import sys
from datetime import datetime, timezone

import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def enc(key: bytes, plain: bytes, aad: str, kind: str) -> str:
    iv = os.urandom(32)
    sealed = AESGCM(key).encrypt(iv, plain, aad.encode())
    data, tag = sealed[:-16], sealed[-16:]
    b64 = lambda b: base64.b64encode(b).decode()
    return f"ENC[AES256_GCM,data:{b64(data)},iv:{b64(iv)},tag:{b64(tag)},type:{kind}]"


def to_bytes(value) -> tuple[bytes, str]:
    if isinstance(value, bool):
        return (b"True" if value else b"False"), "bool"
    if isinstance(value, int):
        return str(value).encode(), "int"
    if isinstance(value, float):
        return repr(value).encode(), "float"
    return str(value).encode(), "str"


def walk(node, path, key, mac, rule):
    if isinstance(node, dict):
        return {k: walk(v, path + [str(k)], key, mac, rule) for k, v in node.items()}
    if isinstance(node, list):
        return [walk(v, path, key, mac, rule) for v in node]
    plain, kind = to_bytes(node)
    mac.update(plain)
    if rule is not None and not any(re.search(rule, p) for p in path):
        return node
    return enc(key, plain, ":".join(path) + ":", kind)


def main() -> None:
    recipient = sys.argv[1]
    rule = sys.argv[sys.argv.index("--encrypted-regex") + 1] if "--encrypted-regex" in sys.argv else None
    out = []
    for doc in yaml.safe_load_all(sys.stdin):
        key = os.urandom(32)
        mac = hashlib.sha512()
        encrypted = walk(doc, [], key, mac, rule)
        modified = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        wrapped = subprocess.run(["age", "-a", "-r", recipient], input=key, capture_output=True, check=True).stdout.decode()
        encrypted["sops"] = {"age": [{"recipient": recipient, "enc": wrapped}], "lastmodified": modified,
                             "mac": enc(key, mac.hexdigest().upper().encode(), modified, "str"), "version": "3.8.1"}
        if rule is not None:
            encrypted["sops"]["encrypted_regex"] = rule
        out.append(yaml.safe_dump(encrypted, sort_keys=False, default_flow_style=False))
    sys.stdout.write("---\n".join(out))


main()
