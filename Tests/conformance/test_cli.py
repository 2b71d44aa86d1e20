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
