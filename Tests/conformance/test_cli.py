"""The fluxctl-like verbs of the built `flotilla` binary, run as a user would: with the user's
kubeconfig against `flotilla dev --api-only` and a running `flotilla run`, so the caller's RBAC
decides what they see."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from harness import Emulator, Kubectl, Operator, apply_flux_crd, flotilla_bin, git_repo, wait_until


def flotilla(emulator: Emulator, *args: str, context: str | None = None) -> subprocess.CompletedProcess:
    cmd = [str(flotilla_bin()), *args, "--kubeconfig", str(emulator.kubeconfig)]
    if context:
        cmd += ["--context", context]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_list_instances(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    namespace = f"cli-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}}})

    def listed() -> list[dict]:
        result = flotilla(emulator, "list-instances", "-n", namespace, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    wait_until("Synced in list-instances", lambda: listed() and listed()[0].get("reason") == "Synced", timeout=30)
    [row] = listed()
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert row["name"] == "apps" and row["namespace"] == namespace
    assert row["ready"] is True and row["revision"] == head and row["behind"] == 0
    assert row["url"] == f"file://{repo}"
    assert set(row) == {"name", "namespace", "url", "ready", "reason", "message", "revision", "head", "behind", "lastSyncTime"}

    as_yaml = flotilla(emulator, "list-instances", "-n", namespace, "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == listed()

    table = flotilla(emulator, "list-instances", "-A").stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "REVISION", "BEHIND", "LAST", "SYNC"]
    mine = next(line.split() for line in table[1:] if line.split()[0] == namespace)
    assert mine[1:6] == ["apps", "True", "Synced", head[:7], "0"]

    empty = flotilla(emulator, "list-instances", "-n", "kube-public")
    assert empty.returncode == 0 and "No FluxInstances found in namespace kube-public." in empty.stdout

    # bob has no RBAC on FluxInstances: refused with the server's reason, exit 1, nothing on stdout.
    refused = flotilla(emulator, "list-instances", "-n", namespace, context="bob")
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert f"you may not list FluxInstances in namespace {namespace}" in refused.stderr
    assert 'User "bob" cannot list resource "fluxinstances"' in refused.stderr


def test_sync_and_identity(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    namespace = f"sync-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    # Polls once an hour: only the sync request can bring the next commit in quickly.
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1h"}, "sync": {"interval": "1h"}}})
    wait_until("first sync", lambda: kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}
               if kubectl.run("get", "cm", "-n", namespace, "-o", "name").stdout.strip() else False, timeout=30)

    (repo / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: two}\n")
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "two"], check=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e", "PATH": "/usr/bin:/bin"})
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = flotilla(emulator, "sync", "-i", "apps", "-n", namespace, "--timeout", "30s")
    assert result.returncode == 0, result.stderr
    assert f"Revision {head[:7]} applied" in result.stdout
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "two"}

    refused = flotilla(emulator, "sync", "-i", "apps", "-n", namespace, context="bob")
    assert refused.returncode == 1
    assert f"you may not ask FluxInstance {namespace}/apps to sync" in refused.stderr

    missing = flotilla(emulator, "sync", "-i", "nope", "-n", namespace)
    assert missing.returncode == 1 and f"FluxInstance {namespace}/nope not found" in missing.stderr

    # A sync that fails (the path is gone) exits 1 with the instance's error.
    kubectl.run("patch", "fli", "apps", "-n", namespace, "--type=merge", "-p", '{"spec":{"git":{"paths":["missing"]}}}')
    failed = flotilla(emulator, "sync", "-i", "apps", "-n", namespace, "--timeout", "30s")
    assert failed.returncode == 1
    assert "failed to apply its head revision" in failed.stderr and "missing" in failed.stderr

    # identity: a file:// instance has no deploy key; an SSH one gets a generated key, public part only.
    none = flotilla(emulator, "identity", "-i", "apps", "-n", namespace)
    assert none.returncode == 1 and "has no deploy key" in none.stderr
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "ssh", "namespace": namespace},
                   "spec": {"git": {"url": "ssh://git@127.0.0.1:1/repo.git", "pollInterval": "1h", "timeout": "2s"}}})

    def key() -> str:
        r = flotilla(emulator, "identity", "-i", "ssh", "-n", namespace)
        return r.stdout.strip() if r.returncode == 0 else ""

    wait_until("deploy key generated", lambda: key().startswith("ssh-ed25519 "), timeout=30)
    assert key() == kubectl.json("get", "fli", "ssh", "-n", namespace)["status"]["identity"]["publicKey"]
    as_json = json.loads(flotilla(emulator, "identity", "-i", "ssh", "-n", namespace, "-o", "json").stdout)
    assert as_json == {"publicKey": key(), "gitHost": "127.0.0.1"}
    assert "PRIVATE KEY" not in flotilla(emulator, "identity", "-i", "ssh", "-n", namespace, "-o", "yaml").stdout
