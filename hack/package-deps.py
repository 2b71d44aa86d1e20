#!/usr/bin/env python3
"""Checks that every target in Package.swift lists exactly the modules its Swift files import:
nothing missing (a transitive dependency that happens to be visible) and nothing unused.
Tests/conformance/test_docs.py runs it; `--write` rewrites the dependency lists.

    python3 hack/package-deps.py          # exit 1 and a diff when a list drifts
    python3 hack/package-deps.py --write  # make them so
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "Package.swift"

# Modules of the platform: never listed.
PLATFORM = {"Foundation", "FoundationEssentials", "Glibc", "Dispatch", "Synchronization", "Testing", "XCTest"}
# Modules of package products: module -> (product, package).
PRODUCTS = {
    "ArgumentParser": ("ArgumentParser", "swift-argument-parser"),
    "AsyncHTTPClient": ("AsyncHTTPClient", "async-http-client"),
    "Crypto": ("Crypto", "swift-crypto"),
    "HTTPTypes": ("HTTPTypes", "swift-http-types"),
    "Hummingbird": ("Hummingbird", "hummingbird"),
    "HummingbirdTLS": ("HummingbirdTLS", "hummingbird"),
    "Mustache": ("Mustache", "swift-mustache"),
    "Logging": ("Logging", "swift-log"),
    "Metrics": ("Metrics", "swift-metrics"),
    "NIOCore": ("NIOCore", "swift-nio"),
    "NIOHTTP1": ("NIOHTTP1", "swift-nio"),
    "NIOPosix": ("NIOPosix", "swift-nio"),
    "NIOSSH": ("NIOSSH", "swift-nio-ssh"),
    "NIOSSL": ("NIOSSL", "swift-nio-ssl"),
    "Prometheus": ("Prometheus", "swift-prometheus"),
    "ServiceLifecycle": ("ServiceLifecycle", "swift-service-lifecycle"),
    "UnixSignals": ("UnixSignals", "swift-service-lifecycle"),
    "SwiftASN1": ("SwiftASN1", "swift-asn1"),
    "X509": ("X509", "swift-certificates"),
}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_spi\(\w+\)\s+)*import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?(\w+)", re.M)
TARGET = re.compile(r"\.(target|testTarget|executableTarget)\(\s*name:\s*\"([^\"]+)\"")


def imports(name: str, kind: str) -> set[str]:
    directory = ROOT / ("Tests" if kind == "testTarget" else "Sources") / name
    found: set[str] = set()
    for file in directory.rglob("*.swift"):
        found |= set(IMPORT.findall(file.read_text()))
    return found - PLATFORM - {name}


def rendered(modules: set[str], indent: str) -> str:
    local = sorted(m for m in modules if m not in PRODUCTS)
    products = sorted((PRODUCTS[m] for m in modules if m in PRODUCTS), key=lambda p: (p[1], p[0]))
    items = [f'"{m}"' for m in local] + [f'.product(name: "{p}", package: "{k}")' for p, k in products]
    if not items:
        return "[]"
    return "[\n" + "".join(f"{indent}    {item},\n" for item in items) + f"{indent}]"


def main() -> int:
    text = PACKAGE.read_text()
    out, position, drift = [], 0, []
    for match in TARGET.finditer(text):
        kind, name = match.group(1), match.group(2)
        start = match.end()
        following = re.match(r",\s*\n(\s*)dependencies:\s*\[", text[start:])
        wanted = imports(name, kind)
        if not following:
            if wanted:
                drift.append(f"{name}: no dependencies listed, imports {sorted(wanted)}")
            continue
        indent = following.group(1)
        open_at = start + following.end() - 1
        depth, close_at = 0, open_at
        for i in range(open_at, len(text)):
            depth += {"[": 1, "]": -1}.get(text[i], 0)
            if depth == 0:
                close_at = i
                break
        listed = set(re.findall(r'^\s*"(\w+)"', text[open_at + 1:close_at], re.M)) | set(re.findall(r'"(\w+)"[,\]]', text[open_at:close_at + 1])) \
            | set(re.findall(r'\.product\(name:\s*"(\w+)"', text[open_at:close_at]))
        listed -= {p[1] for p in PRODUCTS.values()}
        if listed != wanted:
            drift.append(f"{name}: lists {sorted(listed - wanted)} it does not import, misses {sorted(wanted - listed)}")
        out.append(text[position:open_at])
        out.append(rendered(wanted, indent))
        position = close_at + 1
    out.append(text[position:])
    if "--write" in sys.argv:
        PACKAGE.write_text("".join(out))
        return 0
    for line in drift:
        print(line)
    return 1 if drift else 0


if __name__ == "__main__":
    sys.exit(main())
