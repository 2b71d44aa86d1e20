"""Every built-in kind of Kubernetes 1.30 against the emulator, with both kubectls.

fixtures/builtin-kinds.yaml holds one object per creatable built-in kind that a real 1.30
kube-apiserver accepts; fixtures/builtin-reviews.yaml one of each create-only review. Each test
runs on a fresh emulator (the objects have fixed names), once per kubectl.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from harness import Emulator, Kubectl, flotilla_bin, json_documents

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "builtin-kinds.yaml"
REVIEWS = FIXTURES / "builtin-reviews.yaml"
#: The field manager of what an instance syncs (FlotillaAPI Flotilla.syncFieldManager).
SYNC_MANAGER = "flotilla"


def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def printed_name(doc: dict) -> str:
    """How kubectl names an object in `created`/`unchanged` lines: `kind.group/name`, lowercase kind."""
    api_version = doc["apiVersion"]
    group = api_version.split("/")[0] if "/" in api_version else ""
    kind = doc["kind"].lower() + (f".{group}" if group else "")
    return f"{kind}/{doc['metadata']['name']}"


def contains(live: Any, sample: Any, path: str = "") -> list[str]:
    """Where `live` lacks what `sample` says (the server may add defaults, never drop or change)."""
    if isinstance(sample, dict):
        if not isinstance(live, dict):
            return [f"{path}: {live!r} is not an object"]
        problems = []
        for key, value in sample.items():
            if key not in live:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += contains(live[key], value, f"{path}.{key}")
        return problems
    if isinstance(sample, list):
        if not isinstance(live, list) or len(live) != len(sample):
            return [f"{path}: {live!r} != {sample!r}"]
        return [p for i, (a, b) in enumerate(zip(live, sample)) for p in contains(a, b, f"{path}[{i}]")]
    return [] if live == sample else [f"{path}: {live!r} != {sample!r}"]


def stored_form(doc: dict) -> dict:
    """What the server holds for a sample: a Secret's stringData arrives as base64 data."""
    doc = json.loads(json.dumps(doc))
    if doc["kind"] == "Secret" and "stringData" in doc:
        data = doc.setdefault("data", {})
        for key, value in doc.pop("stringData").items():
            data[key] = base64.b64encode(value.encode()).decode()
    return doc


@pytest.fixture
def fresh(start_emulator: Callable[..., Emulator], kubectl: Kubectl) -> Kubectl:
    """The parametrized kubectl, pointed at an emulator of its own with the `kinds` namespace."""
    emulator = start_emulator()
    bound = Kubectl(kubectl.binary, kubectl.label, emulator, kubectl.workdir)
    bound.run("create", "namespace", "kinds")
    return bound


def test_catalog_matches_its_source() -> None:
    """The generated catalog is what hack/gen-catalog.py makes of its pinned published sources."""
    done = subprocess.run([sys.executable, str(FIXTURES.parents[2] / "hack" / "gen-catalog.py"), "--check"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_samples_cover_every_creatable_kind(emulator: Emulator) -> None:
    """The samples are the served catalog: every kind with a stored, creatable resource has one."""
    served = set()
    groups = [("", "v1")] + [
        tuple(v["groupVersion"].split("/")) for g in emulator.must("GET", "/apis")["groups"] for v in g["versions"]]
    for group, version in groups:
        path = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        for r in emulator.must("GET", path)["resources"]:
            if "/" not in r["name"] and {"create", "get", "list"} <= set(r["verbs"]):
                served.add((f"{group}/{version}" if group else version, r["kind"]))
    sampled = {(d["apiVersion"], d["kind"]) for d in documents(SAMPLES)}
    assert served == sampled, f"not sampled: {sorted(served - sampled)}; not served: {sorted(sampled - served)}"
    assert len(served) >= 50


def test_apply_every_kind(fresh: Kubectl) -> None:
    samples = documents(SAMPLES)
    expected = [printed_name(d) for d in samples]

    dry = fresh.run("apply", "--dry-run=server", "-f", str(SAMPLES))
    assert dry.lines == [f"{name} created (server dry run)" for name in expected], str(dry)
    missing = fresh.run("get", "-f", str(SAMPLES), "--ignore-not-found", "-o", "name")
    assert missing.stdout.strip() == "", f"a server dry run stored objects:\n{missing}"

    created = fresh.run("apply", "-f", str(SAMPLES))
    assert created.lines == [f"{name} created" for name in expected], str(created)

    live = fresh.json("get", "-f", str(SAMPLES))
    assert [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in live["items"]] == \
        [(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in samples]
    for sample, got in zip(samples, live["items"]):
        want = stored_form(sample)
        want["metadata"].pop("annotations", None)
        problems = contains(got, {k: v for k, v in want.items() if k != "metadata"}) + \
            contains(got["metadata"], {k: v for k, v in want["metadata"].items()}, ".metadata")
        assert not problems, f"{printed_name(sample)}: {problems}"
        assert got["metadata"]["uid"] and got["metadata"]["resourceVersion"] and got["metadata"]["creationTimestamp"]

    again = fresh.run("apply", "-f", str(SAMPLES))
    assert [line.rsplit(" ", 1)[0] for line in again.lines] == expected, str(again)
    assert all(line.endswith((" unchanged", " configured")) for line in again.lines), str(again)


def test_create_reviews(fresh: Kubectl) -> None:
    """kubectl create -f of each create-only kind validates it (OpenAPI) and prints the answer."""
    out = fresh.run("create", "-f", str(REVIEWS), "-o", "json")
    by_kind = {o["kind"]: o for o in json_documents(out.stdout)}
    assert sorted(by_kind) == sorted(d["kind"] for d in documents(REVIEWS))
    assert by_kind["SubjectAccessReview"]["status"]["allowed"] is False  # jane has no binding
    assert by_kind["SelfSubjectAccessReview"]["status"]["allowed"] is True  # the admin
    assert by_kind["LocalSubjectAccessReview"]["status"]["allowed"] is False
    rules = by_kind["SelfSubjectRulesReview"]["status"]["resourceRules"]
    assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in rules
    assert by_kind["SelfSubjectReview"]["status"]["userInfo"]["groups"][-1] == "system:authenticated"
    assert by_kind["TokenReview"]["status"].get("authenticated") is not True


@pytest.mark.parametrize("field, expect", [
    ("storageclass.provisioner", "provisioner indicates the type of the provisioner."),
    ("priorityclass.value", "value represents the integer value of this priority class."),
    ("endpointslice.addressType", "addressType specifies the type of address carried by this EndpointSlice."),
    ("validatingwebhookconfiguration.webhooks.sideEffects", "SideEffects states whether this webhook has side effects."),
    ("flowschema.spec.matchingPrecedence", "`matchingPrecedence` is used to choose among the FlowSchemas"),
])
def test_explain(kubectl: Kubectl, field: str, expect: str) -> None:
    out = kubectl.run("explain", field)
    assert expect in " ".join(out.stdout.split()), str(out)


def test_explain_from_openapi_v2(kubectl: Kubectl) -> None:
    """The Swagger 2.0 document (protobuf, as kubectl reads it) carries the same definitions."""
    out = kubectl.run("explain", "csidriver.spec.attachRequired", "--output=plaintext-openapiv2")
    text = " ".join(out.stdout.split())
    assert "KIND: CSIDriver" in text and "FIELD: attachRequired <boolean>" in text, str(out)
    assert "attachRequired indicates this CSI volume driver requires an attach operation" in text, str(out)


def test_python_client_lists_and_creates_every_kind(start_emulator: Callable[..., Emulator]) -> None:
    """Debian's python3-kubernetes: its dynamic client finds every served kind through discovery,
    lists each, and creates every sample."""
    from kubernetes import config, dynamic
    from kubernetes.dynamic.resource import ResourceList

    emulator = start_emulator()
    api = config.new_client_from_config(config_file=str(emulator.kubeconfig), context="flotilla-dev")
    try:
        client = dynamic.DynamicClient(api)
        client.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": "kinds"}})
        listed = set()
        for resource in client.resources.search():
            if isinstance(resource, ResourceList) or "list" not in (resource.verbs or []) or "/" in resource.name:
                continue
            result = client.get(resource)
            assert result.kind == f"{resource.kind}List", (resource.group_version, resource.name, result.kind)
            listed.add((resource.group_version, resource.kind))
        assert listed == {(d["apiVersion"], d["kind"]) for d in documents(SAMPLES)} | {("v1", "ComponentStatus")}
        for sample in documents(SAMPLES):
            resource = client.resources.get(api_version=sample["apiVersion"], kind=sample["kind"])
            namespace = sample["metadata"].get("namespace")
            created = resource.create(body=sample, namespace=namespace)
            assert (created.kind, created.metadata.name) == (sample["kind"], sample["metadata"]["name"])
            assert (sample["apiVersion"], sample["kind"]) in listed
            got = resource.get(name=sample["metadata"]["name"], namespace=namespace)
            assert got.metadata.uid == created.metadata.uid
    finally:
        api.close()


def test_one_event_at_both_versions(fresh: Kubectl) -> None:
    """events.k8s.io/v1 Events are core Events: the note is the message, both lists show both."""
    samples = {d["metadata"]["name"]: d for d in documents(SAMPLES) if d["kind"] == "Event"}
    fresh.apply({"apiVersion": "v1", "kind": "List", "items": list(samples.values())})
    core = fresh.json("get", "events.v1.", "-n", "kinds", "sample-events-v1")
    assert core["apiVersion"] == "v1"
    assert core["message"] == samples["sample-events-v1"]["note"]
    assert core["involvedObject"] == samples["sample-events-v1"]["regarding"]
    assert core["reportingComponent"] == samples["sample-events-v1"]["reportingController"]
    newer = fresh.json("get", "events.v1.events.k8s.io", "-n", "kinds", "sample")
    assert newer["apiVersion"] == "events.k8s.io/v1"
    assert newer["note"] == samples["sample"]["message"]
    assert newer["regarding"] == samples["sample"]["involvedObject"]
    assert newer["deprecatedCount"] == samples["sample"]["count"]
    listed = fresh.run("get", "events", "-n", "kinds", "-o", "name")
    assert sorted(listed.lines) == ["event/sample", "event/sample-events-v1"], str(listed)
    by_regarding = fresh.run("get", "events.events.k8s.io", "-n", "kinds", "-o", "name",
                             "--field-selector", "reportingController=example.com/sample-controller")
    assert by_regarding.lines == ["event.events.k8s.io/sample-events-v1"], str(by_regarding)
    by_involved = fresh.run("get", "events.v1.", "-n", "kinds", "-o", "name",
                            "--field-selector", "reportingComponent=example.com/sample-controller")
    assert by_involved.lines == ["event/sample-events-v1"], str(by_involved)


def test_one_autoscaler_at_both_versions(fresh: Kubectl) -> None:
    """autoscaling/v1's CPU target is autoscaling/v2's cpu Utilization metric, both ways."""
    hpas = {d["metadata"]["name"]: d for d in documents(SAMPLES) if d["kind"] == "HorizontalPodAutoscaler"}
    fresh.apply({"apiVersion": "v1", "kind": "List", "items": list(hpas.values())})
    as_v2 = fresh.json("get", "horizontalpodautoscalers.v2.autoscaling", "-n", "kinds", "sample-v1")
    assert as_v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": hpas["sample-v1"]["spec"]["targetCPUUtilizationPercentage"]}}}]
    as_v1 = fresh.json("get", "horizontalpodautoscalers.v1.autoscaling", "-n", "kinds", "sample-v2")
    cpu = next(m for m in hpas["sample-v2"]["spec"]["metrics"] if m["resource"]["name"] == "cpu")
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"]["targetCPUUtilizationPercentage"] == cpu["resource"]["target"]["averageUtilization"]
    assert "metrics" not in as_v1["spec"]


def test_dev_syncs_your_own_repository(tmp_path: Path, kubectl_binaries: dict) -> None:
    """`flotilla dev --from-repo PATH`: a repository holding every built-in kind syncs in dev mode."""
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kinds"}}
    (repo / "deploy" / "namespace.yaml").write_text(yaml.safe_dump(namespace))
    (repo / "deploy" / "kinds.yaml").write_text(SAMPLES.read_text())
    (repo / "README.md").write_text("not synced: outside --path\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(repo)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "every kind"], check=True)

    workdir = tmp_path / "dev"
    dev = Emulator(workdir, ["--from-repo", str(repo), "--path", "deploy", "--demo-dir", str(workdir / "state"),
                             "--receiver-port", "0"], api_only=False).start()
    try:
        # Printed with the KUBECONFIG= line that start() waits for, but read by another thread: wait for it.
        dev.wait_until("the Syncing line", lambda: any(line.startswith("Syncing file://") for line in dev.stdout_lines), timeout=10)
        path = "/apis/flotilla.dev/v1alpha1/namespaces/flotilla-dev/fluxinstances/repo"

        def ready() -> dict | None:
            r = dev.request("GET", path)
            if r.status != 200:
                return None
            conditions = {c["type"]: c for c in r.json().get("status", {}).get("conditions", [])}
            return r.json() if conditions.get("Ready", {}).get("status") == "True" else None

        instance = dev.wait_until("the FluxInstance to be Ready", ready, timeout=90)
        assert (instance["spec"]["git"]["url"], instance["spec"]["git"]["readonly"]) == (f"file://{repo}", True)
        assert instance["status"]["counts"]["applied"] == len(documents(SAMPLES)) + 1  # and the Namespace
        tags = subprocess.run(git + ["tag"], capture_output=True, text=True, check=True).stdout
        assert tags == "", f"dev mode wrote to the repository: {tags}"
        binary, _ = kubectl_binaries["kubectl-1.32"]
        kubectl = Kubectl(binary, "kubectl-1.32", dev, tmp_path / "kubectl")
        live = kubectl.json("get", "-f", str(SAMPLES), "--show-managed-fields")
        assert [(o["kind"], o["metadata"]["name"]) for o in live["items"]] == \
            [(d["kind"], d["metadata"]["name"]) for d in documents(SAMPLES)]
        for o in live["items"]:  # written by the instance's server-side apply, not by this test
            managers = {e["manager"] for e in o["metadata"].get("managedFields", [])}
            assert SYNC_MANAGER in managers, (o["kind"], o["metadata"]["name"], managers)
    finally:
        dev.stop()


def test_printed_columns(fresh: Kubectl) -> None:
    """kubectl get prints the columns a 1.30 server sends for these kinds (server-side printing)."""
    samples = {(d["kind"], d["metadata"]["name"]): d for d in documents(SAMPLES)}
    fresh.run("apply", "-f", str(SAMPLES))

    def table(*args: str) -> list[list[str]]:
        return [line.split(None) for line in fresh.run("get", *args).lines]

    sc = samples[("StorageClass", "sample")]
    rows = table("storageclass", "sample")
    assert rows[0] == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
    assert rows[1][:5] == ["sample", sc["provisioner"], sc.get("reclaimPolicy", "Delete"),
                           sc.get("volumeBindingMode", "Immediate"), str(sc.get("allowVolumeExpansion", False)).lower()]
    pc = samples[("PriorityClass", "sample")]
    rows = table("priorityclass", "sample")
    assert rows[0] == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert rows[1][:3] == ["sample", str(pc["value"]), str(pc.get("globalDefault", False)).lower()]
    event = samples[("Event", "sample")]
    lines = fresh.run("get", "events", "-n", "kinds", "--field-selector", "metadata.name=sample").lines
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert lines[1].split()[1:4] == [event["type"], event["reason"], f"pod/{event['involvedObject']['name']}"]
    assert lines[1].endswith(event["message"])
    rows = table("cronjobs", "-n", "kinds")
    assert rows[0] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]


def test_dev_refuses_what_is_not_a_repository(tmp_path: Path) -> None:
    """A directory that is not a git repository is refused before anything starts, with the fix."""
    done = subprocess.run([str(flotilla_bin()), "dev", "--from-repo", str(tmp_path), "--port", "0",
                           "--kubeconfig", str(tmp_path / "kc")], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"--from-repo {tmp_path}: not a git repository" in done.stderr, done.stderr
    assert "git init" in done.stderr and done.stdout == ""
