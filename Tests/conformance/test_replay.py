"""Replays the exchanges recorded against a real kube-apiserver 1.24 and compares.

The recording (shared/reference/kube-apiserver-1.24/exchanges.jsonl, or $FLOTILLA_EXCHANGES)
is replayed in order against one fresh emulator, one pytest test per exchange. Our responses
are normalised the way the recording was (see its README) and must then equal it exactly:
status code, Content-Type and body, or for a watch the list of events.

How the replay matches the recording:
- Requests go out as the admin (our token) with the recorded headers; `no credentials` goes
  out with no Authorization header, `bad token` with its recorded one. The client is urllib,
  whose User-Agent makes the field manager `Python-urllib`, as in the recording.
- A uid or resourceVersion in a request body (the recorder copied them from an earlier
  response) is mapped to ours: the first time a recorded value appears it is bound to the
  current value of that object in our run, and reused whenever it appears again (so
  `update configmap stale` is stale for us too).
- A watch from a numeric resourceVersion (`resourceVersion=299`) first lists the same
  collection with the same selectors and uses that list's resourceVersion.
- The actions the recorder ran during a watch (WATCH_ACTIONS) are sent from the test thread
  while a second thread reads the stream until the server ends it at timeoutSeconds.

Normalisation (applied to both sides): uids -> <uid>, RFC 3339 timestamps -> <time>,
numeric resourceVersions -> <rv>, tokens -> <token>, continue tokens -> <continue>,
`description` dropped, serverAddressByClientCIDRs -> <addresses>, a discovery entry's
singularName -> <singular> (the recorded 1.24 server left it empty for built-ins; 1.27 and later,
as the emulated 1.30, fill it with the lowercase kind); and, because the recorder
left them in: generateName + 5 random characters -> generateName + <random>, the record's
resourceVersion inside a delete-precondition message -> <rv>, Table `Age` cells -> <age>.
managedFields entries are compared ordered by (operation, manager): their times are masked,
so the second-granular time order (pinned by a Swift test) cannot be compared here.

An exchange in KNOWN_DEVIATIONS is expected to differ (reported as xfail with the reason);
once it matches again its test fails, so that the list stays honest.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import threading
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from harness import REPO, Emulator, json_documents

EXCHANGES_PATH = Path(os.environ.get(
    "FLOTILLA_EXCHANGES", REPO.parent / "shared" / "reference" / "kube-apiserver-1.24" / "exchanges.jsonl"))

#: Exchange name -> why the emulator answers differently on purpose. Start empty; every entry
#: needs a reason a reader can check.
KNOWN_DEVIATIONS: dict[str, str] = {
    "version": "the emulator reports v1.30 (the behaviour it emulates), not the recording's v1.24 build",
    "apis": "the group versions of 1.30: beta versions removed since 1.24 (events, autoscaling v2beta*, batch, "
            "policy, storage, node, discovery v1beta1; flowcontrol v1beta1/v1beta2) are gone, flowcontrol v1 and v1beta3 served",
    "discovery /apis/autoscaling/v2": "1.30 stores HorizontalPodAutoscalers as autoscaling/v2 (1.24: v1), so storageVersionHash differs",
    "discovery /apis/policy/v1": "1.30 stores PodDisruptionBudgets as policy/v1 (1.24: v1beta1, removed in 1.25), so storageVersionHash differs",
    "discovery /apis/networking.k8s.io/v1": "networkpolicies/status (alpha NetworkPolicyStatus, served but unused in 1.24) is not served by 1.30",
    "apply deployment again without replicas": "no kube-controller-manager: no deployment.kubernetes.io/revision "
            "annotation and no status conditions written by the deployment controller",
    "strategic patch containers": "no kube-controller-manager (revision annotation, status)",
    "get deployment": "no kube-controller-manager (revision annotation, status)",
    "get deployment scale": "no kube-controller-manager: status.replicas stays 0 (no ReplicaSets or Pods are run)",
    "discovery /apis/authentication.k8s.io/v1": "selfsubjectreviews (GA since 1.28, `kubectl auth whoami`) is served too",
    "ssrr": "rule order follows the authorizer's binding iteration, which is unordered in kube-apiserver",
}

#: Exchanges sent without any credentials.
ANONYMOUS = {"no credentials"}


@dataclass
class Action:
    method: str
    path: str
    body: Any = None
    content_type: str = "application/json"


@dataclass
class WatchPlan:
    """What the recorder did while a watch was open (from the README and the events)."""
    after_events: int  # wait for this many events (the initial state) before acting
    actions: list[Action] = field(default_factory=list)


_CM = "/api/v1/namespaces/rec-a/configmaps"
_MERGE = "application/merge-patch+json"
WATCH_ACTIONS: dict[str, WatchPlan] = {
    # "created w1, patched it, created w2, removed w2's label, deleted w1" (README).
    "watch from list rv with selector": WatchPlan(0, [
        Action("POST", _CM, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "w1", "labels": {"w": "1"}}}),
        Action("PATCH", f"{_CM}/w1", {"data": {"k": "v"}}, _MERGE),
        Action("POST", _CM, {"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "w2", "labels": {"w": "1"}}}),
        Action("PATCH", f"{_CM}/w2", {"metadata": {"labels": {"w": None}}}, _MERGE),
        Action("DELETE", f"{_CM}/w1"),
    ]),
    # The recorded MODIFIED event shows status.phase "x" written by Python-urllib on /status.
    "watch cr": WatchPlan(1, [
        Action("PATCH", "/apis/example.com/v1/namespaces/rec-a/gadgets/g1/status",
               {"status": {"phase": "x"}}, _MERGE),
    ]),
}

WATCH_ONLY_PARAMS = {"watch", "resourceVersion", "timeoutSeconds", "allowWatchBookmarks"}


def load_exchanges() -> list[dict]:
    if not EXCHANGES_PATH.exists():
        return []
    exchanges = [json.loads(line) for line in EXCHANGES_PATH.read_text().splitlines() if line.strip()]
    names = [e["name"] for e in exchanges]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"exchange names must be unique: {duplicates}"
    return exchanges


EXCHANGES = load_exchanges()


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RECORD_RV = re.compile(r"(the ResourceVersion in record \()\d+(\))")
AGE = re.compile(r"^\d+[smhdy][0-9smhdy]*$")


def _generate_name_pattern(exchanges: list[dict]) -> re.Pattern[str] | None:
    prefixes = set()
    for exchange in exchanges:
        body = exchange["request"].get("body")
        if isinstance(body, dict) and body.get("metadata", {}).get("generateName"):
            prefixes.add(body["metadata"]["generateName"])
    if not prefixes:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes))
    return re.compile(rf"^({alternatives})[a-z0-9]{{5}}$")


GENERATED_NAME = _generate_name_pattern(EXCHANGES)


def normalise(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if value.get("kind") == "Table" and isinstance(value.get("rows"), list):
            value = _normalise_table_age(value)
        result = {}
        for k, v in value.items():
            if k == "description":
                continue
            if k == "serverAddressByClientCIDRs":
                result[k] = "<addresses>"
            elif k == "singularName" and "verbs" in value:
                result[k] = "<singular>"
            else:
                result[k] = normalise(v, k)
        return result
    if isinstance(value, list):
        items = [normalise(v, key) for v in value]
        if key == "managedFields":
            # kube-apiserver orders entries by (operation, time in whole seconds, manager, ...).
            # Times are masked, and the recording ran within one second; a replay that crosses a
            # second boundary legitimately moves a re-applied manager to the end. Compare in the
            # order the recording had: operation, then manager.
            items.sort(key=lambda e: (e.get("operation", ""), e.get("manager", ""),
                                      e.get("subresource", ""), e.get("apiVersion", ""))
                       if isinstance(e, dict) else ("", "", "", ""))
        return items
    if isinstance(value, str):
        if key == "uid" and value:
            return "<uid>"
        if key == "resourceVersion" and value.isdigit():
            return "<rv>"
        if key == "token" and value:
            return "<token>"
        if key == "continue" and value:
            return "<continue>"
        if TIME.match(value):
            return "<time>"
        if UUID.match(value):
            return "<uid>"
        if GENERATED_NAME and GENERATED_NAME.match(value):
            return GENERATED_NAME.match(value).group(1) + "<random>"
        return RECORD_RV.sub(r"\1<rv>\2", value)
    return value


def _normalise_table_age(table: dict) -> dict:
    columns = [c.get("name") for c in table.get("columnDefinitions") or []]
    if "Age" not in columns:
        return table
    index = columns.index("Age")
    table = copy.deepcopy(table)
    for row in table["rows"]:
        cells = row.get("cells")
        if isinstance(cells, list) and index < len(cells) and isinstance(cells[index], str) \
                and AGE.match(cells[index]):
            cells[index] = "<age>"
    return table


def expected_of(exchange: dict) -> dict:
    response = exchange["response"]
    if "stream" in response:
        return {"stream": normalise(response["stream"])}
    return normalise({"status": response["status"], "contentType": response["contentType"],
                      "body": response["body"]})


# ---------------------------------------------------------------------------
# Replaying
# ---------------------------------------------------------------------------


def _parse(body: bytes) -> Any:
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _namespace_of(path: str) -> str:
    match = re.search(r"/namespaces/([^/?]+)/", path)
    return match.group(1) if match else ""


class StreamReader(threading.Thread):
    """Reads a watch response on its own thread until the server ends it."""

    def __init__(self, emulator: Emulator, path: str, read_timeout: float):
        super().__init__(name=f"watch {path}", daemon=True)
        self.emulator = emulator
        self.path = path
        self.read_timeout = read_timeout
        self.connected = threading.Event()
        self.status: int | None = None
        self.raw = bytearray()
        self.error: str | None = None

    def run(self) -> None:
        request = urllib.request.Request(self.emulator.server + self.path, method="GET",
                                         headers={"Authorization": f"Bearer {self.emulator.admin_token}"})
        try:
            with urllib.request.urlopen(request, context=self.emulator.ssl_context,
                                        timeout=self.read_timeout) as response:
                self.status = response.status
                self.connected.set()
                while True:
                    chunk = response.read1(65536)
                    if not chunk:
                        return
                    self.raw.extend(chunk)
        except urllib.error.HTTPError as error:
            self.status = error.code
            self.raw.extend(error.read())
        except Exception:  # noqa: BLE001 - reported in the comparison
            self.error = traceback.format_exc()
        finally:
            self.connected.set()

    def events(self) -> list[Any]:
        return json_documents(bytes(self.raw).decode("utf-8", "replace"))


class Replayer:
    def __init__(self, emulator: Emulator, exchanges: list[dict]):
        self.emulator = emulator
        self.exchanges = exchanges
        self.outcomes: dict[int, Any] = {}
        self.next = 0
        #: (kind, namespace, name) -> {"uid": ..., "resourceVersion": ...} as last seen in our run.
        self.objects: dict[tuple[str, str, str], dict[str, str]] = {}
        #: recorded value -> our value, per field.
        self.bound: dict[str, dict[str, str]] = {"uid": {}, "resourceVersion": {}}

    def outcome(self, index: int) -> Any:
        """The outcome of exchange `index`, replaying every earlier one first (in order, once)."""
        while self.next <= index:
            current = self.next
            self.next += 1
            try:
                self.outcomes[current] = self.replay(self.exchanges[current])
            except Exception:  # noqa: BLE001 - shown in that exchange's failure
                self.outcomes[current] = {"replayError": traceback.format_exc()}
        return self.outcomes[index]

    # -- plain requests ------------------------------------------------------

    def replay(self, exchange: dict) -> Any:
        if "stream" in exchange["response"]:
            return self.replay_watch(exchange)
        request = exchange["request"]
        headers = dict(request.get("headers") or {})
        has_authorization = any(k.lower() == "authorization" for k in headers)
        token = None if exchange["name"] in ANONYMOUS or has_authorization else "admin"
        body = self.rewrite_body(request.get("body"), request["path"])
        result = self.emulator.request(request["method"], request["path"], body,
                                       content_type=request.get("contentType"), headers=headers, token=token)
        parsed = _parse(result.body)
        self.track(parsed)
        return {"status": result.status, "contentType": result.content_type, "body": parsed}

    def rewrite_body(self, body: Any, path: str) -> Any:
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            return body
        body = copy.deepcopy(body)
        metadata = body["metadata"]
        key = (body.get("kind", ""), metadata.get("namespace") or _namespace_of(path), metadata.get("name", ""))
        for name in ("uid", "resourceVersion"):
            if name in metadata:
                metadata[name] = self.bind(name, metadata[name], key)
        return body

    def bind(self, field_name: str, recorded: str, key: tuple[str, str, str]) -> str:
        bound = self.bound[field_name]
        if recorded not in bound:
            ours = self.objects.get(key, {}).get(field_name)
            if ours is None:
                return recorded
            bound[recorded] = ours
        return bound[recorded]

    def track(self, value: Any, kind: str | None = None) -> None:
        """Remembers uid and resourceVersion of every object seen in our responses."""
        if not isinstance(value, dict):
            return
        kind = value.get("kind", kind)
        if isinstance(kind, str) and kind.endswith("List") and isinstance(value.get("items"), list):
            for item in value["items"]:
                self.track(item, kind[:-len("List")])
            return
        metadata = value.get("metadata")
        if not kind or kind in ("Status", "Table") or not isinstance(metadata, dict) or not metadata.get("name"):
            return
        key = (kind, metadata.get("namespace", ""), metadata["name"])
        seen = self.objects.setdefault(key, {})
        for name in ("uid", "resourceVersion"):
            if metadata.get(name):
                seen[name] = metadata[name]

    # -- watches ---------------------------------------------------------------

    def replay_watch(self, exchange: dict) -> Any:
        path = exchange["request"]["path"]
        split = urlsplit(path)
        query = parse_qsl(split.query, keep_blank_values=True)
        params = dict(query)
        resource_version = params.get("resourceVersion")
        if resource_version and resource_version != "0":
            list_query = [(k, v) for k, v in query if k not in WATCH_ONLY_PARAMS]
            list_path = split.path + (f"?{urlencode(list_query)}" if list_query else "")
            listed = self.emulator.request("GET", list_path)
            if listed.status != 200:
                return {"listBeforeWatch": list_path, "status": listed.status, "body": _parse(listed.body)}
            resource_version = listed.json()["metadata"]["resourceVersion"]
            query = [(k, resource_version if k == "resourceVersion" else v) for k, v in query]
            path = f"{split.path}?{urlencode(query)}"

        timeout = float(params.get("timeoutSeconds", "5"))
        reader = StreamReader(self.emulator, path, read_timeout=timeout + 10)
        reader.start()
        action_errors = []
        if not reader.connected.wait(10):
            action_errors.append("the watch response did not start within 10s")
        plan = WATCH_ACTIONS.get(exchange["name"], WatchPlan(0))
        deadline = time.monotonic() + 5
        while len(reader.events()) < plan.after_events and time.monotonic() < deadline and reader.is_alive():
            time.sleep(0.02)
        for action in plan.actions:
            result = self.emulator.request(action.method, action.path, action.body, content_type=action.content_type)
            if not 200 <= result.status < 300:
                action_errors.append(f"{action.method} {action.path}: {result}")
            self.track(_parse(result.body))
        reader.join(timeout + 20)

        if reader.is_alive():
            action_errors.append(f"the server did not end the watch after timeoutSeconds={timeout:g}")
        if reader.error:
            action_errors.append(reader.error)
        outcome: dict[str, Any]
        if reader.status != 200:
            outcome = {"status": reader.status, "body": _parse(bytes(reader.raw))}
        else:
            events = reader.events()
            for event in events:
                if isinstance(event, dict):
                    self.track(event.get("object"))
            outcome = {"stream": events}
        if action_errors:
            outcome["replayErrors"] = action_errors
        return outcome


# ---------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replayer(emulator: Emulator) -> Replayer:
    return Replayer(emulator, EXCHANGES)


def _diff(expected: Any, actual: Any) -> str:
    left = json.dumps(expected, indent=2, sort_keys=True).splitlines()
    right = json.dumps(actual, indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(left, right, "recorded (kube-apiserver 1.24)", "flotilla", lineterm=""))


def test_known_deviations_name_real_exchanges() -> None:
    unknown = set(KNOWN_DEVIATIONS) - {e["name"] for e in EXCHANGES}
    assert not unknown, f"KNOWN_DEVIATIONS names exchanges that are not in the recording: {sorted(unknown)}"


@pytest.mark.parametrize("index", range(len(EXCHANGES)) if EXCHANGES else [None],
                         ids=[e["name"] for e in EXCHANGES] if EXCHANGES else ["recording-missing"])
def test_exchange(replayer: Replayer, emulator: Emulator, index: int | None) -> None:
    if index is None:
        pytest.fail(f"recorded exchanges not found at {EXCHANGES_PATH}; set FLOTILLA_EXCHANGES", pytrace=False)
    exchange = EXCHANGES[index]
    expected = expected_of(exchange)
    actual = normalise(replayer.outcome(index))
    name = exchange["name"]
    reason = KNOWN_DEVIATIONS.get(name)
    request = exchange["request"]
    where = f"{request['method']} {request['path']}"
    if actual == expected:
        if reason is not None:
            pytest.fail(f"{name!r} is listed in KNOWN_DEVIATIONS ({reason}) but now matches the recording: "
                        "remove it from the list", pytrace=False)
        return
    if reason is not None:
        pytest.xfail(f"known deviation: {reason}")
    pytest.fail(f"{name} ({where}) differs from the recording:\n{_diff(expected, actual)}\n"
                f"{emulator.log_tail(15)}", pytrace=False)
