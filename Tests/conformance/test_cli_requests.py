"""The verbs the instance carries out (list-workloads, list-images, release, automate, lock,
policy, identity --regenerate), driven through the built `flotilla` binary against the emulator,
`flotilla run`, a real git repository and Debian's docker-registry. The caller's RBAC on the
FluxInstance decides; the instance commits with its own key."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from harness import Emulator, Kubectl, Operator, apply_flux_crd, flotilla_bin, git, git_repo, wait_until
from registry import Registry
from test_operator_run import metric


def flotilla(emulator: Emulator, *args: str, context: str | None = None) -> subprocess.CompletedProcess:
    cmd = [str(flotilla_bin()), *args, "--kubeconfig", str(emulator.kubeconfig)]
    if context:
        cmd += ["--context", context]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    running = Registry(tmp_path / "registry").start()
    now = datetime.now(timezone.utc)
    for age, tag in [(3, "1.0.0"), (2, "1.1.0"), (1, "2.0.0")]:
        running.push("team/app", tag, now - timedelta(days=age))
    for age, tag in [(2, "0.1.0"), (1, "0.2.0")]:
        running.push("team/worker", tag, now - timedelta(days=age))
    yield running
    running.stop()


def manifests(registry: Registry) -> str:
    return f"""# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    fluxcd.io/tag.app: semver:~1   # stays on 1.x
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: app
        image: {registry.host}/team/app:1.0.0
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: worker}}
spec:
  selector: {{matchLabels: {{app: worker}}}}
  template:
    metadata: {{labels: {{app: worker}}}}
    spec:
      containers:
      - {{name: worker, image: "{registry.host}/team/worker:0.1.0"}}
"""


class Setup:
    def __init__(self, kubectl: Kubectl, emulator: Emulator, registry: Registry, tmp_path: Path, name: str):
        apply_flux_crd(kubectl)
        self.kubectl, self.emulator, self.registry = kubectl, emulator, registry
        self.original = manifests(registry)
        work = git_repo(tmp_path / "work", {"apps.yaml": self.original})
        self.bare = tmp_path / "repo.git"
        git("clone", "-q", "--bare", str(work), str(self.bare), cwd=tmp_path)
        self.ns = f"{name}-{kubectl.label.replace('.', '-')}"
        kubectl.run("create", "namespace", self.ns)
        self.apply("apps")

    def apply(self, name: str, **git_spec: object) -> None:
        spec = {"git": {"url": f"file://{self.bare}", "pollInterval": "1h", "setAuthor": True, "user": "Flotilla Bot",
                        "email": "bot@example.com", **git_spec},
                "sync": {"interval": "1h"}, "registry": {"insecureHosts": [self.registry.host], "pollInterval": "1s"}}
        self.kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": name, "namespace": self.ns},
                            "spec": spec})

    def head(self) -> str:
        return git("rev-parse", "main", cwd=self.bare)

    def file(self) -> str:
        return git("show", "main:apps.yaml", cwd=self.bare) + "\n"

    def image(self, deployment: str) -> str:
        return self.kubectl.json("get", "deploy", deployment, "-n", self.ns)["spec"]["template"]["spec"]["containers"][0]["image"]

    def run(self, *args: str, context: str | None = None) -> subprocess.CompletedProcess:
        return flotilla(self.emulator, *args, "-i", "apps", "-n", self.ns, context=context)

    def ok(self, *args: str) -> subprocess.CompletedProcess:
        result = self.run(*args)
        assert result.returncode == 0, f"flotilla {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def synced(self) -> None:
        wait_until("first sync", lambda: self.kubectl.run("get", "deploy", "web", "-n", self.ns, check=False).returncode == 0, timeout=30)


def test_list_and_release(kubectl: Kubectl, emulator: Emulator, operator: Operator, registry: Registry, tmp_path: Path) -> None:
    s = Setup(kubectl, emulator, registry, tmp_path, "release")
    s.synced()
    web, worker = f"{s.ns}:deployment/web", f"{s.ns}:deployment/worker"
    app = f"{registry.host}/team/app"

    # list-workloads: every workload of the head, its images, policy and sync status.
    rows = json.loads(s.ok("list-workloads", "-o", "json").stdout)
    assert [r["id"] for r in rows] == [web, worker]
    assert rows[0]["containers"] == [{"name": "app", "image": f"{app}:1.0.0"}]
    assert rows[0]["filters"] == {"app": "semver:~1"} and rows[0]["automated"] is False and rows[0]["locked"] is False
    assert rows[0]["status"] == "ready" and rows[0]["file"] == "apps.yaml"
    table = s.ok("list-workloads").stdout.splitlines()
    assert table[0].split() == ["WORKLOAD", "CONTAINER", "IMAGE", "STATUS", "POLICY"]
    assert table[1].split() == [web, "app", f"{app}:1.0.0", "ready", "tag.app=semver:~1"]
    only = json.loads(s.ok("list-workloads", "--container", "worker", "-o", "json").stdout)
    assert [r["id"] for r in only] == [worker]
    assert yaml.safe_load(s.ok("list-workloads", "-o", "yaml").stdout) == rows

    # list-images: newest first (by version under a semver filter), the running tag marked.
    [images] = json.loads(s.ok("list-images", "-w", web, "-o", "json").stdout)
    assert [t["tag"] for t in images["tags"]] == ["2.0.0", "1.1.0", "1.0.0"]
    assert [t.get("current", False) for t in images["tags"]] == [False, False, True]
    assert [t["allowed"] for t in images["tags"]] == [False, True, True]
    assert images["latest"] == "1.1.0" and images["current"] == f"{app}:1.0.0"
    assert "'-> 1.0.0" in s.ok("list-images", "-w", web).stdout
    [limited] = json.loads(s.ok("list-images", "-w", web, "--limit", "1", "-o", "json").stdout)
    assert [t["tag"] for t in limited["tags"]] == ["2.0.0"] and limited["moreTags"] == 2
    # The registry requests show in the operator's metrics, by host and answer.
    wait_until("metrics address logged", lambda: "address=127.0.0.1:" in operator.log.read_text(), timeout=10)
    assert (metric(operator.http("/metrics")[1], "flotilla_registry_requests_total", host=registry.host, code="200") or 0) >= 4

    # A dry run shows the change and writes nothing.
    before = s.head()
    dry = s.ok("release", "--all", "--update-all-images", "--dry-run")
    assert f"{app}:1.0.0" in dry.stdout and f"{app}:1.1.0" in dry.stdout and f"{registry.host}/team/worker:0.2.0" in dry.stdout
    assert "nothing was committed" in dry.stdout
    assert s.head() == before and s.image("web") == f"{app}:1.0.0"

    # bob has no RBAC on the instance: refused with the server's reason, nothing written.
    refused = s.run("release", "-w", web, "--update-image", f"{app}:1.1.0", context="bob")
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"you may not release with FluxInstance {s.ns}/apps" in refused.stderr
    assert 'User "bob" cannot patch resource "fluxinstances"' in refused.stderr
    assert s.head() == before

    # Given patch on FluxInstances in the namespace, bob may release; the commit is his (setAuthor).
    kubectl.run("create", "role", "releaser", "-n", s.ns, "--verb=get,patch", "--resource=fluxinstances.flotilla.dev")
    kubectl.run("create", "rolebinding", "bob-releaser", "-n", s.ns, "--role=releaser", "--user=bob")
    released = s.run("release", "-w", web, "--update-image", f"{app}:1.1.0", "-m", "ship 1.1", "--watch", context="bob")
    assert released.returncode == 0, released.stderr
    commit = s.head()
    assert commit != before
    assert f"Commit {commit[:7]} pushed." in released.stdout and f"Revision {commit[:7]} applied" in released.stdout
    assert git("log", "-1", "--format=%an <%ae>|%cn <%ce>", cwd=s.bare) == "bob <bot@example.com>|Flotilla Bot <bot@example.com>"
    message = git("log", "-1", "--format=%B", cwd=s.bare)
    assert message.startswith(f"Release {app}:1.1.0 to {web}") and "ship 1.1" in message and "Requested by bob" in message
    assert s.file() == s.original.replace(f"{app}:1.0.0", f"{app}:1.1.0"), "only the image changed"
    assert s.image("web") == f"{app}:1.1.0"

    # JSON output; a release with nothing to change commits nothing.
    again = json.loads(s.ok("release", "-w", web, "--update-image", f"{app}:1.1.0", "-o", "json").stdout)
    assert again["revision"] is None and again["changes"] == [] and "nothing to release" in again["message"]
    assert s.head() == commit
    wrong = s.run("release", "-w", web, "--update-image", f"{registry.host}/team/other:1")
    assert wrong.returncode == 1 and "runs" in wrong.stderr and "team/other" in wrong.stderr
    unknown = s.run("release", "-w", f"{s.ns}:deployment/nope", "--update-image", f"{app}:1.1.0")
    assert unknown.returncode == 1 and f"{s.ns}:deployment/nope not declared" in unknown.stderr

    # A read-only instance refuses to release (a dry run still shows what it would do).
    s.apply("ro", readonly=True)
    ro = flotilla(emulator, "release", "-i", "ro", "-n", s.ns, "-w", worker, "--update-image", f"{registry.host}/team/worker:0.2.0")
    assert ro.returncode == 1 and "read-only" in ro.stderr
    assert s.head() == commit
    ro_dry = flotilla(emulator, "release", "-i", "ro", "-n", s.ns, "-w", worker, "--update-image", f"{registry.host}/team/worker:0.2.0", "--dry-run")
    assert ro_dry.returncode == 0 and "0.2.0" in ro_dry.stdout
    # The answers are in the FluxInstance's status, for kubectl users too.
    answers = kubectl.json("get", "fli", "apps", "-n", s.ns)["status"]["requests"]
    assert any(a["action"] == "release" and a.get("revision") == commit and a.get("user") == "bob" for a in answers)
    assert not [k for k in kubectl.json("get", "fli", "apps", "-n", s.ns)["metadata"].get("annotations", {}) if k.startswith("requests.flotilla.dev/")]


def test_policy_verbs(kubectl: Kubectl, emulator: Emulator, operator: Operator, registry: Registry, tmp_path: Path) -> None:
    s = Setup(kubectl, emulator, registry, tmp_path, "policy")
    s.synced()
    web = f"{s.ns}:deployment/web"
    app = f"{registry.host}/team/app"
    heads = [s.head()]

    automated = s.ok("automate", "-w", web)
    assert f'{web}: fluxcd.io/automated: "true"' in automated.stdout
    assert s.file() == s.original.replace("    fluxcd.io/tag.app: semver:~1   # stays on 1.x\n",
                                          "    fluxcd.io/tag.app: semver:~1   # stays on 1.x\n    fluxcd.io/automated: \"true\"\n")
    heads.append(s.head())
    assert git("log", "-1", "--format=%s", cwd=s.bare) == f"Automate {web}"

    s.ok("lock", "-w", web, "-m", "release freeze", "--user", "Jane Doe <jane@example.com>")
    assert git("log", "-1", "--format=%an <%ae>", cwd=s.bare) == "Jane Doe <jane@example.com>"
    [row] = [r for r in json.loads(s.ok("list-workloads", "-o", "json").stdout) if r["id"] == web]
    assert row["automated"] and row["locked"] and row["lockedMessage"] == "release freeze" and row["lockedUser"] == "Jane Doe <jane@example.com>"

    # A locked workload is left out of a release unless forced.
    locked = json.loads(s.ok("release", "-w", web, "--update-image", f"{app}:1.1.0", "-o", "json").stdout)
    assert locked["revision"] is None and locked["skipped"] == [f"{web}: locked (release freeze)"]
    assert s.image("web") == f"{app}:1.0.0"

    # A dry run of a policy change writes nothing.
    head = s.head()
    dry = s.ok("policy", "-w", web, "--tag", "app=glob:1.*", "--dry-run")
    assert 'fluxcd.io/tag.app: "glob:1.*"' in dry.stdout and s.head() == head

    s.ok("policy", "-w", web, "--tag-all", "semver:^1")
    assert '    fluxcd.io/tag.app: "semver:^1"   # stays on 1.x\n' in s.file()
    head = s.head()
    nothing = s.ok("policy", "-w", web, "--tag", "app=semver:^1")
    assert "Nothing to change" in nothing.stdout and s.head() == head
    # Undo everything: the file is byte for byte what it was.
    s.ok("policy", "-w", web, "--unlock", "--deautomate", "--tag", "app=semver:~1")
    assert s.file() == s.original.replace("semver:~1   #", '"semver:~1"   #')

    missing = s.run("automate", "-w", f"{s.ns}:deployment/gone")
    assert missing.returncode == 1 and "not declared" in missing.stderr
    no_container = s.run("policy", "-w", web, "--tag", "sidecar=glob:*")
    assert no_container.returncode == 1 and "has no container sidecar" in no_container.stderr
    refused = s.run("automate", "-w", web, context="bob")
    assert refused.returncode == 1 and "you may not change the policy" in refused.stderr


def test_identity_regenerate(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    ns = f"ident-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", ns)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "ssh", "namespace": ns},
                   "spec": {"git": {"url": "ssh://git@127.0.0.1:1/repo.git", "pollInterval": "1h", "timeout": "2s"}}})

    def key() -> str:
        r = flotilla(emulator, "identity", "-i", "ssh", "-n", ns)
        return r.stdout.strip() if r.returncode == 0 else ""

    wait_until("deploy key generated", lambda: key().startswith("ssh-ed25519 "), timeout=30)
    old = key()
    secret = kubectl.json("get", "secret", "flotilla-ssh-deploy-key", "-n", ns)["data"]["identity"]
    regenerated = flotilla(emulator, "identity", "-i", "ssh", "-n", ns, "--regenerate")
    assert regenerated.returncode == 0, regenerated.stderr
    new = regenerated.stdout.strip()
    assert new.startswith("ssh-ed25519 ") and new != old and "PRIVATE" not in regenerated.stdout + regenerated.stderr
    assert "add it to the git host" in regenerated.stderr
    assert kubectl.json("get", "secret", "flotilla-ssh-deploy-key", "-n", ns)["data"]["identity"] != secret
    wait_until("status shows the new key", lambda: key() == new, timeout=20)

    refused = flotilla(emulator, "identity", "-i", "ssh", "-n", ns, "--regenerate", context="bob")
    assert refused.returncode == 1 and "you may not regenerate the deploy key" in refused.stderr
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "plain", "namespace": ns},
                   "spec": {"git": {"url": "file:///nonexistent", "pollInterval": "1h"}}})
    plain = flotilla(emulator, "identity", "-i", "plain", "-n", ns, "--regenerate", "--timeout", "30s")
    assert plain.returncode == 1 and "not SSH" in plain.stderr

    # A git remote that does not exist: the instance answers with the git error, the verb exits 1.
    broken = flotilla(emulator, "list-workloads", "-i", "plain", "-n", ns, "--timeout", "30s")
    assert broken.returncode == 1 and "refused: git:" in broken.stderr and "nonexistent" in broken.stderr
    # A request annotation written by hand that is not a request is answered, not ignored.
    kubectl.run("annotate", "fli", "plain", "-n", ns, 'requests.flotilla.dev/handmade={"action":"bogus"}')

    def handmade() -> dict | None:
        answers = kubectl.json("get", "fli", "plain", "-n", ns).get("status", {}).get("requests", [])
        return next((a for a in answers if a["id"] == "handmade"), None)

    answer = wait_until("the handmade request answered", handmade, timeout=20)
    assert answer["state"] == "Failed" and "requests.flotilla.dev/handmade is not a request" in answer["message"]
    wait_until("the annotation removed", lambda: "requests.flotilla.dev/handmade" not in
               kubectl.json("get", "fli", "plain", "-n", ns)["metadata"].get("annotations", {}), timeout=20)
