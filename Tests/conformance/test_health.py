"""Health and drift through the built binary: `flotilla dev --api-only --workloads true` rolls
Deployments out (or never, for an image on a `.invalid` registry), `flotilla run` assesses what it
applied, holds Ready with `spec.sync.wait`, and reports and corrects drift made with kubectl."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from harness import Emulator, Kubectl, Operator, apply_flux_crd, git, git_repo, wait_until
from test_cli import flotilla


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    running = Emulator(tmp_path_factory.mktemp("emulator"), ["--workloads", "true", "--workload-start-seconds", "1"]).start()
    yield running
    running.stop()


def deployment(name: str, image: str) -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: 2\n"
            f"  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec: {{containers: [{{name: app, image: \"{image}\"}}]}}\n")


def instance(kubectl: Kubectl, namespace: str, repo: Path, sync: dict) -> None:
    kubectl.run("create", "namespace", namespace)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1h"}, "sync": {"interval": "1h", **sync}}})


def conditions(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    status = kubectl.json("get", "fluxinstance", "apps", "-n", namespace).get("status", {})
    return {c["type"]: f"{c['status']}/{c.get('reason', '')}" for c in status.get("conditions", [])}


def test_wait_for_a_rollout(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    repo = git_repo(tmp_path / "repo", {"web.yaml": deployment("web", "nginx:1.25")})
    namespace = f"wait-{kubectl.label.replace('.', '-')}"
    instance(kubectl, namespace, repo, {"wait": True, "healthTimeout": "1m"})
    seen: list[str] = []

    def rolled_out() -> bool:
        row = kubectl.run("get", "fluxinstance", "apps", "-n", namespace, "--no-headers").stdout.split()
        seen.append(" ".join(row[1:6]))
        return conditions(kubectl, namespace).get("Ready") == "True/Synced"

    wait_until("rolled out", rolled_out, timeout=30)
    # NAME READY STATUS REVISION BEHIND HEALTH AGE: Unknown/Progressing while rolling out, then Healthy.
    assert any(r.startswith("Unknown Progressing") and r.endswith("Progressing") for r in seen), seen
    final = " ".join(kubectl.run("get", "fluxinstance", "apps", "-n", namespace, "--no-headers").stdout.split()[1:6])
    assert final.startswith("True Synced") and final.endswith("Healthy"), final
    header = kubectl.run("get", "fluxinstance", "apps", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "STATUS", "REVISION", "BEHIND", "HEALTH", "AGE"]
    assert conditions(kubectl, namespace)["Healthy"] == "True/Healthy"
    assert kubectl.json("get", "deploy", "web", "-n", namespace)["status"]["readyReplicas"] == 2

    # A new image that can never be pulled: flotilla sync --wait-health fails naming the Deployment.
    (repo / "web.yaml").write_text(deployment("web", "registry.invalid/web:2"))
    git("commit", "-qam", "broken image", cwd=repo)
    kubectl.run("patch", "fluxinstance", "apps", "-n", namespace, "--type", "merge", "-p", '{"spec": {"sync": {"healthTimeout": "3s"}}}')
    result = flotilla(emulator, "sync", "-i", "apps", "-n", namespace, "--wait-health", "--timeout", "40s")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is not healthy" in result.stderr and f"{namespace}:deployment/web" in result.stderr, result.stderr
    wait_until("HealthCheckFailed", lambda: conditions(kubectl, namespace).get("Ready") == "False/HealthCheckFailed", timeout=20)
    described = kubectl.run("describe", "fluxinstance", "apps", "-n", namespace).stdout
    assert "HealthCheckFailed" in described and f"{namespace}:deployment/web" in described
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "reason=HealthCheckFailed")["items"]
    assert events and events[0]["type"] == "Warning"

    # The fix: healthy again, and the CLI says so.
    (repo / "web.yaml").write_text(deployment("web", "nginx:1.26"))
    git("commit", "-qam", "fix", cwd=repo)
    fixed = flotilla(emulator, "sync", "-i", "apps", "-n", namespace, "--wait-health", "--timeout", "40s")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert re.search(r"Revision [0-9a-f]{7} is healthy \(1 objects\)\.", fixed.stdout), fixed.stdout


def test_drift_reported_and_corrected(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    namespace = f"drift-{kubectl.label.replace('.', '-')}"
    instance(kubectl, namespace, repo, {"driftCorrection": "report"})
    wait_until("synced", lambda: conditions(kubectl, namespace).get("Ready") == "True/Synced", timeout=30)
    kubectl.run("patch", "configmap", "app", "-n", namespace, "--type", "merge", "-p", '{"data": {"k": "by-hand"}}')
    kubectl.run("label", "configmap", "app", "-n", namespace, "debug=on")

    def drift() -> dict:
        return kubectl.json("get", "fluxinstance", "apps", "-n", namespace).get("status", {}).get("drift") or {}

    assert flotilla(emulator, "sync", "-i", "apps", "-n", namespace, "--timeout", "30s").returncode == 0
    wait_until("drift reported", lambda: drift().get("count") == 1, timeout=20)
    [entry] = drift()["objects"]
    assert entry == {"object": f"{namespace}:configmap/app", "drift": "data.k changed; fields added by kubectl-label, kubectl-patch", "corrected": False}
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "by-hand"}, "report touches nothing"
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "reason=DriftDetected")["items"]
    assert events and "not corrected" in events[0]["message"]
    status, metrics = operator.http("/metrics")
    assert status == 200
    assert re.search(rf'flotilla_drifted_objects\{{[^}}]*namespace="{namespace}"[^}}]*\}} 1', metrics), metrics[-2000:]

    # Switch to revertIncludingAddedFields: the value comes back and the label goes.
    kubectl.run("patch", "fluxinstance", "apps", "-n", namespace, "--type", "merge", "-p", '{"spec": {"sync": {"driftCorrection": "revertIncludingAddedFields"}}}')
    wait_until("corrected", lambda: kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}, timeout=20)
    assert "debug" not in kubectl.json("get", "cm", "app", "-n", namespace)["metadata"].get("labels", {})
