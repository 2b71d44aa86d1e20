"""Answers of kube-apiserver 1.30 the 1.24 recording does not hold, checked on the wire and with kubectl.

Each expected body is what the 1.30 source produces (the file each comes from is named):
decode errors (apiserver handlers/rest.go transformDecodeError, handlers/patch.go), media types
(handlers/negotiation/errors.go; go-restful's 415 for a PATCH type a built-in route does not
consume), apply without a manager (PatchOptions validation), field selectors (pkg/apis/*/conversion.go),
the events.k8s.io/v1 view of core Events, paths that fall through to the not-found handler.
"""

from __future__ import annotations

import json

from harness import Emulator, Kubectl, create_namespace, install_crd, widget_crd_manifest

STATUS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {**STATUS, "code": code, "reason": reason, "message": message}
    if details is not None:
        body["details"] = details
    return body


def test_create_with_a_body_that_is_not_json(emulator: Emulator) -> None:
    ns = create_namespace(emulator, "decode")
    r = emulator.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b'{"kind":')
    assert (r.status, r.json()) == (400, status(400, "BadRequest", "the object provided is unrecognized (must be of type "
                                                "ConfigMap): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"kind\":)"))
    r = emulator.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt", b"not json")
    assert r.json()["message"] == ("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; "
                                   "json parse error: invalid character 'o' in literal null (expecting 'u') (6e6f74206a736f6e)")
    r = emulator.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b'{"kind":"ConfigMap"}}')
    assert r.json()["message"].endswith("json parse error: invalid character '}' after top-level value ({\"kind\":\"ConfigMap\"}})")


def test_patches_that_are_not_json(emulator: Emulator) -> None:
    ns = create_namespace(emulator, "patchdecode")
    path = f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt"
    r = emulator.request("PATCH", path, b"{bad", content_type="application/merge-patch+json")
    assert (r.status, r.json()) == (400, status(400, "BadRequest", "error decoding patch: invalid character 'b' looking for "
                                                "beginning of object key string"))
    r = emulator.request("PATCH", path, b'{"data":', content_type="application/strategic-merge-patch+json")
    assert (r.status, r.json()["message"]) == (400, "unexpected end of JSON input")
    # A patch cannot create: the missing object is found missing before its body is read.
    r = emulator.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/nope", b"{bad", content_type="application/merge-patch+json")
    assert (r.status, r.json()["reason"]) == (404, "NotFound")


def test_media_types(emulator: Emulator) -> None:
    ns = create_namespace(emulator, "media")
    r = emulator.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b"x", content_type="text/plain")
    assert (r.status, r.json()) == (415, status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                "accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"))
    r = emulator.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt", {"data": {}}, content_type="application/json")
    assert (r.status, r.json()) == (415, status(415, "UnsupportedMediaType", "415: Unsupported Media Type", {}))
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n"
    r = emulator.request("POST", f"/api/v1/namespaces/{ns}/configmaps", yaml_body, content_type="application/yaml")
    assert (r.status, r.json()["data"]) == (201, {"a": "b"})


def test_apply_without_a_field_manager(emulator: Emulator) -> None:
    ns = create_namespace(emulator, "nomanager")
    r = emulator.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/x", b"{}", content_type="application/apply-patch+yaml")
    assert (r.status, r.json()) == (422, status(
        422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
            {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]}))


def test_field_selectors(kubectl: Kubectl, emulator: Emulator) -> None:
    ns = create_namespace(emulator, "fields")
    out = kubectl.fails("get", "configmaps", "-n", ns, "--field-selector", "spec.x=1")
    assert '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"' in out.stderr, str(out)
    out = kubectl.fails("get", "pods", "-n", ns, "--field-selector", "spec.x=1")
    assert "field label not supported: spec.x" in out.stderr, str(out)
    # 1.30 has no Service field labels (spec.clusterIP and spec.type arrived in 1.31).
    out = kubectl.fails("get", "services", "-n", ns, "--field-selector", "spec.type=ClusterIP")
    assert '"spec.type" is not a known field selector' in out.stderr, str(out)
    r = emulator.request("GET", f"/api/v1/namespaces/{ns}/pods?fieldSelector=a")
    assert (r.status, r.json()["message"]) == (400, "invalid selector: 'a'; can't understand 'a'")
    emulator.must("POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    # A pod without hostNetwork is selected by spec.hostNetwork=false, as its selectable fields say.
    out = kubectl.run("get", "pods", "-n", ns, "--field-selector", "spec.hostNetwork=false", "-o", "name")
    assert out.lines == ["pod/p"], str(out)


def test_events_k8s_io_needs_an_event_time(emulator: Emulator) -> None:
    ns = create_namespace(emulator, "evtime")
    r = emulator.request("POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"},
        "regarding": {"kind": "Pod", "name": "p", "namespace": ns}, "note": "n", "reason": "R", "type": "Normal"})
    assert (r.status, r.json()) == (422, status(422, "Invalid", 'Event "e1" is invalid: eventTime: Required value', {
        "name": "e1", "kind": "Event", "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "eventTime"}]}))
    created = emulator.must("POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "example.com/c", "reportingInstance": "c-0", "action": "Sync", "reason": "Synced",
        "regarding": {"kind": "Pod", "name": "p", "namespace": ns}, "note": "the note", "type": "Normal"})
    assert created["note"] == "the note"
    core = emulator.must("GET", f"/api/v1/namespaces/{ns}/events/e2")
    assert (core["message"], core["involvedObject"]["name"], core["reportingComponent"]) == ("the note", "p", "example.com/c")
    assert (core["firstTimestamp"], core["source"]) == (None, {})


def test_paths_past_the_served_groups(emulator: Emulator) -> None:
    """A removed CRD's list falls through to Go's text 404; an unknown built-in path is a Status."""
    crd = widget_crd_manifest("gone.flotilla.dev", "gw")
    install_crd(emulator, crd)
    ns = create_namespace(emulator, "gone")
    assert emulator.request("GET", f"/apis/gone.flotilla.dev/v1/namespaces/{ns}/widgets").status == 200
    emulator.must("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}")
    emulator.wait_until("the CRD to be gone", lambda: emulator.request(
        "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}").status == 404)
    for path in [f"/apis/gone.flotilla.dev/v1/namespaces/{ns}/widgets", "/apis/gone.flotilla.dev/v1", "/apis/nope.example.com"]:
        r = emulator.request("GET", path)
        assert (r.status, r.content_type, r.body) == (404, "text/plain; charset=utf-8", b"404 page not found\n"), path
    r = emulator.request("GET", "/apis/apps/v1/foos")
    assert (r.status, r.json()) == (404, status(404, "NotFound", "the server could not find the requested resource", {}))
    r = emulator.request("GET", "/apis/authentication.k8s.io/v1/tokenreviews")
    assert (r.status, r.json()["reason"], r.json()["message"]) == (
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def test_rules_review_of_a_plain_user(emulator: Emulator) -> None:
    """An authenticated user with no bindings sees 1.30's basic-user, discovery and public-info rules."""
    ns = create_namespace(emulator, "rules")
    emulator.must("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "plain"}})
    token = emulator.must("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/plain/token", {"spec": {}})["status"]["token"]
    r = emulator.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                         {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}},
                         token=token)
    body = r.json()
    assert (r.status, body["metadata"], body["spec"]) == (201, {"creationTimestamp": None}, {})
    rules = body["status"]["resourceRules"]
    assert {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]} in rules, json.dumps(rules)
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in rules
    urls = [sorted(r["nonResourceURLs"]) for r in body["status"]["nonResourceRules"]]
    assert ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
            "/version", "/version/"] in urls
    assert body["status"]["incomplete"] is False


def test_kubectl_shows_the_servers_words(kubectl: Kubectl, emulator: Emulator, tmp_path) -> None:
    """What kubectl prints for a body the server cannot decode and for a removed CRD's objects."""
    ns = create_namespace(emulator, "words")
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind":')
    out = kubectl.fails("create", "--raw", f"/api/v1/namespaces/{ns}/configmaps", "-f", str(bad))
    assert ("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; "
            "json parse error: unexpected end of JSON input") in out.stderr, str(out)
    group = f"w{kubectl.label[-2:]}.gone.flotilla.dev"
    crd = widget_crd_manifest(group, f"gw{kubectl.label[-2:]}")
    install_crd(emulator, crd)
    kubectl.run("get", f"widgets.{group}", "-n", ns)  # discovery now caches the kind
    emulator.must("DELETE", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}")
    emulator.wait_until("the CRD to be gone", lambda: emulator.request("GET", f"/apis/{group}/v1").status == 404)
    out = kubectl.fails("get", "--raw", f"/apis/{group}/v1/namespaces/{ns}/widgets")
    assert "the server could not find the requested resource" in out.stderr, str(out)


def test_metadata_only_reads(emulator: Emulator) -> None:
    """client-go's metadata client (handlers/response.go asPartialObjectMetadata[List]): the
    metadata of each object, managedFields included, under meta.k8s.io/v1 kinds; the wrong form
    for the request is 406."""
    ns = create_namespace(emulator, "partial")
    for name in ("m1", "m2"):
        r = emulator.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"set": "x"}}, "data": {"k": "v"}})
        assert r.status == 201
    as_list = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"}
    r = emulator.request("GET", f"/api/v1/namespaces/{ns}/configmaps?labelSelector=set%3Dx", headers=as_list)
    body = r.json()
    assert (r.status, body["kind"], body["apiVersion"]) == (200, "PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"].isdigit()
    assert [(i["kind"], i["apiVersion"], i["metadata"]["name"]) for i in body["items"]] == [
        ("PartialObjectMetadata", "meta.k8s.io/v1", "m1"), ("PartialObjectMetadata", "meta.k8s.io/v1", "m2")]
    item = body["items"][0]
    assert set(item) == {"kind", "apiVersion", "metadata"}, "no data, only metadata"
    assert item["metadata"]["managedFields"][0]["manager"] == "Python-urllib"
    full = emulator.request("GET", f"/api/v1/namespaces/{ns}/configmaps/m1").json()
    assert item["metadata"] == full["metadata"]

    as_object = {"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"}
    r = emulator.request("GET", f"/api/v1/namespaces/{ns}/configmaps/m1", headers=as_object)
    assert (r.status, r.json()) == (200, {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": full["metadata"]})
    r = emulator.request("GET", f"/api/v1/namespaces/{ns}/configmaps", headers=as_object)
    assert (r.status, r.json()["reason"]) == (406, "NotAcceptable")
    r = emulator.request("GET", f"/api/v1/namespaces/{ns}/configmaps/m1", headers=as_list)
    assert (r.status, r.json()["reason"]) == (406, "NotAcceptable")
