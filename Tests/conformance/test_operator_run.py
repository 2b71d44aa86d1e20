"""`flotilla run` as a separate process against `flotilla dev --api-only`, driven with kubectl:
install the CRD, apply a FluxInstance, suspend and resume it, request a reconcile, restart the
operator (no duplicate work), delete with the Orphan policy."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import signal
import time
from pathlib import Path

import pytest

from harness import Emulator, Kubectl, Operator, apply_flux_crd, git, git_repo, wait_until


def test_run_lifecycle(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
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


def metric(text: str, name: str, /, **labels: str) -> float | None:
    """The value of one series in Prometheus text format (None when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series == name and not labels:
            return float(value)
        if series.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', series[len(name):]))
            if all(found.get(k) == v for k, v in labels.items()) and set(found) == set(labels):
                return float(value)
    return None


def test_metrics_and_probes_follow_a_sync(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    wait_until("metrics address logged", lambda: "address=127.0.0.1:" in operator.log.read_text(), timeout=10)
    assert operator.http("/healthz") == (200, "ok\n")
    apply_flux_crd(kubectl)
    wait_until("ready once the informers are synced", lambda: operator.http("/readyz")[0] == 200, timeout=20)

    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    namespace = f"metrics-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "sync": {"interval": "1h"}}})
    ours = {"namespace": namespace, "name": "apps"}

    def scrape() -> str:
        status, text = operator.http("/metrics")
        assert status == 200
        return text

    wait_until("first sync counted", lambda: (metric(scrape(), "flotilla_syncs_total", **ours, result="success") or 0) >= 1, timeout=30)
    # The status (and with it the readiness gauge) is written right after the sync is counted.
    wait_until("counted Ready", lambda: (metric(scrape(), "flotilla_instances", ready="true") or 0) >= 1, timeout=10)
    text = scrape()
    assert metric(text, "flotilla_objects_applied_total", **ours) == 1
    assert (metric(text, "flotilla_sync_duration_seconds_count", **ours) or 0) >= 1
    assert (metric(text, "flotilla_git_fetch_duration_seconds_count", **ours) or 0) >= 1
    syncs = metric(text, "flotilla_syncs_total", **ours, result="success")

    # A new commit: one more sync, one more object applied (the changed ConfigMap).
    (repo / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: two}\n")
    git("commit", "-qam", "two", cwd=repo)
    wait_until("second sync counted", lambda: (metric(scrape(), "flotilla_objects_applied_total", **ours) or 0) == 2, timeout=30)
    assert (metric(scrape(), "flotilla_syncs_total", **ours, result="success") or 0) > syncs

    # The instance goes: so do its series.
    kubectl.run("delete", "fli", "apps", "-n", namespace, "--timeout=30s")
    wait_until("series removed", lambda: metric(scrape(), "flotilla_syncs_total", **ours, result="success") is None, timeout=20)


def test_json_logs_carry_instance_revision_and_pass(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    """`--log-format json`: one JSON object per line; the lines of a sync name the instance, the
    revision and the reconcile pass; no line carries a Secret's value."""
    apply_flux_crd(kubectl)
    operator = Operator(emulator, tmp_path)
    operator.args += ["--log-format", "json"]
    operator.start()
    try:
        repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
        namespace = f"logs-{kubectl.label.replace('.', '-')}"
        kubectl.run("create", "namespace", namespace)
        kubectl.run("create", "secret", "generic", "git", "-n", namespace, "--from-literal=username=u", "--from-literal=password=planted-s3cret-value")
        kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                       "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s", "secretRef": {"name": "git"}}, "sync": {"interval": "1h"}}})
        head = git("rev-parse", "HEAD", cwd=repo)
        ours = f"{namespace}/apps"

        def lines() -> list[dict]:
            return [json.loads(line) for line in operator.log.read_text().splitlines() if line.strip()]

        wait_until("status logged", lambda: any(l.get("instance") == ours and l["message"] == "status" for l in lines()), timeout=30)
        records = lines()
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
        [status] = [r for r in records if r.get("instance") == ours and r["message"] == "status"]
        assert status["revision"] == head[:12] and len(status["reconcile"]) == 8 and status["reason"] == "Synced"
        assert "planted-s3cret-value" not in operator.log.read_text()
    finally:
        operator.stop()


def test_sigint_stops_gracefully_and_releases_the_lease(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    """`flotilla run` is one service group: on SIGINT (as on SIGTERM) the supervisor stops its
    reconcilers, the elector gives the Lease back for a successor, the endpoint closes, exit 0."""
    apply_flux_crd(kubectl)
    lease = f"sigint-{kubectl.label.replace('.', '-')}"
    operator = Operator(emulator, tmp_path)
    operator.args += ["--leader-elect", "--leader-election-id", lease]
    operator.start()
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    namespace = f"sigint-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "sync": {"interval": "1h"}}})
    wait_until("applied", lambda: kubectl.run("get", "cm", "app", "-n", namespace, check=False).returncode == 0, timeout=30)
    assert kubectl.json("get", "lease", lease, "-n", "default")["spec"]["holderIdentity"]
    assert operator.process is not None
    started = time.monotonic()
    operator.process.send_signal(signal.SIGINT)
    assert operator.process.wait(timeout=15) == 0, operator.log.read_text()[-2000:]
    operator.process = None
    assert time.monotonic() - started < 10, "graceful, not the 45 s escalation"
    log = operator.log.read_text()
    assert "reconciler stopped" in log and "released lease" in log, log[-2000:]
    assert kubectl.json("get", "lease", lease, "-n", "default")["spec"].get("holderIdentity", "") == ""


def test_bad_ssh_poll_idle_timeout_is_refused_before_anything_starts(tmp_path: Path) -> None:
    """A value that is not a duration stops `flotilla run` at once, naming the flag."""
    import subprocess

    from harness import flotilla_bin

    done = subprocess.run([str(flotilla_bin()), "run", "--ssh-poll-idle-timeout", "ten minutes",
                           "--kubeconfig", str(tmp_path / "missing")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 64, done.stderr
    assert '--ssh-poll-idle-timeout: "ten minutes" is not a positive duration' in done.stderr
