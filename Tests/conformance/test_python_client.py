"""Debian's python3-kubernetes client against the emulator.

Notes on this client (v22): CoreV1Api.patch_* sends a dict body as
application/strategic-merge-patch+json, CustomObjectsApi.patch_* as
application/merge-patch+json; Watch().stream() raises ApiException(410) when the server
sends an ERROR event with code 410 (at once when timeout_seconds is given, after one
retry from the same resourceVersion otherwise).
"""

from __future__ import annotations

import json
from typing import Callable, Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from harness import WIDGET_GROUP, Emulator, create_namespace, wait_for_root_ca, widget_crd_manifest

REQUEST_TIMEOUT = 30  # seconds, for every client call (urllib3 read timeout)


def new_client(emulator: Emulator, context: str = "flotilla-dev") -> client.ApiClient:
    return config.new_client_from_config(config_file=str(emulator.kubeconfig), context=context)


@pytest.fixture(scope="module")
def api(emulator: Emulator) -> Iterator[client.ApiClient]:
    api_client = new_client(emulator)
    yield api_client
    api_client.close()


@pytest.fixture
def ns(emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[str]:
    name = create_namespace(emulator, request.node.name)
    yield name
    emulator.request("DELETE", f"/api/v1/namespaces/{name}")


def status_body(error: ApiException) -> dict:
    return json.loads(error.body)


def cm(name: str, labels: dict | None = None, data: dict | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


def test_configmap_crud(api: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(ns, cm("crud", {"app": "x"}, {"a": "1"}),
                                                _request_timeout=REQUEST_TIMEOUT)
    assert (created.metadata.name, created.metadata.namespace, created.data) == ("crud", ns, {"a": "1"})
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp

    with pytest.raises(ApiException) as again:
        core.create_namespaced_config_map(ns, cm("crud"), _request_timeout=REQUEST_TIMEOUT)
    assert again.value.status == 409
    assert status_body(again.value)["reason"] == "AlreadyExists"

    read = core.read_namespaced_config_map("crud", ns, _request_timeout=REQUEST_TIMEOUT)
    assert read.metadata.uid == created.metadata.uid
    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("crud", ns, read, _request_timeout=REQUEST_TIMEOUT)
    assert replaced.data == {"a": "1", "b": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    # Replacing with the now stale copy is a conflict.
    read.data["c"] = "3"
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("crud", ns, read, _request_timeout=REQUEST_TIMEOUT)
    assert stale.value.status == 409
    assert status_body(stale.value)["reason"] == "Conflict"

    patched = core.patch_namespaced_config_map("crud", ns, {"data": {"a": "9"}, "metadata": {"labels": {"p": "y"}}},
                                               _request_timeout=REQUEST_TIMEOUT)
    assert patched.data == {"a": "9", "b": "2"}
    assert patched.metadata.labels == {"app": "x", "p": "y"}

    status = core.delete_namespaced_config_map("crud", ns, _request_timeout=REQUEST_TIMEOUT)
    assert status.status == "Success"
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_config_map("crud", ns, _request_timeout=REQUEST_TIMEOUT)
    assert missing.value.status == 404
    assert status_body(missing.value)["message"] == 'configmaps "crud" not found'


def test_list_selector_and_paging(api: client.ApiClient, emulator: Emulator, ns: str) -> None:
    core = client.CoreV1Api(api)
    wait_for_root_ca(emulator, ns)
    names = [f"page-{i}" for i in range(7)]
    for i, name in enumerate(names):
        core.create_namespaced_config_map(ns, cm(name, {"app": "pager", "parity": "odd" if i % 2 else "even"}),
                                          _request_timeout=REQUEST_TIMEOUT)
    core.create_namespaced_config_map(ns, cm("other", {"app": "else"}), _request_timeout=REQUEST_TIMEOUT)

    selected = core.list_namespaced_config_map(ns, label_selector="app=pager,parity in (odd)",
                                               _request_timeout=REQUEST_TIMEOUT)
    assert [i.metadata.name for i in selected.items] == ["page-1", "page-3", "page-5"]

    def pages(limit: int, **kwargs: str) -> tuple[list[list[str]], list[int | None]]:
        names_seen: list[list[str]] = []
        remaining: list[int | None] = []
        token = None
        while True:
            page = core.list_namespaced_config_map(ns, limit=limit, _continue=token, **kwargs,
                                                   _request_timeout=REQUEST_TIMEOUT)
            names_seen.append([i.metadata.name for i in page.items])
            remaining.append(page.metadata.remaining_item_count)
            token = page.metadata._continue
            if not token:
                return names_seen, remaining
            assert len(names_seen) < 10, "paging does not end"

    # Items come in name order; remainingItemCount is given only for unfiltered lists.
    everything = ["kube-root-ca.crt", "other", *names]
    assert pages(4) == ([everything[0:4], everything[4:8], everything[8:9]], [5, 1, None])
    assert pages(3, label_selector="app=pager") == ([names[0:3], names[3:6], names[6:7]], [None, None, None])


def test_watch_from_list_resource_version(api: client.ApiClient, emulator: Emulator, ns: str) -> None:
    core = client.CoreV1Api(api)
    wait_for_root_ca(emulator, ns)  # so that its creation cannot show up in the watch
    core.create_namespaced_config_map(ns, cm("before"), _request_timeout=REQUEST_TIMEOUT)
    listed = core.list_namespaced_config_map(ns, _request_timeout=REQUEST_TIMEOUT)
    rv = listed.metadata.resource_version

    core.create_namespaced_config_map(ns, cm("a", data={"k": "1"}), _request_timeout=REQUEST_TIMEOUT)
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "2"}}, _request_timeout=REQUEST_TIMEOUT)
    core.create_namespaced_config_map(ns, cm("b"), _request_timeout=REQUEST_TIMEOUT)
    core.delete_namespaced_config_map("a", ns, _request_timeout=REQUEST_TIMEOUT)

    events = list(watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=rv,
                                       timeout_seconds=2, _request_timeout=REQUEST_TIMEOUT))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert [e["object"].data for e in events] == [{"k": "1"}, {"k": "2"}, None, {"k": "2"}]
    versions = [int(e["object"].metadata.resource_version) for e in events]
    assert versions == sorted(set(versions)) and versions[0] > int(rv)


def test_watch_expired_then_relist(start_emulator: Callable[..., Emulator]) -> None:
    emulator = start_emulator("--watch-window", "50")
    api_client = new_client(emulator)
    core = client.CoreV1Api(api_client)
    ns = create_namespace(emulator, "expired")
    wait_for_root_ca(emulator, ns)
    old_rv = core.list_namespaced_config_map(ns, _request_timeout=REQUEST_TIMEOUT).metadata.resource_version

    # Three times the window of writes, so that old_rv has left it whatever it counts.
    for i in range(50):
        core.create_namespaced_config_map(ns, cm(f"churn-{i}"), _request_timeout=REQUEST_TIMEOUT)
    for i in range(50):
        core.patch_namespaced_config_map(f"churn-{i}", ns, {"data": {"i": str(i)}}, _request_timeout=REQUEST_TIMEOUT)
    for i in range(50):
        core.delete_namespaced_config_map(f"churn-{i}", ns, _request_timeout=REQUEST_TIMEOUT)

    # On the wire: a 200 watch whose first event is ERROR with a 410 Expired Status.
    response = core.list_namespaced_config_map(ns, watch=True, resource_version=old_rv, timeout_seconds=2,
                                               _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
    try:
        assert response.status == 200
        line = next(watch.watch.iter_resp_lines(response), None)
    finally:
        response.close()
        response.release_conn()
    assert line is not None, "the watch ended without any event"
    first = json.loads(line)
    assert first["type"] == "ERROR", first
    assert (first["object"]["kind"], first["object"]["code"], first["object"]["reason"]) == ("Status", 410, "Expired")
    assert first["object"]["message"].startswith("too old resource version"), first

    # The client turns that into ApiException(410), with and without timeout_seconds.
    for kwargs in ({"timeout_seconds": 2}, {}):
        with pytest.raises(ApiException) as expired:
            for _ in watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=old_rv,
                                          _request_timeout=REQUEST_TIMEOUT, **kwargs):
                pass
        assert expired.value.status == 410, kwargs
        assert expired.value.reason.startswith("Expired: too old resource version"), expired.value.reason

    # Re-list, resume from the new resourceVersion, and see only what happens next.
    relisted = core.list_namespaced_config_map(ns, _request_timeout=REQUEST_TIMEOUT)
    assert [i.metadata.name for i in relisted.items if i.metadata.name.startswith("churn-")] == []
    core.create_namespaced_config_map(ns, cm("after"), _request_timeout=REQUEST_TIMEOUT)
    events = list(watch.Watch().stream(core.list_namespaced_config_map, ns,
                                       resource_version=relisted.metadata.resource_version,
                                       timeout_seconds=2, _request_timeout=REQUEST_TIMEOUT))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "after")]
    api_client.close()


def test_custom_objects(api: client.ApiClient, emulator: Emulator, ns: str) -> None:
    extensions = client.ApiextensionsV1Api(api)
    crd = widget_crd_manifest(f"py.{WIDGET_GROUP}", "pyw")
    created_crd = extensions.create_custom_resource_definition(crd, _request_timeout=REQUEST_TIMEOUT)
    assert created_crd.spec.names.kind == "Widget"
    group = crd["spec"]["group"]

    def established() -> bool:
        got = extensions.read_custom_resource_definition(crd["metadata"]["name"], _request_timeout=REQUEST_TIMEOUT)
        return any(c.type == "Established" and c.status == "True" for c in (got.status.conditions or []))

    emulator.wait_until("CRD Established", established)
    custom = client.CustomObjectsApi(api)

    def create() -> dict:
        return custom.create_namespaced_custom_object(
            group, "v1", ns, "widgets",
            {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "py1"},
             "spec": {"url": "https://example.com/py", "mode": "fast", "unknown": True}},
            _request_timeout=REQUEST_TIMEOUT)

    # Right after Established a real server may still answer 404 for a moment.
    created = emulator.wait_until("the Widget to be created", lambda: _retry_not_found(create))
    assert created["spec"] == {"url": "https://example.com/py", "mode": "fast", "replicas": 1, "interval": "5m"}
    assert created["metadata"]["generation"] == 1

    status = {"status": {"replicas": 1, "conditions": [{"type": "Ready", "status": "True", "reason": "Py"}]}}
    patched = custom.patch_namespaced_custom_object_status(group, "v1", ns, "widgets", "py1", status,
                                                           _request_timeout=REQUEST_TIMEOUT)
    assert patched["status"] == status["status"]
    assert patched["metadata"]["generation"] == 1

    patched = custom.patch_namespaced_custom_object(group, "v1", ns, "widgets", "py1", {"spec": {"mode": "slow"}},
                                                    _request_timeout=REQUEST_TIMEOUT)
    assert (patched["spec"]["mode"], patched["metadata"]["generation"]) == ("slow", 2)

    got = custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "py1", _request_timeout=REQUEST_TIMEOUT)
    assert got["status"] == status["status"]
    assert got["spec"]["mode"] == "slow"

    listed = custom.list_namespaced_custom_object(group, "v1", ns, "widgets", _request_timeout=REQUEST_TIMEOUT)
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["py1"]

    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object(
            group, "v1", ns, "widgets",
            {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "bad"},
             "spec": {"url": "https://example.com/bad", "mode": "turbo"}},
            _request_timeout=REQUEST_TIMEOUT)
    assert invalid.value.status == 422
    body = status_body(invalid.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"] == [{"reason": "FieldValueNotSupported", "field": "spec.mode",
                                          "message": 'Unsupported value: "turbo": supported values: "fast", "slow"'}]
    emulator.delete_crd(crd["metadata"]["name"])


def _retry_not_found(call):
    try:
        return call()
    except ApiException as error:
        if error.status == 404:
            return None
        raise
