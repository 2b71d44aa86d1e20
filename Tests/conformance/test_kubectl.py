"""kubectl 1.32 and 1.37 against the emulator.

Every test runs once per kubectl version (ids kubectl-1.32 / kubectl-1.37) in its own
namespace, and asserts what kubectl prints or what the server then holds: a real
kube-apiserver passes every assertion here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import yaml

from harness import (
    WIDGET_GROUP, Emulator, Kubectl, Result, json_documents, unique_suffix, wait_for_root_ca,
    wait_until, widget_crd_manifest,
)

#: How kubectl names a Widget in its messages ("widget.conformance.flotilla.dev/w1 created").
W = f"widget.{WIDGET_GROUP}"
AGE = re.compile(r"^\d+(s|m\d*s?)$")


def widget(name: str, **spec: object) -> dict:
    return {"apiVersion": f"{WIDGET_GROUP}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def configmap(name: str, *, labels: dict | None = None, data: dict | None = None,
              finalizers: list[str] | None = None) -> dict:
    metadata: dict = {"name": name}
    if labels:
        metadata["labels"] = labels
    if finalizers:
        metadata["finalizers"] = finalizers
    manifest: dict = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}
    if data is not None:
        manifest["data"] = data
    return manifest


def deleted_message(kind: str, name: str) -> re.Pattern[str]:
    # kubectl >= 1.33 names the namespace: `configmap "x" deleted from ns namespace`.
    return re.compile(rf'{kind} "{re.escape(name)}" deleted( from \S+ namespace)?')


def rows(result: Result) -> list[list[str]]:
    return [line.split() for line in result.lines]


def managers(obj: dict) -> dict[str, dict]:
    return {entry["manager"]: entry for entry in obj["metadata"].get("managedFields", [])}


# ---------------------------------------------------------------------------
# CRDs, discovery, explain
# ---------------------------------------------------------------------------


def test_apply_crd(kubectl: Kubectl, emulator: Emulator) -> None:
    group = f"g{unique_suffix()}.flotilla.dev"
    short = f"w{unique_suffix()}"
    crd = widget_crd_manifest(group, short)
    name = f"widgets.{group}"
    try:
        r = kubectl.apply(crd)
        assert r.stdout.strip() == f"customresourcedefinition.apiextensions.k8s.io/{name} created", str(r)
        r = kubectl.run("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")
        assert r.stdout.strip() == f"customresourcedefinition.apiextensions.k8s.io/{name} condition met", str(r)
        r = kubectl.apply(crd)
        assert r.stdout.strip() == f"customresourcedefinition.apiextensions.k8s.io/{name} unchanged", str(r)

        got = kubectl.json("get", "crd", name)
        assert got["spec"]["names"] == {"kind": "Widget", "listKind": "WidgetList", "plural": "widgets",
                                        "singular": "widget", "shortNames": [short]}
        assert got["status"]["acceptedNames"]["kind"] == "Widget"
        assert got["status"]["storedVersions"] == ["v1"]
        assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]
        columns = got["spec"]["versions"][0]["additionalPrinterColumns"]
        assert [c["name"] for c in columns] == ["Ready", "Mode", "Replicas", "URL", "Age"]

        r = kubectl.run("api-resources", f"--api-group={group}")
        assert rows(r)[1:] == [["widgets", short, f"{group}/v1", "true", "Widget"]], str(r)
    finally:
        emulator.delete_crd(name)


def test_api_resources(kubectl: Kubectl, widget_crd: dict) -> None:
    r = kubectl.run("api-resources")
    table = rows(r)
    assert table[0] == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], str(r)
    for expected in (
        ["deployments", "deploy", "apps/v1", "true", "Deployment"],
        ["configmaps", "cm", "v1", "true", "ConfigMap"],
        ["namespaces", "ns", "v1", "false", "Namespace"],
        ["customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1", "false",
         "CustomResourceDefinition"],
        ["horizontalpodautoscalers", "hpa", "autoscaling/v2", "true", "HorizontalPodAutoscaler"],
        ["leases", "coordination.k8s.io/v1", "true", "Lease"],
        ["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"],
        ["widgets", "wdg", f"{WIDGET_GROUP}/v1", "true", "Widget"],
    ):
        assert expected in table, f"{expected} missing from api-resources:\n{r.stdout}"
    assert not [row for row in table if "/" in row[0]], "subresources must not be listed"

    r = kubectl.run("api-resources", "--api-group=apps", "-o", "name")
    assert {"deployments.apps", "statefulsets.apps", "daemonsets.apps", "replicasets.apps"} <= set(r.lines)

    r = kubectl.run("api-versions")
    assert {"v1", "apps/v1", "batch/v1", "autoscaling/v2", "rbac.authorization.k8s.io/v1",
            "apiextensions.k8s.io/v1", f"{WIDGET_GROUP}/v1"} <= set(r.lines), str(r)


def test_explain(kubectl: Kubectl, widget_crd: dict) -> None:
    r = kubectl.run("explain", "deployment.spec")
    assert re.search(r"^KIND:\s+Deployment$", r.stdout, re.M), str(r)
    assert re.search(r"^VERSION:\s+v1$", r.stdout, re.M), str(r)
    assert re.search(r"^\s+replicas\s+<integer>", r.stdout, re.M), str(r)
    assert re.search(r"^\s+template\s+<\w+>\s+-required-", r.stdout, re.M), str(r)

    r = kubectl.run("explain", "widgets.spec")
    assert re.search(r"^KIND:\s+Widget$", r.stdout, re.M), str(r)
    assert re.search(r"^\s+url\s+<string>\s+-required-", r.stdout, re.M), str(r)
    assert re.search(r"^\s+replicas\s+<integer>", r.stdout, re.M), str(r)


# ---------------------------------------------------------------------------
# Custom resources: apply, printer columns, patch, status, SSA
# ---------------------------------------------------------------------------


def test_client_and_server_side_apply(kubectl: Kubectl, widget_crd: dict, namespace: str) -> None:
    manifest = widget("c1", url="https://example.com/c1", mode="fast", replicas=2)
    r = kubectl.apply(manifest, "-n", namespace)
    assert r.stdout.strip() == f"{W}/c1 created", str(r)
    obj = kubectl.json("get", "widget", "c1", "-n", namespace, "--show-managed-fields")
    # The schema default fills interval; the explicit replicas stays.
    assert obj["spec"] == {"url": "https://example.com/c1", "mode": "fast", "replicas": 2, "interval": "5m"}
    assert obj["metadata"]["generation"] == 1
    last_applied = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["spec"] == manifest["spec"]
    assert managers(obj)["kubectl-client-side-apply"]["operation"] == "Update"

    manifest["spec"]["replicas"] = 3
    r = kubectl.apply(manifest, "-n", namespace)
    assert r.stdout.strip() == f"{W}/c1 configured", str(r)
    r = kubectl.apply(manifest, "-n", namespace)
    assert r.stdout.strip() == f"{W}/c1 unchanged", str(r)
    obj = kubectl.json("get", "widget", "c1", "-n", namespace)
    assert (obj["spec"]["replicas"], obj["metadata"]["generation"]) == (3, 2)

    manifest = widget("s1", url="https://example.com/s1", tags=["a", "b"])
    r = kubectl.apply(manifest, "-n", namespace, "--server-side")
    assert r.stdout.strip() == f"{W}/s1 serverside-applied", str(r)
    obj = kubectl.json("get", "widget", "s1", "-n", namespace, "--show-managed-fields")
    assert obj["spec"] == {"url": "https://example.com/s1", "tags": ["a", "b"], "replicas": 1, "interval": "5m"}
    entry = managers(obj)["kubectl"]
    assert entry["operation"] == "Apply"
    assert {"f:url", "f:tags"} <= set(entry["fieldsV1"]["f:spec"])
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (obj["metadata"].get("annotations") or {})

    # Dropping a field that only this applier owned removes it.
    del manifest["spec"]["tags"]
    r = kubectl.apply(manifest, "-n", namespace, "--server-side")
    assert r.stdout.strip() == f"{W}/s1 serverside-applied", str(r)
    obj = kubectl.json("get", "widget", "s1", "-n", namespace)
    assert "tags" not in obj["spec"], obj["spec"]


def test_printer_columns(kubectl: Kubectl, emulator: Emulator, widget_crd: dict, namespace: str) -> None:
    base = f"/apis/{WIDGET_GROUP}/v1/namespaces/{namespace}/widgets"
    emulator.must("POST", base, widget("w1", url="https://example.com/one", mode="slow", replicas=3))
    emulator.must("PATCH", f"{base}/w1/status", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                  content_type="application/merge-patch+json")
    emulator.must("POST", base, widget("w2", url="https://example.com/two", mode="fast"))
    emulator.must("PATCH", f"{base}/w2/status",
                  {"status": {"conditions": [{"type": "Synced", "status": "True"},
                                             {"type": "Ready", "status": "False"}]}},
                  content_type="application/merge-patch+json")

    r = kubectl.run("get", "widgets", "-n", namespace)
    table = rows(r)
    assert table[0] == ["NAME", "READY", "MODE", "REPLICAS", "AGE"], str(r)
    assert [row[:4] for row in table[1:]] == [["w1", "True", "slow", "3"], ["w2", "False", "fast", "1"]], str(r)
    assert all(AGE.match(row[4]) for row in table[1:]), str(r)

    r = kubectl.run("get", "wdg", "w1", "-n", namespace, "-o", "wide")
    table = rows(r)
    assert table[0] == ["NAME", "READY", "MODE", "REPLICAS", "URL", "AGE"], str(r)
    assert table[1][:5] == ["w1", "True", "slow", "3", "https://example.com/one"], str(r)

    r = kubectl.run("get", f"widgets.{WIDGET_GROUP}", "-n", namespace, "--no-headers",
                    "-o", "custom-columns=NAME:.metadata.name,INTERVAL:.spec.interval")
    assert rows(r) == [["w1", "5m"], ["w2", "5m"]], str(r)


def test_watch_events(kubectl: Kubectl, emulator: Emulator, namespace: str) -> None:
    emulator.must("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                  configmap("w0", labels={"watch": "yes"}))
    watcher = kubectl.background("get", "configmaps", "-n", namespace, "-l", "watch=yes",
                                 "-w", "--output-watch-events", "-o", "json")

    def seen(output: str) -> list[tuple[str, str]]:
        return [(e["type"], e["object"]["metadata"]["name"]) for e in json_documents(output)]

    try:
        # The initial list arrives as ADDED; the watch then starts from the list's resourceVersion.
        watcher.wait_for_output("ADDED event for w0", lambda out: ("ADDED", "w0") in seen(out))
        r = kubectl.apply(configmap("w1", labels={"watch": "yes"}, data={"a": "1"}), "-n", namespace)
        assert r.stdout.strip() == "configmap/w1 created", str(r)
        r = kubectl.run("patch", "configmap", "w1", "-n", namespace, "--type=merge", "-p", '{"data":{"a":"2"}}')
        assert r.stdout.strip() == "configmap/w1 patched", str(r)
        r = kubectl.run("delete", "configmap", "w1", "-n", namespace)
        assert deleted_message("configmap", "w1").fullmatch(r.stdout.strip()), str(r)
        watcher.wait_for_output("DELETED event for w1", lambda out: ("DELETED", "w1") in seen(out))
    finally:
        watcher.stop()

    events = json_documents(watcher.stdout)
    assert seen(watcher.stdout) == [("ADDED", "w0"), ("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")], \
        watcher.describe()
    w1 = [e["object"] for e in events[1:]]
    assert all((o["apiVersion"], o["kind"]) == ("v1", "ConfigMap") for o in w1)
    assert [o.get("data") for o in w1] == [{"a": "1"}, {"a": "2"}, {"a": "2"}]
    versions = [int(o["metadata"]["resourceVersion"]) for o in w1]
    assert versions == sorted(set(versions)), f"resourceVersions must increase: {versions}"


def test_patch_merge_and_json(kubectl: Kubectl, emulator: Emulator, widget_crd: dict, namespace: str) -> None:
    kubectl.apply(widget("p1", url="https://example.com/p", mode="fast", replicas=2), "-n", namespace)

    r = kubectl.run("patch", "widget", "p1", "-n", namespace, "--type=merge", "-p", '{"spec":{"mode":"slow"}}')
    assert r.stdout.strip() == f"{W}/p1 patched", str(r)
    obj = kubectl.json("get", "widget", "p1", "-n", namespace)
    assert obj["spec"] == {"url": "https://example.com/p", "mode": "slow", "replicas": 2, "interval": "5m"}
    assert obj["metadata"]["generation"] == 2

    patch = [{"op": "replace", "path": "/spec/replicas", "value": 5},
             {"op": "add", "path": "/spec/tags", "value": ["blue"]}]
    r = kubectl.run("patch", "widget", "p1", "-n", namespace, "--type=json", "-p", json.dumps(patch))
    assert r.stdout.strip() == f"{W}/p1 patched", str(r)
    obj = kubectl.json("get", "widget", "p1", "-n", namespace)
    assert (obj["spec"]["replicas"], obj["spec"]["tags"], obj["metadata"]["generation"]) == (5, ["blue"], 3)

    # A patch that changes nothing is not a write: same resourceVersion, kubectl says so.
    r = kubectl.run("patch", "widget", "p1", "-n", namespace, "--type=merge", "-p", '{"spec":{"mode":"slow"}}')
    assert r.stdout.strip() == f"{W}/p1 patched (no change)", str(r)
    again = kubectl.json("get", "widget", "p1", "-n", namespace)
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]

    # null in a merge patch deletes the key.
    kubectl.run("patch", "widget", "p1", "-n", namespace, "--type=merge", "-p", '{"spec":{"tags":null}}')
    assert "tags" not in kubectl.json("get", "widget", "p1", "-n", namespace)["spec"]

    # The default patch type for a built-in kind is a strategic merge patch.
    kubectl.apply(configmap("c1", data={"a": "1"}), "-n", namespace)
    r = kubectl.run("patch", "configmap", "c1", "-n", namespace, "-p", '{"data":{"b":"2"}}')
    assert r.stdout.strip() == "configmap/c1 patched", str(r)
    r = kubectl.run("patch", "configmap", "c1", "-n", namespace, "--type=json",
                    "-p", '[{"op":"remove","path":"/data/a"}]')
    assert r.stdout.strip() == "configmap/c1 patched", str(r)
    assert kubectl.json("get", "configmap", "c1", "-n", namespace)["data"] == {"b": "2"}


def test_status_subresource_and_wait(kubectl: Kubectl, widget_crd: dict, namespace: str) -> None:
    kubectl.apply(widget("s1", url="https://example.com/s", mode="fast"), "-n", namespace)

    r = kubectl.fails("wait", "--for=condition=Ready", "widget/s1", "-n", namespace, "--timeout=1s")
    assert "timed out" in r.stderr, str(r)

    waiter = kubectl.background("wait", "--for=condition=Ready", "widget/s1", "-n", namespace, "--timeout=30s")
    try:
        status_patch = {"spec": {"mode": "slow"},
                        "status": {"replicas": 1,
                                   "conditions": [{"type": "Ready", "status": "True", "reason": "Tested",
                                                   "message": "ok"}]}}
        r = kubectl.run("patch", "widget", "s1", "-n", namespace, "--subresource=status", "--type=merge",
                        "-p", json.dumps(status_patch))
        assert r.stdout.strip() == f"{W}/s1 patched", str(r)
        done = waiter.wait(timeout=40)
    finally:
        waiter.stop()
    assert done.returncode == 0, str(done)
    assert done.stdout.strip() == f"{W}/s1 condition met", str(done)

    obj = kubectl.json("get", "widget", "s1", "-n", namespace)
    assert obj["status"]["conditions"] == status_patch["status"]["conditions"]
    # The status subresource ignores spec, and a status write does not move generation.
    assert obj["spec"]["mode"] == "fast"
    assert obj["metadata"]["generation"] == 1

    # The main resource ignores status: the patch changes nothing.
    r = kubectl.run("patch", "widget", "s1", "-n", namespace, "--type=merge",
                    "-p", '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}')
    assert r.stdout.strip() == f"{W}/s1 patched (no change)", str(r)
    assert kubectl.json("get", "widget", "s1", "-n", namespace)["status"]["conditions"][0]["status"] == "True"

    r = kubectl.run("wait", "--for=jsonpath={.status.replicas}=1", "widget/s1", "-n", namespace, "--timeout=20s")
    assert r.stdout.strip() == f"{W}/s1 condition met", str(r)


def test_server_side_apply_conflict(kubectl: Kubectl, widget_crd: dict, namespace: str) -> None:
    first = widget("a1", url="https://example.com/a", mode="fast")
    r = kubectl.apply(first, "-n", namespace, "--server-side", "--field-manager=a")
    assert r.stdout.strip() == f"{W}/a1 serverside-applied", str(r)

    # Same url (shared, no conflict), different mode (owned by "a": conflict).
    second = widget("a1", url="https://example.com/a", mode="slow")
    r = kubectl.apply(second, "-n", namespace, "--server-side", "--field-manager=b", check=False)
    assert r.returncode != 0, str(r)
    assert 'Apply failed with 1 conflict: conflict with "a": .spec.mode' in r.stderr, str(r)
    assert kubectl.json("get", "widget", "a1", "-n", namespace)["spec"]["mode"] == "fast"

    r = kubectl.apply(second, "-n", namespace, "--server-side", "--field-manager=b", "--force-conflicts")
    assert r.stdout.strip() == f"{W}/a1 serverside-applied", str(r)
    obj = kubectl.json("get", "widget", "a1", "-n", namespace, "--show-managed-fields")
    assert obj["spec"]["mode"] == "slow"
    owners = managers(obj)
    assert owners["b"]["operation"] == "Apply"
    assert {"f:mode", "f:url"} <= set(owners["b"]["fieldsV1"]["f:spec"])
    assert "f:url" in owners["a"]["fieldsV1"]["f:spec"]
    assert "f:mode" not in owners["a"]["fieldsV1"]["f:spec"]
    # kubectl hides managedFields unless asked.
    assert "managedFields" not in kubectl.json("get", "widget", "a1", "-n", namespace)["metadata"]


def test_invalid_custom_resource(kubectl: Kubectl, widget_crd: dict, namespace: str) -> None:
    bad = widget("bad", url="ftp://example.com", mode="turbo", replicas=-1)
    r = kubectl.apply(bad, "-n", namespace, check=False)
    assert r.returncode != 0, str(r)
    assert 'The Widget "bad" is invalid' in r.stderr, str(r)
    for message in (
        'spec.mode: Unsupported value: "turbo": supported values: "fast", "slow"',
        "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
        "spec.url: Invalid value: \"ftp://example.com\": spec.url in body should match '^https?://'",
    ):
        assert message in r.stderr, f"missing {message!r}\n{r}"

    missing = {"apiVersion": f"{WIDGET_GROUP}/v1", "kind": "Widget", "metadata": {"name": "bad2"},
               "spec": {"mode": "fast"}}
    r = kubectl.apply(missing, "-n", namespace, check=False)
    assert r.returncode != 0, str(r)
    # From the server (spec.url: Required value) or, when the server's OpenAPI does not offer
    # fieldValidation, from kubectl's own schema check (missing required field "url").
    assert "spec.url: Required value" in r.stderr or 'missing required field "url"' in r.stderr, str(r)

    r = kubectl.fails("get", "widget", "bad", "-n", namespace)
    assert f'widgets.{WIDGET_GROUP} "bad" not found' in r.stderr, str(r)


def test_scale_custom_resource(kubectl: Kubectl, emulator: Emulator, widget_crd: dict, namespace: str) -> None:
    kubectl.apply(widget("sc", url="https://example.com/sc"), "-n", namespace)
    r = kubectl.run("scale", "widget", "sc", "--replicas=4", "-n", namespace)
    assert r.stdout.strip() == f"{W}/sc scaled", str(r)
    obj = kubectl.json("get", "widget", "sc", "-n", namespace)
    assert (obj["spec"]["replicas"], obj["metadata"]["generation"]) == (4, 2)

    base = f"/apis/{WIDGET_GROUP}/v1/namespaces/{namespace}/widgets/sc"
    emulator.must("PATCH", f"{base}/status", {"status": {"replicas": 4}}, content_type="application/merge-patch+json")
    scale = emulator.must("GET", f"{base}/scale")
    assert (scale["apiVersion"], scale["kind"]) == ("autoscaling/v1", "Scale")
    assert (scale["spec"], scale["status"]) == ({"replicas": 4}, {"replicas": 4})


# ---------------------------------------------------------------------------
# Built-in kinds: finalizers, optimistic concurrency, deployments, selectors
# ---------------------------------------------------------------------------


def test_delete_held_by_finalizer(kubectl: Kubectl, namespace: str) -> None:
    finalizer = f"{WIDGET_GROUP}/hold"
    kubectl.apply(configmap("held", data={"k": "v"}, finalizers=[finalizer]), "-n", namespace)
    r = kubectl.run("delete", "configmap", "held", "-n", namespace, "--wait=false")
    assert deleted_message("configmap", "held").fullmatch(r.stdout.strip()), str(r)

    obj = kubectl.json("get", "configmap", "held", "-n", namespace)
    assert obj["metadata"].get("deletionTimestamp"), obj["metadata"]
    assert obj["metadata"]["finalizers"] == [finalizer]
    assert obj["data"] == {"k": "v"}

    r = kubectl.run("patch", "configmap", "held", "-n", namespace, "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}')
    assert r.stdout.strip() == "configmap/held patched", str(r)

    def gone() -> Result | None:
        result = kubectl.run("get", "configmap", "held", "-n", namespace, check=False)
        return result if result.returncode != 0 else None

    r = wait_until("configmap held to disappear", gone, timeout=10)
    assert 'Error from server (NotFound): configmaps "held" not found' in r.stderr, str(r)


def test_stale_replace(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(configmap("stale", data={"v": "1"}), "-n", namespace)
    old = yaml.safe_load(kubectl.run("get", "configmap", "stale", "-n", namespace, "-o", "yaml").stdout)
    kubectl.run("patch", "configmap", "stale", "-n", namespace, "--type=merge", "-p", '{"data":{"v":"2"}}')

    old["data"]["v"] = "3"
    r = kubectl.fails("replace", "-f", "-", stdin=json.dumps(old))
    assert ('Operation cannot be fulfilled on configmaps "stale": the object has been modified; '
            "please apply your changes to the latest version and try again") in r.stderr, str(r)
    current = kubectl.json("get", "configmap", "stale", "-n", namespace)
    assert current["data"] == {"v": "2"}

    current["data"]["v"] = "3"
    r = kubectl.run("replace", "-f", "-", stdin=json.dumps(current))
    assert r.stdout.strip() == "configmap/stale replaced", str(r)
    assert kubectl.json("get", "configmap", "stale", "-n", namespace)["data"] == {"v": "3"}


def test_deployment_yaml_roundtrip_and_scale(kubectl: Kubectl, namespace: str) -> None:
    r = kubectl.run("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "-n", namespace)
    assert r.stdout.strip() == "deployment.apps/web created", str(r)

    text = kubectl.run("get", "deploy", "web", "-n", namespace, "-o", "yaml").stdout
    doc = yaml.safe_load(text)
    assert (doc["apiVersion"], doc["kind"]) == ("apps/v1", "Deployment")
    assert (doc["metadata"]["name"], doc["metadata"]["namespace"]) == ("web", namespace)
    assert "managedFields" not in doc["metadata"]
    spec = doc["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}
    # Defaults a real apiserver fills in.
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    pod = spec["template"]["spec"]
    assert (pod["restartPolicy"], pod["dnsPolicy"], pod["schedulerName"], pod["terminationGracePeriodSeconds"]) \
        == ("Always", "ClusterFirst", "default-scheduler", 30)
    assert pod["containers"] == [{
        "name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent", "resources": {},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}]

    # The YAML goes back in unchanged: accepted, and not a spec change.
    r = kubectl.run("replace", "-f", "-", stdin=text)
    assert r.stdout.strip() == "deployment.apps/web replaced", str(r)
    after = kubectl.json("get", "deploy", "web", "-n", namespace)
    assert after["spec"] == spec
    assert after["metadata"]["generation"] == doc["metadata"]["generation"]

    r = kubectl.run("scale", "deployment", "web", "--replicas=3", "-n", namespace)
    assert r.stdout.strip() == "deployment.apps/web scaled", str(r)
    r = kubectl.run("get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}")
    assert r.stdout == "3", str(r)
    assert kubectl.json("get", "deploy", "web", "-n", namespace)["metadata"]["generation"] == \
        doc["metadata"]["generation"] + 1
    # kubectl checks --current-replicas against the scale subresource.
    r = kubectl.fails("scale", "deployment", "web", "--current-replicas=2", "--replicas=4", "-n", namespace)
    assert "Expected replicas to be 2, was 3" in r.stderr, str(r)


def test_label_selectors(kubectl: Kubectl, emulator: Emulator, namespace: str) -> None:
    for name, labels in {"web": {"tier": "web"}, "api": {"tier": "api"}, "db": {"tier": "db", "x": "1"},
                         "ab": {"a": "b"}, "ac": {"a": "c"}}.items():
        emulator.must("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap(name, labels=labels))
    wait_for_root_ca(emulator, namespace)

    def names(*selector: str) -> list[str]:
        r = kubectl.run("get", "configmaps", "-n", namespace, *selector, "-o", "name")
        return sorted(line.removeprefix("configmap/") for line in r.lines)

    assert names("-l", "tier in (web,api)") == ["api", "web"]
    assert names("-l", "!x") == ["ab", "ac", "api", "kube-root-ca.crt", "web"]
    assert names("-l", "a!=b") == ["ac", "api", "db", "kube-root-ca.crt", "web"]
    assert names("-l", "a") == ["ab", "ac"]
    assert names("-l", "tier,tier notin (web)") == ["api", "db"]
    assert names("-l", "tier=web,a=b") == []
    assert names("--field-selector", "metadata.name=db") == ["db"]
    assert names("-l", "tier", "--field-selector", "metadata.name!=db") == ["api", "web"]


# ---------------------------------------------------------------------------
# RBAC, impersonation, tokens
# ---------------------------------------------------------------------------


def test_auth_can_i(kubectl: Kubectl, make_namespace: Callable[[], str]) -> None:
    home, elsewhere = make_namespace(), make_namespace()
    r = kubectl.run("create", "serviceaccount", "robot", "-n", home)
    assert r.stdout.strip() == "serviceaccount/robot created", str(r)
    r = kubectl.run("create", "rolebinding", "robot-edit", "--clusterrole=edit",
                    f"--serviceaccount={home}:robot", "-n", home)
    assert r.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/robot-edit created", str(r)

    def can_i(*args: str, **kwargs: object) -> tuple[int, str]:
        result = kubectl.run("auth", "can-i", *args, check=False, **kwargs)
        return result.returncode, result.stdout.strip()

    robot = f"--as=system:serviceaccount:{home}:robot"
    assert can_i("create", "deployments", "-n", home, robot) == (0, "yes")
    assert can_i("create", "deployments", "-n", elsewhere, robot) == (1, "no")
    assert can_i("get", "secrets", "-n", home, robot) == (0, "yes")
    assert can_i("create", "roles", "-n", home, robot) == (1, "no")  # edit cannot touch RBAC
    assert can_i("list", "namespaces", robot) == (1, "no")
    assert can_i("*", "*") == (0, "yes")  # admin is in system:masters
    assert can_i("list", "configmaps", "-n", home, context="bob") == (1, "no")


def test_impersonation(kubectl: Kubectl, emulator: Emulator, namespace: str) -> None:
    # Impersonation headers go on every request, discovery included, and kube-apiserver refuses
    # them all; warm the discovery cache as bob first, as a real kubectl user has it.
    kubectl.run("api-resources", "-o", "name", context="bob")
    r = kubectl.fails("get", "configmaps", "-n", namespace, "--as=someone", context="bob")
    assert ('users "someone" is forbidden: User "bob" cannot impersonate resource "users" '
            'in API group "" at the cluster scope') in r.stderr, str(r)

    emulator.must("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("visible"))
    forbidden = f'configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" ' \
                f'in the namespace "{namespace}"'
    r = kubectl.fails("get", "configmaps", "-n", namespace, "--as=alice")  # admin may impersonate
    assert forbidden in r.stderr, str(r)
    r = kubectl.fails("get", "configmaps", "-n", namespace, context="alice")
    assert forbidden in r.stderr, str(r)

    r = kubectl.run("create", "rolebinding", "developers-view", "--clusterrole=view", "--group=developers",
                    "-n", namespace)
    assert r.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/developers-view created", str(r)
    # alice's own token carries the group developers.
    r = kubectl.run("get", "configmap", "visible", "-n", namespace, "-o", "name", context="alice")
    assert r.stdout.strip() == "configmap/visible", str(r)
    # An impersonated user has only the groups asked for.
    r = kubectl.fails("get", "configmap", "visible", "-n", namespace, "--as=alice")
    assert 'User "alice" cannot get resource "configmaps"' in r.stderr, str(r)
    r = kubectl.run("get", "configmap", "visible", "-n", namespace, "-o", "name",
                    "--as=alice", "--as-group=developers")
    assert r.stdout.strip() == "configmap/visible", str(r)
    # view does not allow writes; bob has nothing.
    r = kubectl.fails("create", "configmap", "nope", "-n", namespace, context="alice")
    assert f'configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" ' \
           f'in the namespace "{namespace}"' in r.stderr, str(r)
    r = kubectl.fails("get", "configmap", "visible", "-n", namespace, context="bob")
    assert 'User "bob" cannot get resource "configmaps"' in r.stderr, str(r)


def test_create_token(kubectl: Kubectl, emulator: Emulator, namespace: str, tmp_path: Path) -> None:
    kubectl.run("create", "serviceaccount", "reader", "-n", namespace)
    kubectl.run("create", "rolebinding", "reader-view", "--clusterrole=view",
                f"--serviceaccount={namespace}:reader", "-n", namespace)
    emulator.must("POST", f"/api/v1/namespaces/{namespace}/configmaps", configmap("visible"))

    token = kubectl.run("create", "token", "reader", "-n", namespace, "--duration=10m").stdout.strip()
    assert token and not re.search(r"\s", token), token

    config = tmp_path / "reader.kubeconfig"
    config.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": emulator.server,
                                                "certificate-authority": str(emulator.ca_file)}}],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": "reader", "context": {"cluster": "c", "user": "reader", "namespace": namespace}}],
        "current-context": "reader",
    }))
    r = kubectl.run("get", "configmap", "visible", "-o", "name", kubeconfig=config)
    assert r.stdout.strip() == "configmap/visible", str(r)
    r = kubectl.fails("get", "secrets", kubeconfig=config)
    assert (f'secrets is forbidden: User "system:serviceaccount:{namespace}:reader" cannot list resource '
            f'"secrets" in API group "" in the namespace "{namespace}"') in r.stderr, str(r)

    # The same token given as flags, with an empty kubeconfig.
    empty = tmp_path / "empty.kubeconfig"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    flags = [f"--server={emulator.server}", f"--certificate-authority={emulator.ca_file}", f"--token={token}"]
    r = kubectl.run(*flags, "auth", "can-i", "list", "configmaps", "-n", namespace, kubeconfig=empty)
    assert r.stdout.strip() == "yes", str(r)
    r = kubectl.run(*flags, "auth", "can-i", "create", "configmaps", "-n", namespace, kubeconfig=empty,
                    check=False)
    assert (r.returncode, r.stdout.strip()) == (1, "no"), str(r)


# ---------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------


def test_namespace_deletion(kubectl: Kubectl, emulator: Emulator, widget_crd: dict,
                            make_namespace: Callable[[], str]) -> None:
    doomed = make_namespace()
    emulator.must("POST", f"/api/v1/namespaces/{doomed}/configmaps", configmap("c"))
    emulator.must("POST", f"/api/v1/namespaces/{doomed}/secrets",
                  {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}})
    emulator.must("POST", f"/apis/{WIDGET_GROUP}/v1/namespaces/{doomed}/widgets",
                  widget("w", url="https://example.com/w"))
    kubectl.run("create", "deployment", "web", "--image=nginx:1.25", "-n", doomed)

    r = kubectl.run("delete", "namespace", doomed, "--timeout=60s", timeout=90)
    assert deleted_message("namespace", doomed).fullmatch(r.stdout.strip()), str(r)
    r = kubectl.fails("get", "namespace", doomed)
    assert f'namespaces "{doomed}" not found' in r.stderr, str(r)

    for resource in ("configmaps", "secrets", "serviceaccounts", "deployments.apps", f"widgets.{WIDGET_GROUP}"):
        def empty() -> bool:
            items = kubectl.json("get", resource, "--all-namespaces")["items"]
            return not [i for i in items if i["metadata"]["namespace"] == doomed]
        wait_until(f"{resource} of namespace {doomed} to disappear", empty, timeout=30)
