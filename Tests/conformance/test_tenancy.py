"""The tenancy model through the built binary: `flotilla run` against the emulator, and a tenant,
alice, whose RBAC covers FluxInstances, Secrets and ConfigMaps in her own namespace only. She
tries to use an instance to reach further; each attempt fails and `kubectl get`/`describe` say
why. Then the administrator's way (a Namespace's consent) still works."""

from __future__ import annotations

import json
from pathlib import Path

from harness import Emulator, Kubectl, Operator, apply_flux_crd, daemon_marker, git_repo, running, start_daemon, wait_until


def grant_tenant(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "tenant", "namespace": namespace},
                   "rules": [{"apiGroups": ["flotilla.dev"], "resources": ["fluxinstances"], "verbs": ["*"]},
                             {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["*"]}]})
    kubectl.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "tenant", "namespace": namespace},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
                   "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})


def instance(name: str, namespace: str, repo: Path, **spec: object) -> dict:
    return {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": name, "namespace": namespace},
            "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "sync": {"interval": "2s"}, **spec}}


def ready(kubectl: Kubectl, name: str, namespace: str) -> dict:
    status = kubectl.json("get", "fli", name, "-n", namespace).get("status", {})
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})


def exists(kubectl: Kubectl, *args: str) -> bool:
    return kubectl.run("get", *args, check=False).returncode == 0


def test_a_tenant_cannot_widen_its_instance(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    label = kubectl.label.replace(".", "-")
    mine, theirs = f"tenant-a-{label}", f"tenant-b-{label}"
    for ns in (mine, theirs):
        kubectl.run("create", "namespace", ns)
    grant_tenant(kubectl, mine)
    kubectl.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": theirs}, "data": {"owner": "team-b"}})
    # alice herself may not write there.
    assert "forbidden" in kubectl.run("create", "configmap", "x", "-n", theirs, context="alice", check=False).stderr.lower()

    repo = git_repo(tmp_path / "repo", {
        "own.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: own}\ndata: {k: v}\n",
        "grab.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: {theirs}}}\ndata: {{owner: alice}}\n"})
    kubectl.apply(instance("grab", mine, repo, allowedNamespaces=[mine, theirs]), context="alice")
    kubectl.apply(instance("star", mine, repo, allowedNamespaces=["*"]), context="alice")
    kubectl.apply(instance("scoped", mine, repo, clusterScoped=True), context="alice")

    wait_until("grab refused", lambda: ready(kubectl, "grab", mine).get("reason") == "NamespaceNotPermitted", timeout=30)
    assert theirs in ready(kubectl, "grab", mine)["message"]
    wait_until("star refused", lambda: ready(kubectl, "star", mine).get("reason") == "NamespaceNotPermitted", timeout=30)
    wait_until("scoped refused", lambda: ready(kubectl, "scoped", mine).get("reason") == "ClusterScopeNotPermitted", timeout=30)
    # What a person sees: the reason in `kubectl get` and the Event in `describe`, as alice.
    table = kubectl.run("get", "fli", "-n", mine, context="alice").stdout
    assert "NamespaceNotPermitted" in table and "ClusterScopeNotPermitted" in table, table
    described = kubectl.run("describe", "fli", "grab", "-n", mine, context="alice").stdout
    assert "NamespaceNotPermitted" in described and "flotilla.dev/allow-instances-from" in described, described

    assert kubectl.json("get", "cm", "shared", "-n", theirs)["data"] == {"owner": "team-b"}, "another team's object untouched"
    assert not exists(kubectl, "cm", "own", "-n", mine), "nothing of a refused revision is applied"
    assert not exists(kubectl, "rolebinding", f"flotilla-{mine}-grab", "-n", theirs)
    assert not exists(kubectl, "clusterrolebinding", f"flotilla-{mine}-star")

    # The administrator's way: the Namespace consents; the instance syncs there, bound there only.
    kubectl.run("annotate", "namespace", theirs, f"flotilla.dev/allow-instances-from={mine}")
    wait_until("grab synced", lambda: ready(kubectl, "grab", mine).get("reason") == "Synced", timeout=30)
    assert kubectl.json("get", "cm", "shared", "-n", theirs)["data"] == {"owner": "alice"}
    assert exists(kubectl, "rolebinding", f"flotilla-{mine}-grab", "-n", theirs)
    # Withdrawn: refused again, and the binding goes.
    kubectl.run("annotate", "namespace", theirs, "flotilla.dev/allow-instances-from-")
    wait_until("grab refused again", lambda: ready(kubectl, "grab", mine).get("reason") == "NamespaceNotPermitted", timeout=30)
    wait_until("binding removed", lambda: not exists(kubectl, "rolebinding", f"flotilla-{mine}-grab", "-n", theirs), timeout=10)


def test_a_generator_reads_nothing_of_the_operators(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    """`flotilla run` sandboxes .flux.yaml commands with bubblewrap: the operator's kubeconfig
    (whose path the attacker knows), its work root and the token path are out of reach."""
    apply_flux_crd(kubectl)
    label = kubectl.label.replace(".", "-")
    ns = f"tenant-gen-{label}"
    kubectl.run("create", "namespace", ns)
    grant_tenant(kubectl, ns)
    work_root = operator.args[operator.args.index("--work-dir") + 1]
    marker = daemon_marker(2000)
    script = (start_daemon(marker) +
              "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: loot}\\ndata:\\n'\n"
              f"printf '  kubeconfig: \"%s\"\\n' \"$(head -c 20 {emulator.kubeconfig} 2>/dev/null | tr -d '\\n:' || true)\"\n"
              f"printf '  workroot: \"%s\"\\n' \"$(ls {work_root} 2>/dev/null | tr '\\n' ' ')\"\n"
              "printf '  token: \"%s\"\\n' \"$(ls /var/run/secrets 2>/dev/null || echo absent)\"\n")
    repo = git_repo(tmp_path / "repo", {".flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n  - command: sh gen.sh\n", "gen.sh": script})
    kubectl.apply(instance("gen", ns, repo, manifestGeneration=True), context="alice")
    wait_until("generated", lambda: ready(kubectl, "gen", ns).get("reason") == "Synced", timeout=30)
    loot = kubectl.json("get", "cm", "loot", "-n", ns)["data"]
    assert Path(emulator.kubeconfig).read_text().startswith("apiVersion"), "the file is there to steal"
    assert loot == {"kubeconfig": "", "workroot": "", "token": "absent"}, json.dumps(loot)
    assert "generators=bubblewrap" in operator.log.read_text(), "the operator says where commands run"
    assert not running(marker), "a daemon the generator left is gone with its render"
