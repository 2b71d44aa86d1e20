"""Debian's docker-registry (distribution 2.8) on 127.0.0.1 for the conformance suite, without
auth; images are pushed with the registry's HTTP API (a config blob carrying the creation time and
one tiny layer), as `LocalRegistry` does for the Swift suites."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Registry":
        config = self.dir / "config.yml"
        config.write_text(
            "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.dir}/data}}}}\nhttp: {{addr: \"{self.host}\"}}\n")
        log = open(self.dir / "registry.log", "ab")
        self.process = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=log,
                                        start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {(self.dir / 'registry.log').read_text()[-500:]}")

    def stop(self) -> None:
        if self.process:
            self.process.kill()
            self.process.wait()

    def _upload(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = urllib.request.Request(f"http://{self.host}/v2/{repository}/blobs/uploads/", method="POST")
        with urllib.request.urlopen(start) as response:
            location = response.headers["Location"]
        url = (location if location.startswith("http") else f"http://{self.host}{location}")
        url += ("&" if "?" in url else "?") + f"digest={digest}"
        put = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(put).close()
        return digest

    def push(self, repository: str, tag: str, created: datetime) -> None:
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": []},
                             "created": created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
        layer = f"layer of {repository}:{tag}".encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": self._upload(repository, config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer), "digest": self._upload(repository, layer)}],
        }).encode()
        put = urllib.request.Request(f"http://{self.host}/v2/{repository}/manifests/{tag}", data=manifest, method="PUT",
                                     headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        urllib.request.urlopen(put).close()
