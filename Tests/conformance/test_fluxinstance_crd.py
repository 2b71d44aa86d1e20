"""The FluxInstance CRD (crds/) as users meet it: kubectl apply, get, explain, and rejections.

Runs with kubectl 1.32 and 1.37 against the emulator; the CRD is installed with kubectl itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import Emulator, Kubectl, wait_until

CRD = Path(__file__).resolve().parents[2] / "crds" / "fluxinstances.flotilla.dev.yaml"


def instance(name: str, **git: object) -> dict:
    body: dict = {"git": {"url": "ssh://git@example.com/org/repo", **git}}
    return {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": name}, "spec": body}


@pytest.fixture(scope="module")
def crd_installed(emulator: Emulator, kubectl_binaries: dict) -> None:
    binary, explanation = kubectl_binaries["kubectl-1.32"]
    if binary is None:
        pytest.fail(explanation, pytrace=False)
    Kubectl(binary, "kubectl-1.32", emulator, emulator.workdir / "crd-install").run("apply", "-f", str(CRD))

    def served() -> bool:
        got = emulator.request("GET", "/apis/flotilla.dev/v1alpha1")
        return got.status == 200 and any(r["name"] == "fluxinstances" for r in got.json().get("resources", []))

    wait_until("fluxinstances served", served)


def test_apply_get_and_defaults(kubectl: Kubectl, crd_installed: None, namespace: str) -> None:
    kubectl.apply(instance("apps", paths=["deploy"]), "-n", namespace)
    got = kubectl.json("get", "fluxinstance", "apps", "-n", namespace)
    spec = got["spec"]
    assert spec["git"]["pollInterval"] == "5m"
    assert spec["git"]["syncTag"] == "flux-sync"
    assert spec["git"]["readonly"] is False
    assert spec["sync"] == {"interval": "5m", "timeout": "1m", "deletionPolicy": "Orphan", "wait": False, "healthTimeout": "5m",
                            "driftCorrection": "revert", "garbageCollection": {"enabled": False, "dryRun": False, "maxDeletePercent": 50}}
    assert spec["suspend"] is False
    assert "registry" not in spec, "image automation is off unless asked for"
    table = kubectl.run("get", "fli", "-n", namespace).lines
    assert table[0].split() == ["NAME", "READY", "STATUS", "REVISION", "BEHIND", "HEALTH", "AGE"]
    assert table[1].split()[0] == "apps"
    wide = kubectl.run("get", "fluxinstances", "-n", namespace, "-o", "wide").lines
    assert "URL" in wide[0].split()
    assert "ssh://git@example.com/org/repo" in wide[1]


@pytest.mark.parametrize("spec, field", [
    ({"git": {"url": "ssh://git@example.com/r", "pollInterval": "soon"}}, "spec.git.pollInterval"),
    ({"git": {"url": "ssh://git@example.com/r"}, "sync": {"deletionPolicy": "Purge"}}, "spec.sync.deletionPolicy"),
    ({"git": {"url": "ssh://git@example.com/r"}, "sync": {"garbageCollection": {"maxDeletePercent": 150}}},
     "spec.sync.garbageCollection.maxDeletePercent"),
    ({"git": {"url": "not a url"}}, "spec.git.url"),
    ({"git": {}}, "spec.git.url"),
    ({"git": {"url": "ssh://git@example.com/r", "secretRef": {}}}, "spec.git.secretRef.name"),
    ({"git": {"url": "ssh://git@example.com/r"}, "registry": {"rps": "fast"}}, "spec.registry.rps"),
    ({"git": {"url": "ssh://git@example.com/r"}, "registry": {"burst": 0}}, "spec.registry.burst"),
    ({"git": {"url": "ssh://git@example.com/r"}, "automation": {"interval": "hourly"}}, "spec.automation.interval"),
    ({"git": {"url": "ssh://git@example.com/r"}, "registry": {"dockerConfigSecretRef": {}}}, "spec.registry.dockerConfigSecretRef.name"),
], ids=["duration", "deletion-policy", "percent", "url-pattern", "url-required", "secret-name",
        "registry-rps", "registry-burst", "automation-interval", "docker-config-name"])
def test_bad_spec_is_rejected_with_the_field_path(kubectl: Kubectl, crd_installed: None, namespace: str,
                                                  spec: dict, field: str) -> None:
    manifest = {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "bad"}, "spec": spec}
    result = kubectl.fails("apply", "-f", "-", "-n", namespace, stdin=__import__("json").dumps(manifest))
    assert "is invalid" in result.stderr
    assert field in result.stderr, result.stderr


def test_explain(kubectl: Kubectl, crd_installed: None) -> None:
    out = kubectl.run("explain", "fluxinstance.spec.sync.deletionPolicy").stdout
    assert "What happens to synced objects when the FluxInstance is deleted." in out


def test_registry_defaults(kubectl: Kubectl, crd_installed: None, namespace: str) -> None:
    manifest = {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "images"},
                "spec": {"git": {"url": "ssh://git@example.com/r"}, "registry": {}, "automation": {}}}
    kubectl.apply(manifest, "-n", namespace)
    spec = kubectl.json("get", "fluxinstance", "images", "-n", namespace)["spec"]
    assert spec["registry"] == {"disableScanning": False, "excludeImages": ["k8s.gcr.io/*", "registry.k8s.io/*"],
                                "rps": 50, "burst": 10, "pollInterval": "5m"}
    assert spec["automation"] == {"interval": "5m"}
