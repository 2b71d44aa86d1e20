"""Push webhooks through the built binary: `flotilla run --receiver-address`, a real `git push`
into a bare repository whose post-receive hook posts a GitHub-style delivery (signed with openssl),
and the instance applies the commit at once although it polls once an hour. Forged, oversized,
unknown and replayed deliveries wake nobody, and one tenant's receiver never wakes another's
instance of the same repository."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from harness import Emulator, Kubectl, Operator, apply_flux_crd, git, git_repo, wait_until

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app}}\ndata: {{k: {value}}}\n"
TOKEN = "webhook-token-5Vq"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def github(body: bytes, delivery: str, token: str = TOKEN) -> dict[str, str]:
    return {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()}


def applied(kubectl: Kubectl, ns: str) -> str:
    return kubectl.json("get", "fli", "apps", "-n", ns).get("status", {}).get("lastAppliedRevision", "")


@pytest.mark.parametrize("kubectl", ["kubectl-1.37"], indirect=True)
def test_push_webhook(kubectl: Kubectl, emulator: Emulator, tmp_path: Path) -> None:
    port = free_port()
    operator = Operator(emulator, tmp_path)
    operator.args += ["--receiver-address", f"127.0.0.1:{port}"]
    operator.start()
    try:
        work = git_repo(tmp_path / "work", {"app.yaml": CM.format(value="one")})
        bare = tmp_path / "repo.git"
        git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
        git("remote", "add", "origin", str(bare), cwd=work)
        hook_url = f"http://127.0.0.1:{port}/hooks/team-a/webhook"
        hook = bare / "hooks" / "post-receive"
        hook.write_text(f"""#!/bin/sh
body=$(printf '{{"ref":"refs/heads/main","repository":{{"clone_url":"file://%s"}}}}' '{bare}')
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac '{TOKEN}' | sed 's/^.* //')
curl -s -o /dev/null -X POST -H 'X-GitHub-Event: push' -H "X-GitHub-Delivery: $(date +%s%N)" -H "X-Hub-Signature-256: sha256=$sig" \\
  -H 'Content-Type: application/json' --data "$body" '{hook_url}'
""")
        hook.chmod(0o755)

        apply_flux_crd(kubectl)
        for ns in ("team-a", "team-b"):
            kubectl.run("create", "namespace", ns)
            token = TOKEN if ns == "team-a" else "another-token"
            kubectl.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook", "namespace": ns},
                           "data": {"token": base64.b64encode(token.encode()).decode()}})
            kubectl.apply({"apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": ns},
                           "spec": {"git": {"url": f"file://{bare}", "pollInterval": "1h"}, "sync": {"interval": "1h"},
                                    "receiver": {"type": "github", "secretRef": {"name": "webhook"}}}})
        first = git("rev-parse", "HEAD", cwd=work)
        wait_until("both instances synced", lambda: applied(kubectl, "team-a") == first and applied(kubectl, "team-b") == first, timeout=60)

        # A push: the hook's delivery wakes team-a's instance, which polls once an hour.
        (work / "app.yaml").write_text(CM.format(value="two"))
        git("commit", "-qam", "two", cwd=work)
        started = time.monotonic()
        git("push", "-q", "origin", "main", cwd=work)
        second = git("rev-parse", "HEAD", cwd=work)
        wait_until("the pushed commit applied", lambda: applied(kubectl, "team-a") == second, timeout=30)
        assert time.monotonic() - started < 10, "applied within seconds of the push, not at the next poll"
        assert kubectl.json("get", "cm", "app", "-n", "team-a")["data"] == {"k": "two"}
        time.sleep(2)
        assert applied(kubectl, "team-b") == first, "team-a's receiver never wakes team-b's instance"

        body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": f"file://{bare}"}}).encode()
        assert post(hook_url, body, github(body, "x1", token="guessed"))[0] == 401
        assert post(hook_url, b"x" * (2 << 20), github(b"x" * (2 << 20), "x2"))[0] == 413
        assert post(f"http://127.0.0.1:{port}/hooks/team-a/nothing", body, github(body, "x3"))[0] == 404
        assert post(f"http://127.0.0.1:{port}/hooks/team-b/webhook", body, github(body, "x4"))[0] == 401, "team-b's receiver has its own token"
        status, message = post(hook_url, body, github(body, "x5"))
        assert status == 202 and "woke 1 instance" in message, message
        status, message = post(hook_url, body, github(body, "x5"))
        assert status == 200 and "already received" in message, message
        other = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/someone/else.git"}}).encode()
        status, message = post(hook_url, other, github(other, "x6"))
        assert status == 202 and "woke 0 instance" in message, message
        _, metrics = operator.http("/metrics")
        assert 'flotilla_webhook_deliveries_total{receiver="team-a/webhook",result="rejected"}' in metrics
    finally:
        operator.stop()
