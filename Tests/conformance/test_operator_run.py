"""`flotilla run` as a separate process against `flotilla dev --api-only`, driven with kubectl:
install the CRD, apply a FluxInstance, suspend and resume it, request a reconcile, restart the
operator (no duplicate work), delete with the Orphan policy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from harness import Emulator, Kubectl, flotilla_bin, git, wait_until

CRD = Path(__file__).resolve().parents[2] / "crds" / "fluxinstances.flotilla.dev.yaml"




class Operator:
    """A `flotilla run` process (stopped with SIGTERM)."""

    def __init__(self, emulator: Emulator, workdir: Path):
        self.log = workdir / "operator.log"
        self.args = [str(flotilla_bin()), "run", "--kubeconfig", str(emulator.kubeconfig), "--work-dir", str(workdir / "instances"),
                     "--log-level", "info"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Operator":
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"flotilla run ignored SIGTERM:\n{self.log.read_text()[-3000:]}", pytrace=False)
        self.process = None
        return code


@pytest.fixture
def operator(emulator: Emulator, tmp_path: Path) -> Iterator[Operator]:
    running = Operator(emulator, tmp_path).start()
    yield running
    if running.process is not None:
        running.stop()


def test_run_lifecycle(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    kubectl.run("apply", "-f", str(CRD))
    wait_until("fluxinstances served", lambda: kubectl.run("get", "fluxinstances", "-A", check=False).returncode == 0)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n")
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "one", cwd=repo)
    namespace = f"run-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "sync": {"interval": "1h"}}})

    def instance() -> dict:
        return kubectl.json("get", "fli", "apps", "-n", namespace)

    def reason() -> str:
        return next((c["reason"] for c in instance().get("status", {}).get("conditions", []) if c["type"] == "Ready"), "")

    wait_until("Synced", lambda: reason() == "Synced", timeout=30)
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}

    # Suspend: a new commit is not applied; resume: it is.
    kubectl.run("patch", "fli", "apps", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_until("Suspended", lambda: reason() == "Suspended")
    (repo / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: two}\n")
    git("commit", "-qam", "two", cwd=repo)
    time.sleep(3)
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}
    kubectl.run("patch", "fli", "apps", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_until("resumed and applied", lambda: kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "two"}, timeout=20)

    # A reconcile request corrects drift at once (the sync interval is an hour).
    kubectl.run("patch", "cm", "app", "-n", namespace, "--type=merge", "-p", '{"data":{"k":"drifted"}}')
    kubectl.run("annotate", "--overwrite", "fli", "apps", "-n", namespace, "flotilla.dev/reconcile-requested-at=first")
    wait_until("drift corrected", lambda: kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "two"}, timeout=20)

    # Restart: the applied revision is recovered from the status; no new sync.
    wait_until("Synced", lambda: reason() == "Synced")
    synced_at = instance()["status"]["lastSyncTime"]
    assert operator.stop() == 0
    time.sleep(1.1)
    operator.start()
    time.sleep(4)
    assert instance()["status"]["lastSyncTime"] == synced_at
    assert "reconciler started" in operator.log.read_text()

    # Delete with the default Orphan policy: the FluxInstance goes, its objects stay.
    kubectl.run("delete", "fli", "apps", "-n", namespace, "--timeout=30s")
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "two"}
    assert kubectl.run("get", "cm", "flotilla-inventory-apps", "-n", namespace, check=False).returncode != 0
