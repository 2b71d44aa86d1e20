"""`flotilla build` and `flotilla diff` through the built binary, as a pull-request pipeline runs
them: against a working copy or a branch, as the instance's ServiceAccount (impersonated), with
unified diffs per object, masked Secrets, prunes and RBAC refusals, and exit codes 0/1/2."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from harness import Emulator, Kubectl, Operator, apply_flux_crd, git, git_repo, wait_until
from test_cli import flotilla

FILES = {
    "app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n",
    "gone.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\ndata: {k: bye}\n",
    "keep.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep}\ndata: {k: same}\n",
    "creds.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: hunter2, user: admin}\n",
}


def synced_instance(kubectl: Kubectl, tmp_path: Path, name: str) -> tuple[str, Path]:
    apply_flux_crd(kubectl)
    repo = git_repo(tmp_path / "repo", FILES)
    namespace = f"{name}-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", namespace)
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": namespace},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1h"},
                            "sync": {"interval": "1h", "garbageCollection": {"enabled": True}}}})

    def ready() -> bool:
        status = kubectl.json("get", "fluxinstance", "apps", "-n", namespace).get("status", {})
        return any(c["type"] == "Ready" and c["reason"] == "Synced" for c in status.get("conditions", []))

    wait_until("first sync", ready, timeout=30)
    return namespace, repo


def test_diff_of_a_working_copy(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    namespace, repo = synced_instance(kubectl, tmp_path, "diff")

    # Nothing changed: exit 0, no diff.
    same = flotilla(emulator, "diff", "-i", "apps", "-n", namespace)
    assert same.returncode == 0, same.stderr
    assert same.stdout == ""
    assert "0 to create, 0 to change, 0 to delete, 0 held, 4 unchanged, 0 error(s)" in same.stderr

    # A pull request's checkout: one value changed, a Secret value changed, one file removed, one added.
    work = tmp_path / "checkout"
    shutil.copytree(repo, work)
    (work / "app.yaml").write_text(FILES["app.yaml"].replace("k: one", "k: two"))
    (work / "creds.yaml").write_text(FILES["creds.yaml"].replace("hunter2", "correct-horse"))
    (work / "gone.yaml").unlink()
    (work / "new.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new}\ndata: {k: hello}\n")
    result = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work))
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert f"diff -u -N live/v1.ConfigMap.{namespace}.app merged/v1.ConfigMap.{namespace}.app" in out
    assert '-  k: "one"\n+  k: "two"\n' in out
    assert f"--- live/v1.ConfigMap.{namespace}.new\n+++ merged/v1.ConfigMap.{namespace}.new\n@@ -0,0 +1," in out
    assert '+  k: "hello"' in out
    # The Secret: which key changed shows, never a value.
    assert '-  password: "*** (before)"\n+  password: "*** (after)"' in out
    assert "hunter2" not in out and "correct-horse" not in out and "aHVudGVyMg" not in out
    assert "user: " not in out.split("Secret")[-1].split("@@")[0] or '"***"' in out
    # Garbage collection would delete the removed file's object.
    assert f"--- live/v1.ConfigMap.{namespace}.gone\n+++ merged/v1.ConfigMap.{namespace}.gone" in out
    assert '-  k: "bye"' in out
    # managedFields, status, resourceVersion and the checksum are not part of a diff.
    for noise in ("managedFields", "resourceVersion", "fluxcd.io/sync-checksum", "creationTimestamp"):
        assert noise not in out, noise
    assert "1 to create, 2 to change, 1 to delete, 0 held, 1 unchanged, 0 error(s)" in result.stderr
    # Nothing was changed by looking.
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}
    assert kubectl.run("get", "cm", "new", "-n", namespace, check=False).returncode != 0

    as_json = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work), "-o", "json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["actingAs"] == f"system:serviceaccount:{namespace}:flotilla-apps"
    assert report["summary"] == {"create": 1, "update": 2, "unchanged": 1, "delete": 1, "held": 0, "skipped": 0, "forbidden": 0, "failed": 0}
    actions = {o["object"]: o["action"] for o in report["objects"]}
    assert actions == {f"{namespace}:configmap/app": "update", f"{namespace}:configmap/new": "create",
                       f"{namespace}:secret/creds": "update", f"{namespace}:configmap/gone": "delete"}

    # Removing most of the repository: the blast-radius guard would hold the deletions.
    for f in ("app.yaml", "keep.yaml", "creds.yaml"):
        (work / f).unlink()
    held = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work))
    assert held.returncode == 1
    assert "would be deleted, more than the 50% allowed; held until approved" in held.stderr
    assert "0 to delete, 4 held" in held.stderr

    # An object the instance's ServiceAccount may not write (edit cannot write Roles): exit 2, named.
    (work / "role.yaml").write_text("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: escalate}\n"
                                    "rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]\n")
    refused = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work))
    assert refused.returncode == 2, refused.stderr
    assert f"error: {namespace}:role/escalate: role.yaml" in refused.stderr
    assert f"User \"system:serviceaccount:{namespace}:flotilla-apps\" cannot get resource \"roles\"" in refused.stderr


def test_diff_of_a_branch_and_build(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    namespace, repo = synced_instance(kubectl, tmp_path, "branch")
    git("checkout", "-qb", "feature", cwd=repo)
    (repo / "app.yaml").write_text(FILES["app.yaml"].replace("k: one", "k: three"))
    git("commit", "-qam", "three", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    result = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--ref", "feature")
    assert result.returncode == 1, result.stderr
    assert '-  k: "one"\n+  k: "three"\n' in result.stdout
    main = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--ref", "main")
    assert main.returncode == 0, main.stderr
    missing = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--ref", "nope")
    assert missing.returncode == 2
    assert "nope is neither a branch of" in missing.stderr

    built = flotilla(emulator, "build", "-i", "apps", "-n", namespace, "--ref", "feature")
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    app = next(d for d in docs if d["metadata"]["name"] == "app")
    assert app["data"] == {"k": "three"}
    assert app["metadata"]["namespace"] == namespace
    assert app["metadata"]["labels"]["flotilla.dev/instance"] == f"{namespace}.apps"
    assert "# Source: app.yaml" in built.stdout
    as_json = json.loads(flotilla(emulator, "build", "-i", "apps", "-n", namespace, "-o", "json").stdout)
    assert sorted(i["metadata"]["name"] for i in as_json["items"]) == ["app", "creds", "gone", "keep"]
    creds = next(i for i in as_json["items"] if i["metadata"]["name"] == "creds")
    assert creds["stringData"] == {"password": "***", "user": "***"}, "a CI log is no place for a Secret"
    shown = json.loads(flotilla(emulator, "build", "-i", "apps", "-n", namespace, "-o", "json", "--show-secrets").stdout)
    assert next(i for i in shown["items"] if i["metadata"]["name"] == "creds")["stringData"]["password"] == "hunter2"

    # bob may not read the FluxInstance: exit 2 with the server's reason.
    refused = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, context="bob")
    assert refused.returncode == 2
    assert f"you may not read FluxInstance {namespace}/apps" in refused.stderr


def test_a_tenant_cannot_reach_further_with_diff(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    """alice may use FluxInstances, Secrets and ConfigMaps in her namespace only. diff acts as the
    instance only if the API server lets her impersonate its ServiceAccount; as herself, only her
    own rights apply; a working copy reaching into another namespace is refused before any request."""
    from test_tenancy import grant_tenant
    namespace, repo = synced_instance(kubectl, tmp_path, "tenant")
    grant_tenant(kubectl, namespace)
    theirs = f"theirs-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", theirs)

    refused = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, context="alice")
    assert refused.returncode == 2
    assert f"you may not act as ServiceAccount {namespace}/flotilla-apps" in refused.stderr
    assert 'cannot impersonate resource "serviceaccounts"' in refused.stderr

    work = tmp_path / "reach"
    shutil.copytree(repo, work)
    (work / "grab.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: grab, namespace: {theirs}}}\ndata: {{owner: alice}}\n")
    reach = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work), "--as-caller", context="alice")
    assert reach.returncode == 2
    assert f"grab.yaml:1: {theirs}:configmap/grab is in namespace {theirs}, which this instance may not use" in reach.stderr

    # As herself, within her namespace: her own rights, a dry run only.
    (work / "grab.yaml").unlink()
    (work / "app.yaml").write_text(FILES["app.yaml"].replace("k: one", "k: mine"))
    own = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work), "--as-caller", context="alice")
    assert own.returncode == 1, own.stderr
    assert '+  k: "mine"' in own.stdout
    assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}
    assert kubectl.run("get", "cm", "grab", "-n", theirs, check=False).returncode != 0

    # The administrator lets her act as the instance (and nothing else): diff works as it.
    kubectl.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "diff", "namespace": namespace},
                   "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"], "resourceNames": ["flotilla-apps"]}]})
    kubectl.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "diff", "namespace": namespace},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "diff"},
                   "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
    allowed = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work), "-o", "json", context="alice")
    assert allowed.returncode == 1, allowed.stderr
    assert json.loads(allowed.stdout)["actingAs"] == f"system:serviceaccount:{namespace}:flotilla-apps"

    # Whoever may write the status cannot steer the dry run to another identity: the spec decides.
    kubectl.run("patch", "fluxinstance", "apps", "-n", namespace, "--subresource=status", "--type=merge",
                "-p", '{"status": {"identity": {"serviceAccount": "powerful"}}}')
    steered = flotilla(emulator, "diff", "-i", "apps", "-n", namespace, "--dir", str(work), "-o", "json", context="alice")
    assert steered.returncode == 1, steered.stderr
    assert json.loads(steered.stdout)["actingAs"] == f"system:serviceaccount:{namespace}:flotilla-apps"
    assert "reports that it syncs as powerful" in steered.stderr
