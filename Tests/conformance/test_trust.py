"""Signed commits and SOPS through the built binary: `flotilla run` verifies commits signed by real git with
gpg and ssh keys (spec.git.verify) and refuses an unsigned one, naming it in the status and an
Event; it signs the commits it makes (spec.git.signingKeySecretRef), and `git verify-commit`
accepts them."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from harness import Emulator, Kubectl, Operator, apply_flux_crd, flotilla_bin, wait_until

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app}}\ndata: {{k: {value}}}\n"
WEB = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
       "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: app, image: nginx:1.0.0}]\n")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(list(args), cwd=cwd, env={**base, **(env or {})}, check=True, capture_output=True, text=True).stdout.strip()


def gpg_key(home: Path, uid: str) -> str:
    """A signing key in its own keyring; returns its fingerprint."""
    home.mkdir(mode=0o700)
    run("gpg", "--batch", "--homedir", str(home), "--pinentry-mode", "loopback", "--passphrase", "",
        "--quick-gen-key", uid, "ed25519", "sign", "never", cwd=home)
    colons = run("gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-secret-keys", cwd=home)
    return next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))


def secret(name: str, namespace: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {k.replace("_dot_", "."): base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def ready(kubectl: Kubectl, name: str, namespace: str) -> dict:
    status = kubectl.json("get", "fli", name, "-n", namespace).get("status", {})
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})


@pytest.mark.parametrize("kubectl", ["kubectl-1.37"], indirect=True)
def test_verify_and_sign(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    home = tmp_path / "gnupg"
    fpr = gpg_key(home, "Alice <alice@example.com>")
    public = run("gpg", "--batch", "--homedir", str(home), "--armor", "--export", fpr, cwd=tmp_path)
    signing = {"GNUPGHOME": str(home)}
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.yaml").write_text(CM.format(value="one"))
    (work / "web.yaml").write_text(WEB)
    run("git", "init", "-q", "-b", "main", cwd=work)
    run("git", "add", "-A", cwd=work)
    run("git", "-c", f"user.signingkey={fpr}", "commit", "-q", "-S", "-m", "signed", cwd=work, env=signing)
    bare = tmp_path / "repo.git"
    run("git", "clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    run("git", "remote", "add", "origin", str(bare), cwd=work)
    head = run("git", "rev-parse", "HEAD", cwd=work)

    ssh_key = tmp_path / "bot"
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bot", "-f", str(ssh_key), cwd=tmp_path)

    apply_flux_crd(kubectl)
    ns = "trust"
    kubectl.run("create", "namespace", ns)
    kubectl.apply(secret("trusted", ns, alice_dot_asc=public, allowed_signers=f"bot@example.com namespaces=\"git\" {Path(f'{ssh_key}.pub').read_text()}"))
    kubectl.apply(secret("signing", ns, identity=ssh_key.read_text()))
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": ns},
                   "spec": {"git": {"url": f"file://{bare}", "pollInterval": "1s", "signingKeySecretRef": {"name": "signing"},
                                    "verify": {"mode": "all", "secretRef": {"name": "trusted"}}}}})
    wait_until("the signed commit applied", lambda: ready(kubectl, "apps", ns).get("reason") == "Synced", timeout=60)
    status = kubectl.json("get", "fli", "apps", "-n", ns)["status"]
    assert status["verification"]["revision"] == head and "Alice <alice@example.com>" in status["verification"]["signer"]

    # The instance's own commit (a CLI request) is signed with its SSH key, which it trusts.
    locked = subprocess.run([str(flotilla_bin()), "lock", "-i", "apps", "-n", ns, "-w", f"{ns}:deployment/web", "--kubeconfig", str(emulator.kubeconfig)],
                            capture_output=True, text=True, timeout=60)
    assert locked.returncode == 0, locked.stderr
    mine = run("git", "--git-dir", str(bare), "rev-parse", "main", cwd=tmp_path)
    assert mine != head
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"bot@example.com namespaces=\"git\" {Path(f'{ssh_key}.pub').read_text()}")
    run("git", "--git-dir", str(bare), "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", mine, cwd=tmp_path)
    wait_until("its own signed commit applied", lambda: kubectl.json("get", "fli", "apps", "-n", ns)["status"].get("lastAppliedRevision") == mine, timeout=60)
    assert "bot@example.com" in kubectl.json("get", "fli", "apps", "-n", ns)["status"]["verification"]["signer"]

    # An unsigned commit: nothing of it is applied; the status and an Event name it.
    run("git", "pull", "-q", "--ff-only", "origin", "main", cwd=work)
    (work / "app.yaml").write_text(CM.format(value="sneaky"))
    run("git", "commit", "-qam", "unsigned change", cwd=work)
    run("git", "push", "-q", "origin", "main", cwd=work)
    unsigned = run("git", "rev-parse", "HEAD", cwd=work)
    wait_until("VerificationFailed", lambda: ready(kubectl, "apps", ns).get("reason") == "VerificationFailed", timeout=60)
    message = ready(kubectl, "apps", ns)["message"]
    assert f"commit {unsigned[:7]}" in message and "not signed" in message, message
    assert kubectl.json("get", "cm", "app", "-n", ns)["data"] == {"k": "one"}
    events = kubectl.json("get", "events", "-n", ns)["items"]
    assert any(e["reason"] == "VerificationFailed" and unsigned[:7] in e["message"] for e in events)
    assert "PRIVATE KEY" not in kubectl.run("get", "fli", "-n", ns, "-o", "yaml").stdout


@pytest.mark.parametrize("kubectl", ["kubectl-1.37"], indirect=True)
def test_sops_decryption(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    """A SOPS Secret encrypted for an age key (by hack/testing/sops-age-encrypt.py, not by Flotilla)
    is decrypted in memory and applied; the same file with a value changed is DecryptionFailed and
    applies nothing of its revision."""
    run("age-keygen", "-o", str(tmp_path / "key.txt"), cwd=tmp_path)
    identity = (tmp_path / "key.txt").read_text()
    recipient = next(line.split(": ")[1] for line in identity.splitlines() if line.startswith("# public key: "))
    plain = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n"
    encoder = Path(__file__).resolve().parents[2] / "hack" / "testing" / "sops-age-encrypt.py"
    encrypted = subprocess.run(["python3", str(encoder), recipient, "--encrypted-regex", "^(data|stringData)$"], input=plain,
                               capture_output=True, text=True, check=True).stdout
    assert "hunter2" not in encrypted
    work = tmp_path / "work"
    work.mkdir()
    (work / "db.yaml").write_text(encrypted)
    (work / "app.yaml").write_text(CM.format(value="one"))
    run("git", "init", "-q", "-b", "main", cwd=work)
    run("git", "add", "-A", cwd=work)
    run("git", "commit", "-qm", "encrypted", cwd=work)

    apply_flux_crd(kubectl)
    ns = "sops"
    kubectl.run("create", "namespace", ns)
    kubectl.apply(secret("sops-age", ns, identity_dot_agekey=identity))
    kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": ns},
                   "spec": {"git": {"url": f"file://{work}", "pollInterval": "1s"},
                            "decryption": {"provider": "sops", "secretRef": {"name": "sops-age"}}}})
    wait_until("the SOPS Secret applied", lambda: ready(kubectl, "apps", ns).get("reason") == "Synced", timeout=60)
    assert base64.b64decode(kubectl.json("get", "secret", "db", "-n", ns)["data"]["password"]) == b"hunter2"

    # Another clear value under the MAC changed: the file was tampered with.
    (work / "db.yaml").write_text(encrypted.replace("name: db", "name: db2"))
    (work / "app.yaml").write_text(CM.format(value="two"))
    run("git", "commit", "-qam", "tampered", cwd=work)
    wait_until("DecryptionFailed", lambda: ready(kubectl, "apps", ns).get("reason") == "DecryptionFailed", timeout=60)
    assert "db.yaml" in ready(kubectl, "apps", ns)["message"] and "MAC" in ready(kubectl, "apps", ns)["message"]
    assert kubectl.json("get", "cm", "app", "-n", ns)["data"] == {"k": "one"}, "nothing of the tampered revision applied"
    text = kubectl.run("get", "fli", "-n", ns, "-o", "yaml").stdout + kubectl.run("get", "events", "-n", ns, "-o", "yaml").stdout
    assert "hunter2" not in text and "AGE-SECRET-KEY" not in text
