"""The Dockerfile cannot be built here (no container engine), so it is kept correct by
construction: hadolint finds nothing in it, and its runtime stage installs (directly or through
their dependencies) the Debian packages of every shared library the built binary links."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import REPO, flotilla_bin

DOCKERFILE = REPO / "Dockerfile"
# In every Debian base image.
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def hadolint() -> str:
    here = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin" / "hadolint"
    return str(here if here.exists() else REPO / ".venv" / "bin" / "hadolint")


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([hadolint(), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def runtime_packages() -> set[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)
    final = stages[-1]
    assert "AS build" not in final.splitlines()[0], "the last stage is the runtime"
    [install] = re.findall(r"apt-get install ([^&\n]*)", final)
    return {p for p in install.split() if not p.startswith("-")}


def closure(packages: set[str]) -> set[str]:
    out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                          "--no-replaces", "--no-enhances", "--no-pre-depends", *sorted(packages)], capture_output=True, text=True, check=True).stdout
    found = set(packages)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:"):
            found.add(line.split()[1].strip("<>").split(":")[0])
        elif line and not line.startswith(("|", "<")) and ":" not in line:
            found.add(line.split(":")[0])
    return found


def test_runtime_stage_provides_every_linked_library() -> None:
    packages = runtime_packages()
    assert "ca-certificates" in packages, "TLS to git hosts and registries needs the CA bundle"
    provided = closure(packages) | BASE
    missing = []
    for line in subprocess.run(["ldd", str(flotilla_bin())], capture_output=True, text=True, check=True).stdout.splitlines():
        match = re.search(r"=> (/\S+)", line)
        if not match or "/swift" in match.group(1):  # the Swift runtime is linked statically in the image
            continue
        path = os.path.realpath(match.group(1))
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", match.group(1)], capture_output=True, text=True)
        package = owner.stdout.split(":")[0].strip()
        if package not in provided:
            missing.append(f"{match.group(1)} ({package or 'no package'})")
    assert missing == [], f"libraries the runtime stage does not install: {missing}"
