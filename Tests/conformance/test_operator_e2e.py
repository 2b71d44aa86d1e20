"""The operator end to end: the built `flotilla dev` (emulator, demo repository, two FluxInstances,
the operator in process), driven with kubectl 1.32 and 1.37 and real git, as a newcomer would."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from harness import Emulator, Kubectl, git, git_repo, wait_until




@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Overrides the suite's API-only emulator: here `flotilla dev` runs everything."""
    workdir = tmp_path_factory.mktemp("dev")
    running = Emulator(workdir, ["--demo-dir", str(workdir / "demo"), "--receiver-port", "0"], api_only=False).start()
    yield running
    running.stop()


def instances(kubectl: Kubectl) -> dict[str, dict]:
    listed = kubectl.json("get", "fluxinstances", "-A")
    return {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i for i in listed["items"]}


def ready(instance: dict) -> dict:
    return next((c for c in instance.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})


def test_demo_instances_are_ready_and_follow_commits(kubectl: Kubectl, emulator: Emulator) -> None:
    checkout = emulator.workdir / "demo" / "checkout"
    head = git("rev-parse", "HEAD", cwd=checkout)
    wait_until("both demo instances Ready at the head", lambda: all(
        ready(i).get("status") == "True" and i["status"].get("lastAppliedRevision") == head for i in instances(kubectl).values())
        and len(instances(kubectl)) == 2, timeout=30)
    table = kubectl.run("get", "fluxinstances", "-A").lines
    assert table[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "REVISION", "BEHIND", "HEALTH", "AGE"]
    for row in table[1:]:
        cells = row.split()
        # team-a waits for its Deployment to roll out (spec.sync.wait): Ready means healthy.
        assert cells[2:7] == ["True", "Synced", head[:7], "0", "Healthy"], row
    config = checkout / "teams" / "a" / "config.yaml"
    in_git = config.read_text().split("greeting: ", 1)[1].strip()
    assert kubectl.json("get", "configmap", "settings", "-n", "team-a")["data"]["greeting"] == in_git

    # A commit to the demo repository is applied within seconds, and BEHIND is back to 0.
    value = f"changed by {kubectl.label}"
    config.write_text(config.read_text().replace(in_git, value))
    git("commit", "-qam", f"change from {kubectl.label}", cwd=checkout)
    git("push", "-q", "origin", "main", cwd=checkout)
    new_head = git("rev-parse", "HEAD", cwd=checkout)
    started = time.monotonic()
    wait_until("the new commit applied", lambda: kubectl.json("get", "configmap", "settings", "-n", "team-a")["data"]["greeting"] == value,
               timeout=20)
    wait_until("team-a reports the new revision", lambda: instances(kubectl)["team-a/apps"]["status"].get("lastAppliedRevision") == new_head,
               timeout=20)
    assert time.monotonic() - started < 15
    status = instances(kubectl)["team-a/apps"]["status"]
    assert status["behind"] == 0
    events = kubectl.json("get", "events", "-n", "team-a")["items"]
    assert any(e["reason"] == "Synced" and e["message"].startswith(f"Applied revision {new_head[:12]}")
               and e["involvedObject"]["kind"] == "FluxInstance" for e in events), events


def test_forbidden_namespace_and_deletion(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    # A repository with an object outside the instance's namespace.
    repo = git_repo(tmp_path / "repo", {"ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {k: v}\n",
                                         "bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad, namespace: kube-system}\ndata: {k: v}\n"})
    namespace = f"e2e-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    instance = {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "tenant", "namespace": namespace},
                "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "sync": {"deletionPolicy": "Delete"}}}
    kubectl.apply(instance)

    def reason() -> str:
        return ready(kubectl.json("get", "fli", "tenant", "-n", namespace)).get("reason", "")

    wait_until("Forbidden", lambda: reason() == "Forbidden", timeout=20)
    got = kubectl.json("get", "fli", "tenant", "-n", namespace)
    assert "bad.yaml:1: kube-system:configmap/bad is in namespace kube-system" in got["status"]["lastError"]
    assert kubectl.run("get", "configmap", "ok", "-n", namespace, check=False).returncode != 0, "nothing applied"

    # Fixed in git: applied; then deleting the instance with deletionPolicy Delete removes its objects.
    (repo / "bad.yaml").unlink()
    git("commit", "-qam", "drop the forbidden object", cwd=repo)
    wait_until("Synced", lambda: reason() == "Synced", timeout=20)
    assert kubectl.json("get", "configmap", "ok", "-n", namespace)["data"] == {"k": "v"}
    kubectl.run("delete", "fluxinstance", "tenant", "-n", namespace, "--wait=true", "--timeout=30s")
    wait_until("the instance's objects deleted",
               lambda: kubectl.run("get", "configmap", "ok", "-n", namespace, check=False).returncode != 0, timeout=20)


def test_sigterm_stops_the_operator_and_the_emulator(emulator: Emulator) -> None:
    """Last in this module: Ctrl-C / SIGTERM ends `flotilla dev` promptly and cleanly."""
    started = time.monotonic()
    code = emulator.stop()
    assert not emulator.killed, f"still running 10 s after SIGTERM\n{emulator.log_tail()}"
    assert code == 0
    assert time.monotonic() - started < 10
