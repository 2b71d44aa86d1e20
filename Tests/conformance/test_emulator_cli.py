"""The `flotilla dev --api-only` command-line contract: output, kubeconfig, identities, signals."""

from __future__ import annotations

import signal
import socket
from typing import Callable

import pytest

from harness import Emulator, create_namespace, wait_until


def test_prints_kubeconfig_and_address(emulator: Emulator) -> None:
    assert f"KUBECONFIG={emulator.kubeconfig}" in emulator.stdout_lines
    assert f"Kubernetes API emulator listening on {emulator.server}" in emulator.stdout_lines


def test_kubeconfig_users_and_contexts(emulator: Emulator) -> None:
    config = emulator.config
    assert config["current-context"] == "flotilla-dev"
    assert {name: (c["cluster"], c["user"]) for name, c in emulator.contexts.items()} == {
        "flotilla-dev": ("flotilla-dev", "admin"), "alice": ("flotilla-dev", "alice"), "bob": ("flotilla-dev", "bob")}
    tokens = [emulator.tokens[user] for user in ("admin", "alice", "bob")]
    assert all(tokens) and len(set(tokens)) == 3


@pytest.mark.parametrize("context, allowed", [("flotilla-dev", True), ("alice", False), ("bob", False)])
def test_identities(emulator: Emulator, context: str, allowed: bool) -> None:
    review = emulator.must("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "list", "resource": "namespaces"}}},
        token=emulator.token_for_context(context))
    assert review["status"]["allowed"] is allowed
    got = emulator.request("GET", "/api/v1/namespaces", token=emulator.token_for_context(context))
    if allowed:
        assert got.status == 200, str(got)
    else:
        user = emulator.contexts[context]["user"]
        assert got.status == 403, str(got)
        assert got.json()["message"] == (f'namespaces is forbidden: User "{user}" cannot list resource '
                                         '"namespaces" in API group "" at the cluster scope')


def test_new_namespace_defaults(emulator: Emulator) -> None:
    namespace = create_namespace(emulator, "defaults")

    def present(path: str) -> dict:
        def get() -> dict | None:
            result = emulator.request("GET", path)
            return result.json() if result.status == 200 else None
        return wait_until(path, get)

    account = present(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
    assert account["metadata"]["name"] == "default"
    root_ca = present(f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")
    # The bundle pods would use to verify the API server: it holds the kubeconfig's CA.
    assert emulator.ca_pem.decode().strip() in root_ca["data"]["ca.crt"]


def test_tokens_are_random_per_start(start_emulator: Callable[..., Emulator]) -> None:
    first, second = start_emulator(), start_emulator()
    assert first.port != second.port
    assert first.admin_token != second.admin_token
    assert first.request("GET", "/api/v1/namespaces", token=second.admin_token).status == 401


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stops_on_signal(start_emulator: Callable[..., Emulator], sig: signal.Signals) -> None:
    running = start_emulator()
    assert running.request("GET", "/version").status == 200
    running.stop(sig, timeout=10)
    assert not running.killed, f"flotilla dev did not stop within 10s of {sig.name}"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=2).close()
