#!/usr/bin/env python3
"""Runs each fluxctl-like verb against the embedded default and prints the commands with their real
output, as Markdown (the README's "Day-2 operations" section is this script's output).

It starts `flotilla dev` (emulator, demo repository, two FluxInstances, the operator) in a
temporary directory, and Debian's docker-registry on a free port with four tags of `team/web`;
points the demo's web Deployment at that registry, then runs the verbs.

    swift build --product flotilla && python3 hack/day2-demo.py
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "conformance"))
from registry import Registry  # noqa: E402

BIN = Path(os.environ.get("FLOTILLA_BIN", ROOT / ".build" / "debug" / "flotilla"))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="flotilla-day2-"))
    dev = subprocess.Popen([str(BIN), "dev", "--port", "0", "--kubeconfig", str(work / "kubeconfig"), "--demo-dir", str(work / "demo")],
                           cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    registry = Registry(work / "registry").start()
    try:
        for line in dev.stdout:  # type: ignore[union-attr]
            if line.startswith("Try:"):
                break
        env = {**os.environ, "KUBECONFIG": str(work / "kubeconfig")}
        now = datetime.now(timezone.utc)
        for age, tag in [(30, "1.0.0"), (20, "1.1.0"), (10, "1.2.0"), (1, "2.0.0")]:
            registry.push("team/web", tag, now - timedelta(days=age))
        checkout = work / "demo" / "checkout"
        web = checkout / "teams" / "a" / "web.yaml"
        web.write_text(web.read_text().replace("image: nginx:1.25.3", f"image: {registry.host}/team/web:1.0.0")
                       .replace("  name: web\n", "  name: web\n  annotations:\n    fluxcd.io/tag.web: semver:~1\n", 1))
        git = ["git", "-C", str(checkout), "-c", "user.name=Dana Dev", "-c", "user.email=dana@example.com"]
        subprocess.run([*git, "commit", "-qam", "web from the team registry"], check=True)
        subprocess.run([*git, "push", "-q", "origin", "HEAD"], check=True)
        subprocess.run(["kubectl", "patch", "fluxinstance", "apps", "-n", "team-a", "--type=merge", "-p",
                        '{"spec":{"git":{"setAuthor":true},"registry":{"insecureHosts":["%s"]}}}' % registry.host],
                       env=env, check=True, capture_output=True)
        time.sleep(3)

        def show(*args: str, note: str = "") -> None:
            result = subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=120)
            out = (result.stdout + result.stderr).replace(str(work), "/tmp/demo")
            out = re.sub(r"\b[0-9a-f]{40}\b", lambda m: m.group(0)[:7] + "…", out)
            if note:
                print(note + "\n")
            print("```console\n$ flotilla " + " ".join(a if " " not in a else f"'{a}'" for a in args) + "\n" + out.rstrip("\n") + "\n```\n")

        wid = "team-a:deployment/web"
        show("list-instances", "-A")
        show("sync", "-i", "apps", "-n", "team-a")
        show("list-workloads", "-i", "apps", "-n", "team-a")
        show("list-images", "-i", "apps", "-n", "team-a", "-w", wid)
        show("release", "-i", "apps", "-n", "team-a", "-w", wid, "--update-all-images", "--dry-run")
        show("release", "-i", "apps", "-n", "team-a", "-w", wid, "--update-image", f"{registry.host}/team/web:1.1.0",
             "-m", "roll forward", "--watch")
        show("automate", "-i", "apps", "-n", "team-a", "-w", wid)
        show("lock", "-i", "apps", "-n", "team-a", "-w", wid, "-m", "holiday freeze")
        show("list-workloads", "-i", "apps", "-n", "team-a")
        show("policy", "-i", "apps", "-n", "team-a", "-w", wid, "--unlock", "--tag", "web=semver:^1")
        show("deautomate", "-i", "apps", "-n", "team-a", "-w", wid, "--context", "bob",
             note="A user without `patch` on the FluxInstance is refused by the API server:")
        # An instance of an SSH remote gets a deploy key of its own.
        subprocess.run(["kubectl", "apply", "-f", "-"], env=env, check=True, capture_output=True, text=True,
                       input='{"apiVersion":"flotilla.dev/v1alpha1","kind":"FluxInstance","metadata":{"name":"infra","namespace":"team-b"},'
                             '"spec":{"git":{"url":"ssh://git@git.example.com/org/infra.git","pollInterval":"1h","timeout":"2s"}}}')
        for _ in range(100):
            if subprocess.run([str(BIN), "identity", "-i", "infra", "-n", "team-b"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        show("identity", "-i", "infra", "-n", "team-b", note="An instance of an SSH remote has a deploy key of its own:")
        show("identity", "-i", "infra", "-n", "team-b", "--regenerate")
        log = subprocess.run(["git", "-C", str(work / "demo" / "repo.git"), "log", "-4", "--format=%h %an: %s"], capture_output=True, text=True).stdout
        print("The commits the instance pushed (author: the caller, as `setAuthor` is on):\n\n```console\n$ git log -4 --format='%h %an: %s'\n"
              + log + "```")
    finally:
        registry.stop()
        os.killpg(dev.pid, 15)
        dev.wait()


if __name__ == "__main__":
    main()
