"""The operator's dashboard (`flotilla run --ui-address`), in Debian's headless Chromium.

Nobody gets a page without signing in with a bearer token the API server accepts (TokenReview);
then each person sees the instances of the namespaces they may list and acts with their own token.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from browser import Browser
from harness import FLUX_CRD, Emulator, Operator, git_repo, install_crd, wait_until

FLUX = "/apis/flotilla.dev/v1alpha1"


@pytest.fixture(scope="module")
def setup(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Operator, str, str]]:
    """Two namespaces with an instance each, a ServiceAccount that may read ns-a's only, the operator."""
    install_crd(emulator, yaml.safe_load(FLUX_CRD.read_text()))
    workdir = tmp_path_factory.mktemp("operator-ui")
    repo = git_repo(workdir / "repo", {"c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {v: one}\n"})
    for ns in ("ns-a", "ns-b"):
        emulator.must("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
        emulator.must("POST", f"{FLUX}/namespaces/{ns}/fluxinstances", {
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "FluxInstance", "metadata": {"name": "apps", "namespace": ns},
            "spec": {"git": {"url": f"file://{repo}", "pollInterval": "1h"}}})
    emulator.must("POST", "/api/v1/namespaces/ns-a/serviceaccounts", {"metadata": {"name": "viewer"}})
    emulator.must("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns-a/roles", {
        "metadata": {"name": "flux-reader"},
        "rules": [{"apiGroups": ["flotilla.dev"], "resources": ["fluxinstances"], "verbs": ["get", "list", "watch"]}]})
    emulator.must("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/ns-a/rolebindings", {
        "metadata": {"name": "viewer-reads"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "flux-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "ns-a"}]})
    token = emulator.must("POST", "/api/v1/namespaces/ns-a/serviceaccounts/viewer/token", {"spec": {}})["status"]["token"]
    operator = Operator(emulator, workdir)
    operator.args += ["--ui-address", "127.0.0.1:0"]
    operator.start()
    try:
        def address() -> str | None:
            found = re.findall(r"address=(127\.0\.0\.1:\d+) \S+ serving the dashboard", operator.log.read_text())
            return found[-1] if found else None

        url = f"http://{wait_until('the dashboard to listen', address, timeout=30)}/"
        wait_until("both instances Ready", lambda: all(
            any(c["type"] == "Ready" and c["status"] == "True"
                for c in emulator.must("GET", f"{FLUX}/namespaces/{ns}/fluxinstances/apps").get("status", {}).get("conditions", []))
            for ns in ("ns-a", "ns-b")), timeout=30)
        yield operator, url, token
    finally:
        operator.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    running = Browser(tmp_path)
    yield running
    running.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_nothing_without_signing_in(setup: tuple[Operator, str, str], browser: Browser) -> None:
    _, url, _ = setup
    assert get(url + "events")[0] == 401
    assert get(url + "instances/ns-a/apps")[1].count("Sign in") >= 1  # redirected to the sign-in page
    browser.open(url)
    browser.wait("the sign-in page", "location.pathname === '/login' && !!document.getElementById('sign-in')")
    browser.evaluate("document.querySelector('textarea[name=token]').value = 'not-a-token'")
    browser.click("#sign-in")
    refusal = browser.wait("the refusal", "(e => e && e.textContent)(document.querySelector('.notice.error'))")
    assert refusal == "the API server did not accept this token"


def test_a_person_sees_and_does_what_their_token_may(setup: tuple[Operator, str, str], browser: Browser, emulator: Emulator) -> None:
    _, url, token = setup
    browser.open(url + "login")
    browser.evaluate(f"document.querySelector('textarea[name=token]').value = {token!r}")
    browser.click("#sign-in")
    browser.wait("the overview", "location.pathname === '/' && document.querySelectorAll('tbody tr[data-key]').length > 0")
    assert browser.evaluate("[...document.querySelectorAll('tbody tr[data-key]')].map(r => r.dataset.key)") == ["ns-a/apps"]
    assert "as system:serviceaccount:ns-a:viewer" in (browser.text("header") or "")
    browser.click("a[href='/instances/ns-a/apps']")
    browser.wait("the instance page", "!!document.getElementById('sync-now')")
    before = emulator.must("GET", f"{FLUX}/namespaces/ns-a/fluxinstances/apps")["metadata"].get("annotations", {})
    browser.click("#sync-now")
    refusal = browser.wait("the refusal", "location.search.includes('notice') && document.readyState === 'complete' "
                                          "&& (e => e && e.textContent)(document.querySelector('.notice.error'))")
    assert 'User "system:serviceaccount:ns-a:viewer" cannot patch resource "fluxinstances"' in refusal, refusal
    assert emulator.must("GET", f"{FLUX}/namespaces/ns-a/fluxinstances/apps")["metadata"].get("annotations", {}) == before
    browser.open(url + "instances/ns-b/apps")
    assert "forbidden" in (browser.text(".notice.error") or "")
    # Signing out ends the session: the next page is the sign-in page again.
    browser.open(url)
    browser.click("#sign-out")
    browser.wait("the sign-in page", "location.pathname === '/login'")
    browser.open(url)
    browser.wait("the sign-in page again", "location.pathname === '/login'")
