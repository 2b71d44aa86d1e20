"""`flotilla ui` against `flotilla dev`, in Debian's headless Chromium.

The dashboard runs as a separate process with a kubeconfig context, as a user runs it; the browser
loads its pages and runs their script (the live updates come over the page's own event stream).
With FLOTILLA_SCREENSHOTS=1 the screenshots are written to docs/images/ (as committed).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest

from browser import Browser
from harness import REPO, Emulator, flotilla_bin, git, git_repo, wait_until

SCREENSHOTS = REPO / "docs" / "images" if os.environ.get("FLOTILLA_SCREENSHOTS") == "1" else None
FLUX = "/apis/flotilla.dev/v1alpha1"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """`flotilla dev` with everything: the emulator, the demo instances and the operator."""
    workdir = tmp_path_factory.mktemp("dev")
    running = Emulator(workdir, ["--demo-dir", str(workdir / "demo"), "--receiver-port", "0"], api_only=False).start()
    yield running
    running.stop()


class UI:
    """A running `flotilla ui`."""

    def __init__(self, emulator: Emulator, context: str, namespace: str | None = None):
        args = [str(flotilla_bin()), "ui", "--kubeconfig", str(emulator.kubeconfig), "--context", context, "--port", "0"]
        if namespace:
            args += ["--namespace", namespace]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True).start()
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            self.stop()
            pytest.fail(f"flotilla ui printed nothing: {self.process.stderr.read() if self.process.poll() is not None else ''}")
        #: The printed URL, with this dashboard's key (opening it sets the key's cookie).
        self.entry = line.split("on ", 1)[1].split(" ", 1)[0]
        self.url = self.entry.split("?", 1)[0]
        self.key = self.entry.split("key=", 1)[1]
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])

    def post(self, path: str, form: dict, host: str | None = None, with_key: bool = True) -> tuple[int, str]:
        request = urllib.request.Request(self.url.rstrip("/") + path, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  **({"Cookie": f"flotilla-ui-key={self.key}"} if with_key else {}),
                                                  **({"Host": host} if host else {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def start_ui(emulator: Emulator) -> Iterator[Callable[..., UI]]:
    started: list[UI] = []

    def start(context: str = "flotilla-dev", namespace: str | None = None) -> UI:
        ui = UI(emulator, context, namespace)
        started.append(ui)
        return ui

    yield start
    for ui in started:
        ui.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    running = Browser(tmp_path)
    yield running
    running.close()


def instance(emulator: Emulator, namespace: str, name: str) -> dict:
    return emulator.must("GET", f"{FLUX}/namespaces/{namespace}/fluxinstances/{name}")


def applied(emulator: Emulator, namespace: str, name: str) -> str:
    return instance(emulator, namespace, name).get("status", {}).get("lastAppliedRevision", "")


def screenshot(browser: Browser, name: str, tmp_path: Path) -> None:
    browser.screenshot((SCREENSHOTS or tmp_path) / name)


def test_overview_follow_an_instance_sync_and_see_it_live(emulator: Emulator, start_ui: Callable[..., UI], browser: Browser,
                                                          tmp_path: Path) -> None:
    # An instance that polls hourly: only "Sync now" makes it see a new commit soon.
    repo = git_repo(tmp_path / "repo", {"config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: one}\n"})
    first = git("rev-parse", "HEAD", cwd=repo)
    emulator.must("POST", "/api/v1/namespaces", {"metadata": {"name": "ui-demo"}})
    emulator.must("POST", f"{FLUX}/namespaces/ui-demo/fluxinstances", {
        "apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "web", "namespace": "ui-demo"},
        "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1h"}, "sync": {"interval": "1h"}}})
    wait_until("ui-demo/web applied", lambda: applied(emulator, "ui-demo", "web") == first, timeout=30)

    ui = start_ui()
    browser.open(ui.entry)
    browser.wait("the rows", "document.querySelectorAll('tbody tr[data-key]').length === 3")
    assert browser.text("tr[data-key='ui-demo/web'] [data-field=state]") == "Ready"
    assert browser.text("tr[data-key='ui-demo/web'] [data-field=revision]") == first[:7]
    ready_rows = browser.evaluate("[...document.querySelectorAll('tbody [data-field=state]')].filter(c => c.textContent === 'Ready').length")
    assert browser.text("[data-count=Ready]") == str(ready_rows) and ready_rows >= 1
    browser.wait("the page's event stream", "document.getElementById('live-state').textContent === 'live'")
    screenshot(browser, "dashboard-overview.png", tmp_path)

    # Search narrows the rows on the server.
    browser.open(ui.url + "?q=ui-demo")
    assert browser.evaluate("[...document.querySelectorAll('tbody tr[data-key]')].map(r => r.dataset.key)") == ["ui-demo/web"]

    browser.open(ui.url)
    browser.click("a[href='/instances/ui-demo/web']")
    browser.wait("the instance page", "location.pathname === '/instances/ui-demo/web' && !!document.getElementById('applied-revision')")
    assert browser.text("#applied-revision") == first
    (repo / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: two}\n")
    git("commit", "-qam", "second", cwd=repo)
    second = git("rev-parse", "HEAD", cwd=repo)
    browser.click("#sync-now")
    notice = browser.wait("the answer", "location.search.includes('notice') && document.readyState === 'complete' "
                                        "&& document.querySelector('.notice').textContent")
    assert notice.startswith("Sync requested"), notice
    browser.evaluate("window.stayed = true")
    browser.wait("the new revision, live", f"document.getElementById('applied-revision').textContent === '{second}'", timeout=30)
    assert browser.evaluate("window.stayed === true"), "the page was reloaded: the revision did not arrive live"
    assert emulator.must("GET", "/api/v1/namespaces/ui-demo/configmaps/web")["data"]["v"] == "two"
    # The recent syncs, with their commits.
    assert browser.evaluate("(r => r && r.cells[1].textContent)(document.querySelector('#syncs tr[data-revision=\"%s\"]'))" % second) == "second"
    assert browser.evaluate("(r => r && r.cells[2].textContent)(document.querySelector('#syncs tr[data-revision=\"%s\"]'))" % second) == "t"
    assert browser.evaluate("[...document.querySelectorAll('#syncs tbody tr')].map(r => r.dataset.revision)") == [second, first]
    # The inventory, by namespace and kind.
    assert browser.text("#inventory-h") == "Inventory: 1 object(s)"
    assert browser.evaluate("!!document.querySelector('#inventory details[data-namespace=ui-demo] li[data-object=web]')")
    screenshot(browser, "dashboard-instance.png", tmp_path)

    # The overview follows too: a sync requested elsewhere shows in the row without a reload.
    browser.open(ui.url)
    browser.evaluate("window.stayed = true")
    (repo / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {v: three}\n")
    # A tenant writes the commit: its subject is shown as text, never run as markup.
    hostile = '<img src=x onerror="window.pwned=1">third'
    git("commit", "-qam", hostile, cwd=repo)
    third = git("rev-parse", "HEAD", cwd=repo)
    emulator.must("PATCH", f"{FLUX}/namespaces/ui-demo/fluxinstances/web",
                  {"metadata": {"annotations": {"flotilla.dev/reconcile-requested-at": "third"}}},
                  content_type="application/merge-patch+json")
    browser.wait("the row's new revision", f"document.querySelector('tr[data-key=\"ui-demo/web\"] [data-field=revision]').textContent === '{third[:7]}'",
                 timeout=30)
    assert browser.evaluate("window.stayed === true")
    browser.open(ui.url + "instances/ui-demo/web")
    row = f"document.querySelector('#syncs tr[data-revision=\"{third}\"]')"
    assert browser.evaluate(f"{row}.cells[1].textContent") == hostile
    assert browser.evaluate(f"{row}.querySelector('img') === null && window.pwned === undefined")


def test_a_user_sees_and_does_only_what_rbac_allows(emulator: Emulator, start_ui: Callable[..., UI], browser: Browser) -> None:
    # bob may read the FluxInstances of team-a, and nothing else.
    emulator.must("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/roles", {
        "metadata": {"name": "flux-reader"},
        "rules": [{"apiGroups": ["flotilla.dev"], "resources": ["fluxinstances"], "verbs": ["get", "list", "watch"]}]})
    emulator.must("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings", {
        "metadata": {"name": "bob-reads"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "flux-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]})

    everywhere = start_ui("bob")
    browser.open(everywhere.entry)
    error = browser.wait("the refusal", "(e => e && e.textContent)(document.querySelector('.notice.error'))")
    assert "You may not list FluxInstances" in error and "forbidden" in error, error

    ui = start_ui("bob", "team-a")
    browser.open(ui.entry)
    browser.wait("team-a's row", "!!document.querySelector('tr[data-key=\"team-a/apps\"]')")
    assert browser.evaluate("[...document.querySelectorAll('tbody tr[data-key]')].map(r => r.dataset.key)") == ["team-a/apps"]
    browser.open(ui.url + "instances/team-a/apps")
    before = instance(emulator, "team-a", "apps")["metadata"].get("annotations", {})
    browser.click("#sync-now")
    notice = browser.wait("the refusal", "location.search.includes('notice') && document.readyState === 'complete' "
                                         "&& (e => e && e.textContent)(document.querySelector('.notice.error'))")
    assert notice.startswith("sync refused:") and 'User "bob" cannot patch resource "fluxinstances"' in notice, notice
    assert instance(emulator, "team-a", "apps")["metadata"].get("annotations", {}) == before
    assert "Events cannot be shown" in (browser.text("#live") or "")
    browser.open(ui.url + "instances/team-b/apps")
    assert "forbidden" in (browser.text(".notice.error") or "")


def test_no_write_without_the_dashboards_form(emulator: Emulator, start_ui: Callable[..., UI]) -> None:
    """Another local process without the printed key, a cross-site POST (no form token) and a
    rebinding Host are refused; nothing is written."""
    ui = start_ui()
    before = instance(emulator, "team-b", "apps")
    status, body = ui.post("/instances/team-b/apps/suspend", {"csrf": "guess"}, with_key=False)
    assert status == 401 and "open the URL `flotilla ui` printed" in body
    try:
        with urllib.request.urlopen(ui.url, timeout=10) as r:
            pytest.fail(f"the overview was served without the key: {r.status}")
    except urllib.error.HTTPError as error:
        assert error.code == 401
    status, body = ui.post("/instances/team-b/apps/suspend", {"csrf": "guess"})
    assert status == 403 and "not this dashboard's" in body
    status, body = ui.post("/instances/team-b/apps/suspend", {}, host=f"evil.example:{ui.port}")
    assert status == 403 and "answers only to 127.0.0.1" in body
    after = instance(emulator, "team-b", "apps")
    assert after["spec"].get("suspend") is not True and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_lock_a_workload_and_see_the_answer(emulator: Emulator, start_ui: Callable[..., UI], browser: Browser) -> None:
    """Lock goes through the request path: the instance commits the lock and answers on the page."""
    ui = start_ui()
    browser.open(ui.entry)
    browser.open(ui.url + "instances/team-a/apps")
    browser.evaluate("document.querySelector('#policy-form input[name=workload]').value = 'team-a:deployment/web'")
    browser.click("#lock")
    notice = browser.wait("the answer", "location.search.includes('notice') && document.readyState === 'complete' "
                                        "&& document.querySelector('.notice').textContent")
    assert notice.startswith("Request sent"), notice
    answer = browser.wait("the instance's answer, live", "(r => r && r.textContent)([...document.querySelectorAll('#live tbody tr')]"
                                                         ".find(r => r.textContent.includes('Succeeded')))", timeout=30)
    assert "Succeeded" in answer
    # An answer that changes nothing but status.requests reaches the page too (a lock of no such workload fails).
    browser.open(ui.url + "instances/team-a/apps")
    browser.evaluate("window.stayed = true; document.querySelector('#policy-form input[name=workload]').value = 'team-a:deployment/nope'")
    browser.click("#lock")
    browser.wait("the second answer", "location.search.includes('notice') && document.readyState === 'complete'")
    browser.evaluate("window.stayed = true")
    failed = browser.wait("the failed answer, live", "(r => r && r.textContent)([...document.querySelectorAll('#live tbody tr')]"
                                                     ".find(r => r.textContent.includes('Failed')))", timeout=30)
    assert "Failed" in failed and browser.evaluate("window.stayed === true")
    requests = instance(emulator, "team-a", "apps")["status"]["requests"]
    assert any(r["action"] == "policy" and r["state"] == "Succeeded" for r in requests), requests
    # Unlock: a second policy request, answered too.
    succeeded = len([r for r in requests if r["state"] == "Succeeded"])
    browser.open(ui.url + "instances/team-a/apps")
    browser.evaluate("document.querySelector('#policy-form input[name=workload]').value = 'team-a:deployment/web'")
    browser.click("#unlock")
    browser.wait("the unlock's notice", "location.search.includes('notice') && document.readyState === 'complete'")
    wait_until("the unlock answered", lambda: len([r for r in instance(emulator, "team-a", "apps")["status"].get("requests", [])
                                                   if r["state"] == "Succeeded"]) > succeeded, timeout=30)
    # Suspend, then resume: spec.suspend follows, and the page offers the other one.
    browser.click("#suspend")
    browser.wait("Resume offered", "!!document.getElementById('resume')")
    assert instance(emulator, "team-a", "apps")["spec"]["suspend"] is True
    browser.click("#resume")
    browser.wait("Suspend offered", "!!document.getElementById('suspend')")
    assert instance(emulator, "team-a", "apps")["spec"]["suspend"] is False
    # A release without a tag is refused on the page; nothing is written.
    browser.open(ui.url + "instances/team-a/apps")
    browser.evaluate("(f => { f.workload.value = 'team-a:deployment/web'; f.image.value = 'nginx'; })(document.getElementById('release-form'))")
    browser.click("#release")
    error = browser.wait("the refusal", "location.search.includes('notice') && location.search.includes('error=1') "
                                        "&& (e => e && e.textContent)(document.querySelector('.notice.error'))")
    assert error.startswith("release needs an image with its tag"), error
    after = instance(emulator, "team-a", "apps")
    assert not any('"release"' in v for k, v in after["metadata"].get("annotations", {}).items() if k.startswith("requests.flotilla.dev/"))
    assert not any(r["action"] == "release" for r in after["status"].get("requests", []))


def test_approve_held_deletions_and_release_an_image(emulator: Emulator, start_ui: Callable[..., UI], browser: Browser,
                                                     tmp_path: Path) -> None:
    """Deletions held by the guard are approved from the page and happen; a release from the page
    is committed by the instance and applied."""
    files = {f"c{i}.yaml": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{v: x}}\n" for i in range(3)}
    files["web.yaml"] = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
                         "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - {name: web, image: 'nginx:1.27.0'}\n")
    repo = git_repo(tmp_path / "held", files)
    bare = tmp_path / "held.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=repo)
    emulator.must("POST", "/api/v1/namespaces", {"metadata": {"name": "ui-held"}})
    emulator.must("POST", f"{FLUX}/namespaces/ui-held/fluxinstances", {
        "apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": "ui-held"},
        "spec": {"git": {"url": f"file://{bare}", "branch": "main", "pollInterval": "1h"},
                 "sync": {"interval": "1h", "garbageCollection": {"enabled": True}}}})
    head = git("rev-parse", "HEAD", cwd=repo)
    wait_until("ui-held/apps applied", lambda: applied(emulator, "ui-held", "apps") == head, timeout=30)

    # Three of four objects leave git: more than half of the inventory, so the guard holds them.
    git("rm", "-q", "c0.yaml", "c1.yaml", "c2.yaml", cwd=repo)
    git("commit", "-qm", "drop three", cwd=repo)
    git("push", "-q", "origin", "main", cwd=repo)
    ui = start_ui()
    browser.open(ui.entry)
    browser.open(ui.url + "instances/ui-held/apps")
    browser.click("#sync-now")
    wait_until("the deletions held", lambda: instance(emulator, "ui-held", "apps").get("status", {}).get("pendingDeletions"), timeout=30)
    browser.wait("the held deletions", "!!document.getElementById('approve-prune')", timeout=30)
    assert emulator.request("GET", "/api/v1/namespaces/ui-held/configmaps/c0").status == 200
    browser.open(ui.url + "instances/ui-held/apps")
    browser.click("#approve-prune")
    notice = browser.wait("the answer", "location.search.includes('notice') && document.readyState === 'complete' "
                                        "&& document.querySelector('.notice').textContent")
    assert notice.startswith("Deletions approved"), notice
    wait_until("the approved deletions done", lambda: all(
        emulator.request("GET", f"/api/v1/namespaces/ui-held/configmaps/c{i}").status == 404 for i in range(3)), timeout=30)
    browser.wait("no deletions held any more", "!document.getElementById('approve-prune')", timeout=30)

    # Release the Deployment to another tag, from the page: committed to git, then applied.
    browser.open(ui.url + "instances/ui-held/apps")
    browser.evaluate("(f => { f.workload.value = 'ui-held:deployment/web'; f.image.value = 'nginx:1.27.1'; })(document.getElementById('release-form'))")
    browser.click("#release")
    notice = browser.wait("the answer", "location.search.includes('notice') && document.readyState === 'complete' "
                                        "&& document.querySelector('.notice').textContent")
    assert notice.startswith("Request sent"), notice
    wait_until("the release applied", lambda: emulator.must("GET", "/apis/apps/v1/namespaces/ui-held/deployments/web")
               ["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27.1", timeout=30)
    git("pull", "-q", "origin", "main", cwd=repo)
    assert "nginx:1.27.1" in (repo / "web.yaml").read_text() and "nginx:1.27.0" not in (repo / "web.yaml").read_text()
    answer = browser.wait("the release's answer, live", "(r => r && r.textContent)([...document.querySelectorAll('#live tbody tr')]"
                                                        ".find(r => r.textContent.includes('Succeeded')))", timeout=30)
    assert "Succeeded" in answer
