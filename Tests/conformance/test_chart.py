"""The Helm chart (charts/flotilla), rendered and linted with the Helm v4 SDK (PyPI
helm-python-sdk, no helm binary), applied to the emulator with kubectl (server-side dry run, then
for real), and run: `flotilla` started with the rendered Deployment's own arguments and the
chart's ServiceAccount token, so the chart's RBAC is exactly what the operator gets."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess

from pathlib import Path
from typing import Any

import pytest
import helm_python as helm
import yaml

from harness import REPO, Emulator, Kubectl, apply_flux_crd, daemon_marker, flotilla_bin, git, git_repo, running, start_daemon, wait_until


CHART = REPO / "charts" / "flotilla"
RELEASE_NS = "flotilla-system"


def render(values: dict[str, Any], name: str = "flotilla") -> list[dict]:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name=name, namespace=RELEASE_NS, is_install=True)
    return [d for path, text in files.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text) if d]


def test_chart_crd_is_the_crd() -> None:
    """hack/gen-crd-swift.py copies crds/ into the chart; they never differ."""
    assert (CHART / "crds" / "fluxinstances.flotilla.dev.yaml").read_bytes() == (REPO / "crds" / "fluxinstances.flotilla.dev.yaml").read_bytes()


def test_chart_lints_clean() -> None:
    report = helm.lint(str(CHART), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values, complaint", [
    ({"replicas": "two"}, "replicas"),
    ({"logFormat": "xml"}, "logFormat"),
    ({"concurrency": 0}, "concurrency"),
    ({"shards": [{"name": "a"}]}, "selector"),
    ({"watchNamespaces": ["Not_A_Namespace"]}, "watchNamespaces"),
    ({"replica": 2}, "replica"),
])
def test_bad_values_fail_before_anything_is_created(values: dict, complaint: str) -> None:
    with pytest.raises(helm.HelmError) as failure:
        render(values)
    assert complaint in str(failure.value)


def test_defaults_harden_the_pod() -> None:
    docs = render({})
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert kinds == ["ClusterRole/flotilla", "ClusterRole/flotilla-namespaces", "ClusterRoleBinding/flotilla", "ClusterRoleBinding/flotilla-namespaces",
                     "Deployment/flotilla", "Role/flotilla-leader-election",
                     "RoleBinding/flotilla-leader-election", "Service/flotilla-hooks", "Service/flotilla-metrics", "ServiceAccount/flotilla"]
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" and container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/var/lib/flotilla", "/tmp", "/var/run/secrets/kubernetes.io/serviceaccount",
                                                                  "/run/flotilla-generator"}
    assert "--leader-elect" in container["args"] and "--work-dir=/var/lib/flotilla" in container["args"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
    [role] = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "flotilla"]
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    [namespaces] = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "flotilla-namespaces"]
    assert namespaces["rules"] == [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}], "reads consent, nothing more"
    # Never the rights the instances' identities hold: no wildcard, no workload kinds, no
    # reading of every object; impersonation of ServiceAccounts only.
    assert not [x for x in granted if "*" in x]
    assert not [x for x in granted if x[1] in {"deployments", "pods", "namespaces", "customresourcedefinitions"}]
    assert {x for x in granted if x[2] == "impersonate"} == {("", "serviceaccounts", "impersonate")}
    assert [r for r in role["rules"] if r["verbs"] == ["bind"]] == [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                                                                   "verbs": ["bind"], "resourceNames": ["edit"]}]
    monitored = render({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}})
    [monitor] = [d for d in monitored if d["kind"] == "ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "prom" and monitor["spec"]["endpoints"][0]["port"] == "http-metrics"


def test_generator_container_has_no_token() -> None:
    """Tenants' .flux.yaml commands run in a container of their own: no ServiceAccount token
    (none is automounted; only the operator's container mounts a projected one), another uid,
    none of the operator's volumes but the socket's."""
    pod = next(d for d in render({}) if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    operator, generator = pod["containers"]
    assert generator["name"] == "generator" and generator["args"][0] == "generator-server"
    volumes = {v["name"]: v for v in pod["volumes"]}
    token_volumes = {name for name, v in volumes.items() if any("serviceAccountToken" in s for s in v.get("projected", {}).get("sources", []))}
    assert token_volumes == {"token"}
    assert "token" in {m["name"] for m in operator["volumeMounts"]}
    assert {m["name"] for m in generator["volumeMounts"]} == {"generator-socket", "generator-tmp"}, "no token, no work volume"
    assert not any("secrets" in m["mountPath"] for m in generator["volumeMounts"])
    assert generator["securityContext"]["runAsUser"] != pod["securityContext"]["runAsUser"]
    assert generator["securityContext"]["readOnlyRootFilesystem"] is True and generator["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    socket = "--generator-socket=/run/flotilla-generator/generator.sock"
    assert socket in operator["args"] and "--socket=/run/flotilla-generator/generator.sock" in generator["args"]
    assert not pod.get("shareProcessNamespace"), "the generator server is its container's PID 1"

    # Off: no generator container and no socket; generation is refused unless trusted.
    off = next(d for d in render({"generators": {"container": {"enabled": False}}}) if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in off["containers"]] == ["flotilla"] and socket not in off["containers"][0]["args"]
    assert "--trust-generators" not in off["containers"][0]["args"]
    trusted = next(d for d in render({"generators": {"container": {"enabled": False}, "trusted": True}}) if d["kind"] == "Deployment")
    assert "--trust-generators" in trusted["spec"]["template"]["spec"]["containers"][0]["args"]


def test_tenancy_values() -> None:
    """Cluster-scope namespaces and generation namespaces reach the flags; lockdown leaves the
    operator no right to make ServiceAccounts or bind roles."""
    docs = render({"tenancy": {"clusterScopeNamespaces": ["platform", "ops"]}, "generators": {"namespaces": ["team-a", "team-b"]}})
    args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--cluster-scope-namespace=platform" in args and "--cluster-scope-namespace=ops" in args
    assert "--generation-namespaces=team-a,team-b" in args
    locked = render({"tenancy": {"defaultServiceAccount": "flux-tenant"}})
    args = next(d for d in locked if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--default-service-account=flux-tenant" in args
    role = next(d for d in locked if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "flotilla")
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}
    assert {x for x in granted if x[1] == "serviceaccounts"} == {("", "serviceaccounts", "impersonate")}
    assert not [x for x in granted if x[2] == "bind" or x[1] in {"rolebindings", "clusterrolebindings"}]
    with pytest.raises(helm.HelmError):
        render({"generators": {"namespaces": ["Not A Namespace"]}})


def test_platform_credentials_values() -> None:
    """Off by default; when on, the providers and namespaces reach the flags, and the identity
    webhooks are told to keep the pod's cloud token out of the generator container."""
    deployment = next(d for d in render({}) if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in args if a.startswith("--registry-platform")]
    assert "eks.amazonaws.com/skip-containers" not in (deployment["spec"]["template"]["metadata"].get("annotations") or {})
    on = next(d for d in render({"registryPlatformCredentials": {"providers": ["aws", "azure"], "namespaces": ["team-a"]},
                                 "podAnnotations": {"team": "platform"}}) if d["kind"] == "Deployment")
    args = on["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--registry-platform-credentials=aws,azure" in args and "--registry-platform-namespaces=team-a" in args
    annotations = on["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"team": "platform", "eks.amazonaws.com/skip-containers": "generator",
                           "azure.workload.identity/skip-containers": "generator"}
    assert "generator" in [c["name"] for c in on["spec"]["template"]["spec"]["containers"]]
    with pytest.raises(helm.HelmError):
        render({"registryPlatformCredentials": {"providers": ["digitalocean"]}})


def test_ssh_poll_idle_timeout_value() -> None:
    """The pool's idle timeout reaches its flag; a value that is not a duration fails the render."""
    def args(values: dict) -> list[str]:
        deployment = next(d for d in render(values) if d["kind"] == "Deployment")
        return deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--ssh-poll-idle-timeout=10m" in args({})
    assert "--ssh-poll-idle-timeout=1h30m" in args({"sshPollIdleTimeout": "1h30m"})
    with pytest.raises(helm.HelmError):
        render({"sshPollIdleTimeout": "ten minutes"})


def test_receiver_values() -> None:
    """The webhook port reaches the flag, the container and its own Service; the Ingress, when
    asked for, routes /hooks/ only."""
    docs = render({})
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--receiver-address=:9292" in container["args"]
    assert {"name": "http-hooks", "containerPort": 9292, "protocol": "TCP"} in container["ports"]
    hooks = next(d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-hooks"))
    assert hooks["spec"]["ports"][0]["targetPort"] == "http-hooks"
    assert not [d for d in docs if d["kind"] == "Ingress"]
    ingress = next(d for d in render({"receiver": {"ingress": {"enabled": True, "host": "hooks.example.com", "className": "nginx"}}}) if d["kind"] == "Ingress")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "hooks.example.com" and ingress["spec"]["ingressClassName"] == "nginx"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/hooks/"]
    off = next(d for d in render({"receiver": {"enabled": False}}) if d["kind"] == "Deployment")
    assert not [a for a in off["spec"]["template"]["spec"]["containers"][0]["args"] if a.startswith("--receiver-address")]


def test_ui_values() -> None:
    """Off by default; on, the port reaches the flag, the container and its own Service, and the
    operator may check tokens (TokenReview), nothing more."""
    docs = render({})
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert not [a for a in container["args"] if a.startswith("--ui-address")]
    assert not [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-ui")]
    on = render({"ui": {"enabled": True}})
    container = next(d for d in on if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "--ui-address=:9393" in container["args"]
    assert {"name": "http-ui", "containerPort": 9393, "protocol": "TCP"} in container["ports"]
    ui = next(d for d in on if d["kind"] == "Service" and d["metadata"]["name"].endswith("-ui"))
    assert ui["spec"]["ports"][0]["targetPort"] == "http-ui"
    rules = [r for d in on if d["kind"] == "ClusterRole" for r in d["rules"]]
    assert {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]} in rules
    assert not [r for d in docs if d["kind"] == "ClusterRole" for r in d["rules"] if "tokenreviews" in r["resources"]]


def sa_kubeconfig(emulator: Emulator, kubectl: Kubectl, path: Path, account: str) -> Path:
    """A kubeconfig for the chart's ServiceAccount, with a token minted by TokenRequest."""
    token = kubectl.run("create", "token", account, "-n", RELEASE_NS).stdout.strip()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "emulator", "cluster": {"server": emulator.server,
                                                      "certificate-authority-data": base64.b64encode(emulator.ca_pem).decode()}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "emulator", "user": "sa"}}],
    }))
    return path


class Shard:
    """`flotilla` with a rendered Deployment's arguments, as its ServiceAccount."""

    def __init__(self, deployment: dict, kubeconfig: Path, workdir: Path, overrides: dict[str, str] | None = None):
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        workdir.mkdir(parents=True, exist_ok=True)
        local = {"--work-dir": str(workdir / "work"), "--metrics-address": "127.0.0.1:0", "--receiver-address": "127.0.0.1:0", **(overrides or {})}
        self.args = [str(flotilla_bin())] + [next((f"{k}={v}" for k, v in local.items() if a.startswith(k + "=")), a) for a in args]
        self.args += ["--kubeconfig", str(kubeconfig)]
        self.log = workdir / "operator.log"
        self.process = subprocess.Popen(self.args, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)

    def lines(self) -> list[dict]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def started(self, instance: str) -> bool:
        return any(l.get("instance") == instance and l["message"] == "reconciler started" for l in self.lines())

    def stopped(self, instance: str) -> bool:
        return any(l.get("instance") == instance and l["message"] == "reconciler stopped" for l in self.lines())

    def stop(self) -> None:
        self.process.terminate()
        try:
            assert self.process.wait(timeout=15) == 0, self.log.read_text()[-2000:]
        finally:
            if self.process.poll() is None:
                self.process.kill()


def install(kubectl: Kubectl, docs: list[dict], tmp_path: Path) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    kubectl.run("apply", "--server-side", "--dry-run=server", "-f", str(manifest))
    for d in docs:
        if d["kind"] == "Deployment":
            assert kubectl.run("get", "deploy", d["metadata"]["name"], "-n", RELEASE_NS, check=False).returncode != 0, "a dry run creates nothing"
    kubectl.run("apply", "--server-side", "-f", str(manifest))


def instance(kubectl: Kubectl, ns: str, name: str, repo: Path, labels: dict[str, str] | None = None) -> None:
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance",
                   "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
                   "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "sync": {"interval": "1h"}}})


def config_map(kubectl: Kubectl, ns: str, name: str) -> dict | None:
    result = kubectl.run("get", "cm", name, "-n", ns, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def install_default(kubectl: Kubectl, tmp_path: Path, prefix: str) -> tuple[str, dict]:
    """The chart with default values installed as release `<prefix><kubectl label>`: its name
    and rendered Deployment."""
    apply_flux_crd(kubectl)
    kubectl.run("create", "namespace", RELEASE_NS, check=False)
    name = f"{prefix}{kubectl.label.replace('.', '')}"
    docs = render({}, name=name)
    install(kubectl, docs, tmp_path)
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    return name, deployment


def test_default_install_runs_with_exactly_its_rbac(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    name, deployment = install_default(kubectl, tmp_path, "flotilla-")
    assert kubectl.json("get", "deploy", name, "-n", RELEASE_NS)["spec"]["template"]["spec"]["containers"][0]["args"] == \
        deployment["spec"]["template"]["spec"]["containers"][0]["args"]

    ns = f"chart-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", ns)
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    shard = Shard(deployment, sa_kubeconfig(emulator, kubectl, tmp_path / "sa.kubeconfig", name), tmp_path / "shard")
    try:
        instance(kubectl, ns, "apps", repo)
        wait_until("applied as the instance", lambda: config_map(kubectl, ns, "app"), timeout=40)
        status = kubectl.json("get", "fli", "apps", "-n", ns)["status"]
        assert [c["reason"] for c in status["conditions"] if c["type"] == "Ready"] == ["Synced"], status
        # The leader Lease of this release, held by the shard.
        lease = kubectl.json("get", "lease", name, "-n", RELEASE_NS)
        assert lease["spec"]["holderIdentity"]
        # The operator's own identity may not touch what it syncs: that is the instance's.
        sa = f"system:serviceaccount:{RELEASE_NS}:{name}"
        assert kubectl.run("auth", "can-i", "create", "deployments", "-n", ns, "--as", sa, check=False).stdout.strip() == "no"
        assert kubectl.run("auth", "can-i", "get", "configmaps", "-n", ns, "--as", sa, check=False).stdout.strip() == "yes"
    finally:
        shard.stop()
    assert any(l["message"] == "operator started" for l in shard.lines()), "JSON logs (the chart's default)"
    # SIGTERM: the reconcilers stop, the Lease is released for a successor (exit 0, checked by stop()).
    assert kubectl.json("get", "lease", name, "-n", RELEASE_NS)["spec"].get("holderIdentity", "") == ""
    assert any(l["message"] == "reconciler stopped" and l.get("instance") == f"{ns}/apps" for l in shard.lines())


class GeneratorContainer:
    """The chart's generator container, as near as this machine gets to one: its rendered
    arguments, as PID 1 of fresh namespaces (bubblewrap --as-pid-1) under its uid, with only the
    system's files, the binary and the socket volume: no kubeconfig, no token, no work root."""

    def __init__(self, deployment: dict, socket_dir: Path, log: Path):
        pod = deployment["spec"]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "generator")
        uid = str(container["securityContext"]["runAsUser"])
        socket_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["bwrap", "--unshare-all", "--as-pid-1", "--die-with-parent", "--unshare-user", "--uid", uid, "--gid", uid,
               "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
               "--ro-bind", str(flotilla_bin()), "/flotilla", "--bind", str(socket_dir), "/run/flotilla-generator"]
        # A debug build links the Swift runtime from the toolchain (the image's is static).
        linked = subprocess.run(["ldd", str(flotilla_bin())], capture_output=True, text=True).stdout
        for directory in sorted({str(Path(p).parent) for p in re.findall(r"=> (/\S+)", linked)}):
            if not directory.startswith(("/usr", "/lib")):
                cmd += ["--ro-bind", directory, directory]
        for top in ("/bin", "/sbin", "/lib", "/lib64"):
            if Path(top).is_symlink():
                cmd += ["--symlink", os.readlink(top), top]
            elif Path(top).is_dir():
                cmd += ["--ro-bind", top, top]
        cmd += ["--setenv", "HOME", "/tmp", "/flotilla"] + container["args"]
        self.socket = socket_dir / "generator.sock"
        self.log = log
        self.process = subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)
        wait_until("the generator server listens", lambda: self.socket.exists(), timeout=20)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def test_generators_run_in_the_generator_container(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    """The chart's default install with manifest generation: the operator sends each command to
    the generator container. A generator there cannot read the operator's kubeconfig or a token,
    runs as the container's uid, and what it leaves running is killed after it."""
    name, deployment = install_default(kubectl, tmp_path, "flotilla-gen")
    ns = f"gen-{kubectl.label.replace('.', '-')}"
    kubectl.run("create", "namespace", ns)
    config = sa_kubeconfig(emulator, kubectl, tmp_path / "sa.kubeconfig", name)
    marker = daemon_marker(1000)
    script = (start_daemon(marker) +
              "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: loot}\\ndata:\\n'\n"
              f"printf '  kubeconfig: \"%s\"\\n' \"$(cat {config} 2>/dev/null || echo unreadable)\"\n"
              "printf '  token: \"%s\"\\n' \"$(ls /var/run/secrets 2>/dev/null || echo absent)\"\n"
              "printf '  uid: \"%s\"\\n' \"$(id -u)\"\n")
    repo = git_repo(tmp_path / "repo", {".flux.yaml": "version: 1\ncommandUpdated:\n  generators:\n  - command: sh gen.sh\n", "gen.sh": script})
    generator = GeneratorContainer(deployment, tmp_path / "socket", tmp_path / "generator.log")
    shard = Shard(deployment, config, tmp_path / "shard", {"--generator-socket": str(generator.socket)})
    try:
        kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "gen", "namespace": ns},
                       "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1s"}, "manifestGeneration": True}})
        loot = wait_until("generated", lambda: config_map(kubectl, ns, "loot"), timeout=40)
        assert loot["data"] == {"kubeconfig": "unreadable", "token": "absent", "uid": "65533"}, loot["data"]
        assert "PLANTED" not in json.dumps(loot) and "token:" not in json.dumps(loot["data"]["kubeconfig"])
        wait_until("nothing it started survives", lambda: not running(marker), timeout=5)
        # The server goes on serving after killing what a command left: the next render works.
        (repo / "gen.sh").write_text(script.replace("loot", "loot2"))
        git("commit", "-qam", "again", cwd=repo)
        wait_until("generated again", lambda: config_map(kubectl, ns, "loot2"), timeout=40)
    finally:
        shard.stop()
        generator.stop()


def test_sharded_namespace_restricted_install(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    apply_flux_crd(kubectl)
    kubectl.run("create", "namespace", RELEASE_NS, check=False)
    label = kubectl.label.replace(".", "-")
    watched, other = f"shard-{label}", f"unwatched-{label}"
    for ns in (watched, other):
        kubectl.run("create", "namespace", ns)
    name = f"flotilla-sh{kubectl.label.replace('.', '')}"
    docs = render({"watchNamespaces": [watched], "logFormat": "json",
                   "shards": [{"name": "a", "selector": "flotilla.dev/shard=a"}, {"name": "b", "selector": "flotilla.dev/shard=b"}]}, name=name)
    # Rights through RoleBindings in the watched namespaces only; cluster-wide, only reading Namespaces' consent.
    assert [d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"] == [f"{name}-namespaces"]
    assert [d["metadata"]["namespace"] for d in docs if d["kind"] == "RoleBinding" and d["roleRef"]["kind"] == "ClusterRole"] == [watched]
    install(kubectl, docs, tmp_path)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert sorted(deployments) == [f"{name}-a", f"{name}-b"]
    config = sa_kubeconfig(emulator, kubectl, tmp_path / "sa.kubeconfig", name)
    repo = git_repo(tmp_path / "repo", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
    repo2 = git_repo(tmp_path / "repo2", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app2}\ndata: {k: two}\n"})
    a = Shard(deployments[f"{name}-a"], config, tmp_path / "a")
    b = Shard(deployments[f"{name}-b"], config, tmp_path / "b")
    try:
        instance(kubectl, watched, "one", repo, {"flotilla.dev/shard": "a"})
        instance(kubectl, watched, "two", repo2, {"flotilla.dev/shard": "b"})
        instance(kubectl, other, "outside", repo, {"flotilla.dev/shard": "a"})
        wait_until("both applied", lambda: config_map(kubectl, watched, "app") and config_map(kubectl, watched, "app2"), timeout=40)
        one, two = f"{watched}/one", f"{watched}/two"
        assert a.started(one) and not a.started(two)
        assert b.started(two) and not b.started(one)
        # Each shard holds its own Lease.
        assert kubectl.json("get", "lease", f"{name}-a", "-n", RELEASE_NS)["spec"]["holderIdentity"]
        assert kubectl.json("get", "lease", f"{name}-b", "-n", RELEASE_NS)["spec"]["holderIdentity"]
        # Outside the watched namespaces nothing happens (no finalizer, no status).
        outside = kubectl.json("get", "fli", "outside", "-n", other)
        assert "status" not in outside and not outside["metadata"].get("finalizers")

        # Relabelled to shard b: a lets go (without finalizing: the objects stay), b takes it.
        kubectl.run("label", "--overwrite", "fli", "one", "-n", watched, "flotilla.dev/shard=b")
        wait_until("b took it over", lambda: b.started(one) and a.stopped(one), timeout=30)
        assert config_map(kubectl, watched, "app") is not None
        assert kubectl.json("get", "fli", "one", "-n", watched)["metadata"]["finalizers"] == ["flotilla.dev/finalizer"]
    finally:
        a.stop()
        b.stop()
