"""`flotilla run` (the built binary) against a real sshd on 127.0.0.1, driven with kubectl: an
unknown host key is `HostKeyUnknown` with its fingerprint, a key the server refuses is
`AuthenticationFailed`, the right key syncs; and 50 instances in one process with one hung remote:
the other 49 stay Ready and follow a commit on time."""

from __future__ import annotations

import base64
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness import Emulator, Kubectl, Operator, apply_flux_crd, flotilla_bin, git, git_repo, wait_until

SSHD = Path("/usr/sbin/sshd")


class SSHServer:
    """sshd on a free port of 127.0.0.1 with a fresh host key, accepting `authorized` keys."""

    def __init__(self, workdir: Path, authorized: list[str]):
        self.dir = workdir
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "host_key")], check=True)
        (workdir / "authorized_keys").write_text("\n".join(authorized) + "\n")
        (workdir / "authorized_keys").chmod(0o600)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (workdir / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1:{self.port}\nHostKey {workdir}/host_key\nAuthorizedKeysFile {workdir}/authorized_keys\n"
            f"StrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            f"PidFile {workdir}/sshd.pid\nLogLevel ERROR\n")
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(workdir / "sshd_config")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until("sshd listening", self.listening, timeout=10)
        public = (workdir / "host_key.pub").read_text().split()
        self.known_hosts = f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"
        self.fingerprint = subprocess.run(["ssh-keygen", "-lf", str(workdir / "host_key.pub")], check=True,
                                          capture_output=True, text=True).stdout.split()[1]

    def listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def url(self, path: Path) -> str:
        return f"ssh://root@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def keypair(path: Path) -> tuple[str, str]:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", str(path)], check=True)
    return path.read_text(), Path(f"{path}.pub").read_text().strip()


def upstream(root: Path, files: dict[str, str]) -> Path:
    """A bare repository (what the remotes serve) with one commit of `files`; returns its path."""
    git("clone", "-q", "--bare", str(git_repo(root / "work", files)), str(root / "repo.git"), cwd=root)
    return root / "repo.git"


def secret(name: str, namespace: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def apply_all(kubectl: Kubectl, items: list[dict]) -> None:
    for item in items:
        kubectl.apply(item)


def ready(kubectl: Kubectl, name: str, namespace: str) -> dict:
    status = kubectl.json("get", "fli", name, "-n", namespace).get("status", {})
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})


@pytest.mark.skipif(not SSHD.exists(), reason="needs openssh-server (hack/test installs it)")
@pytest.mark.parametrize("kubectl", ["kubectl-1.37"], indirect=True)
def test_host_keys_and_deploy_keys_over_ssh(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    good_private, good_public = keypair(tmp_path / "good")
    wrong_private, _ = keypair(tmp_path / "wrong")
    (tmp_path / "sshd").mkdir()
    sshd = SSHServer(tmp_path / "sshd", [good_public])
    try:
        repo = upstream(tmp_path / "up", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
        apply_flux_crd(kubectl)
        namespace = "ssh-keys"
        kubectl.run("create", "namespace", namespace)
        apply_all(kubectl, [secret("no-host-key", namespace, identity=good_private),
                               secret("wrong-key", namespace, identity=wrong_private, known_hosts=sshd.known_hosts),
                               secret("good", namespace, identity=good_private, known_hosts=sshd.known_hosts)])

        def instance(name: str, secret_name: str) -> dict:
            return {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": name, "namespace": namespace},
                    "spec": {"git": {"url": sshd.url(repo), "secretRef": {"name": secret_name}, "pollInterval": "2s", "timeout": "10s"},
                             "allowedNamespaces": [namespace]}}

        apply_all(kubectl, [instance("unknown-host", "no-host-key"), instance("wrong-key", "wrong-key"), instance("good", "good")])
        wait_until("HostKeyUnknown", lambda: ready(kubectl, "unknown-host", namespace).get("reason") == "HostKeyUnknown", timeout=60)
        condition = ready(kubectl, "unknown-host", namespace)
        assert condition["status"] == "False"
        assert sshd.fingerprint in condition["message"], condition["message"]
        wait_until("AuthenticationFailed", lambda: ready(kubectl, "wrong-key", namespace).get("reason") == "AuthenticationFailed", timeout=60)
        wait_until("the right key syncs", lambda: ready(kubectl, "good", namespace).get("reason") == "Synced", timeout=60)
        assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}
        # Neither failing instance applied anything or leaked its key into the status.
        text = kubectl.run("get", "fli", "-n", namespace, "-o", "yaml").stdout
        assert "PRIVATE KEY" not in text
    finally:
        sshd.stop()


def flotilla(emulator: Emulator, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(flotilla_bin()), *args, "--kubeconfig", str(emulator.kubeconfig)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not SSHD.exists(), reason="needs openssh-server (hack/test installs it)")
@pytest.mark.parametrize("kubectl", ["kubectl-1.37"], indirect=True)
def test_own_known_hosts_with_a_generated_deploy_key(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    """The FAQ's private git host: a Secret with only `known_hosts` → a generated key in the status
    and in `flotilla identity` → the user adds it to the host → Ready, synced over SSH, sync tag
    pushed. The same Secret shape with another host's key gives HostKeyMismatch and the fingerprint."""
    (tmp_path / "sshd").mkdir()
    sshd = SSHServer(tmp_path / "sshd", [])
    (tmp_path / "other").mkdir()
    other = SSHServer(tmp_path / "other", [])
    try:
        repo = upstream(tmp_path / "up", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
        apply_flux_crd(kubectl)
        namespace = "own-hosts"
        kubectl.run("create", "namespace", namespace)
        wrong_hosts = sshd.known_hosts.split()[0] + " " + " ".join(other.known_hosts.split()[1:]) + "\n"
        apply_all(kubectl, [secret("git-hosts", namespace, known_hosts=sshd.known_hosts),
                               secret("wrong-hosts", namespace, known_hosts=wrong_hosts)])

        def instance(name: str, secret_name: str) -> dict:
            return {"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": name, "namespace": namespace},
                    "spec": {"git": {"url": sshd.url(repo), "secretRef": {"name": secret_name}, "pollInterval": "2s", "timeout": "10s"},
                             "allowedNamespaces": [namespace]}}

        apply_all(kubectl, [instance("apps", "git-hosts"), instance("mismatch", "wrong-hosts")])
        # The key is generated and published; the host is trusted, so the server's refusal is what is reported.
        wait_until("AuthenticationFailed", lambda: ready(kubectl, "apps", namespace).get("reason") == "AuthenticationFailed", timeout=60)
        shown = flotilla(emulator, "identity", "-i", "apps", "-n", namespace)
        assert shown.returncode == 0, shown.stderr
        public_key = shown.stdout.strip()
        assert public_key.startswith("ssh-ed25519 ")
        assert public_key == kubectl.json("get", "fli", "apps", "-n", namespace)["status"]["identity"]["publicKey"]
        assert "identity" not in kubectl.json("get", "secret", "git-hosts", "-n", namespace)["data"], "the user's Secret is left as it is"

        # The user adds the deploy key to the git host.
        with (tmp_path / "sshd" / "authorized_keys").open("a") as keys:
            keys.write(public_key + "\n")
        wait_until("synced over SSH", lambda: ready(kubectl, "apps", namespace).get("reason") == "Synced", timeout=60)
        assert kubectl.json("get", "cm", "app", "-n", namespace)["data"] == {"k": "one"}
        head = git("rev-parse", "HEAD", cwd=repo).strip()
        wait_until("sync tag pushed", lambda: git("rev-parse", "flux-sync^{commit}", cwd=repo).strip() == head, timeout=30)

        # identity --regenerate: a new key, the user's known_hosts still in use.
        regenerated = flotilla(emulator, "identity", "-i", "apps", "-n", namespace, "--regenerate")
        assert regenerated.returncode == 0, regenerated.stderr
        wait_until("new key shown", lambda: flotilla(emulator, "identity", "-i", "apps", "-n", namespace).stdout.strip() not in ("", public_key), timeout=30)
        assert kubectl.json("get", "secret", "git-hosts", "-n", namespace)["data"]["known_hosts"] == secret("x", namespace, known_hosts=sshd.known_hosts)["data"]["known_hosts"]

        wait_until("HostKeyMismatch", lambda: ready(kubectl, "mismatch", namespace).get("reason") == "HostKeyMismatch", timeout=60)
        assert sshd.fingerprint in ready(kubectl, "mismatch", namespace)["message"]
        assert "PRIVATE KEY" not in kubectl.run("get", "fli", "-n", namespace, "-o", "yaml").stdout
    finally:
        sshd.stop()
        other.stop()


@pytest.mark.parametrize("kubectl", ["kubectl-1.37"], indirect=True)
def test_fifty_instances_with_one_hung_remote(kubectl: Kubectl, emulator: Emulator, operator: Operator, tmp_path: Path) -> None:
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)  # accepts connections, never answers
    try:
        work = git_repo(tmp_path / "work", {"app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: one}\n"})
        apply_flux_crd(kubectl)
        names = [f"fleet-{i}" for i in range(49)]
        objects: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in names + ["hung"]]
        for n in names:
            objects.append({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": n},
                            "spec": {"git": {"url": f"file://{work}", "pollInterval": "1s"}, "sync": {"interval": "1h"}}})
        objects.append({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": "hung"},
                        "spec": {"git": {"url": f"ssh://git@127.0.0.1:{hung.getsockname()[1]}/repo.git", "pollInterval": "1s", "timeout": "5s"}}})
        apply_all(kubectl, objects)

        def revisions() -> dict[str, str]:
            items = kubectl.json("get", "fli", "-A")["items"]
            return {i["metadata"]["namespace"]: i.get("status", {}).get("lastAppliedRevision", "") for i in items}

        head = git("rev-parse", "HEAD", cwd=work).strip()
        wait_until("49 instances applied", lambda: sum(1 for n in names if revisions().get(n) == head) == 49, timeout=180)
        wait_until("the hung remote reported", lambda: ready(kubectl, "apps", "hung").get("reason") == "GitFetchFailed", timeout=30)
        assert "timed out" in ready(kubectl, "apps", "hung")["message"]

        # A commit reaches all 49 within seconds, while the hung remote keeps timing out.
        (work / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: two}\n")
        git("commit", "-qam", "two", cwd=work)
        head = git("rev-parse", "HEAD", cwd=work).strip()
        started = time.monotonic()
        wait_until("the commit applied by all 49", lambda: sum(1 for n in names if revisions().get(n) == head) == 49, timeout=60)
        assert time.monotonic() - started < 30
        assert kubectl.json("get", "cm", "app", "-n", "fleet-7")["data"] == {"k": "two"}
    finally:
        hung.close()
