#!/usr/bin/env python3
"""Generates the emulator's catalog of built-in resources for the Kubernetes version it reports (v1.30).

Sources (published data, pinned, downloaded with pip into ~/.cache/flotilla/catalog-sources):
- PyPI `kubernetes` 30.1.0, the Python client generated from kube-apiserver 1.30's OpenAPI document. Its API
  modules carry every REST path with its HTTP method, parameters and response type: the served resources,
  their scope (namespaced or not), verbs and subresources.
- PyPI `kubernetes-validate`, whose `v1.30.0-local/_definitions.json` is the same OpenAPI document's
  definitions as JSON Schema: every kind's schema, descriptions and group/version/kind.
- The discovery documents recorded from a real kube-apiserver (../shared/reference/kube-apiserver-1.24):
  the order of the groups, and the short names and categories of the resources it served.

What no published schema carries, written here with the file it comes from in kube-apiserver 1.30:
- SHORT_NAMES / CATEGORIES for resources the 1.24 recording did not list (each REST storage's ShortNames()
  and Categories(), e.g. pkg/registry/storage/storageclass/storage/storage.go returns ["sc"]).
- DEFAULT_ON_BETAS: beta group/versions enabled by default (pkg/controlplane/instance.go
  DefaultAPIResourceConfigSource; beta APIs introduced after 1.24 are off by default).
- STORAGE_VERSIONS where a resource is not stored in its group's preferred version (events.k8s.io Events are
  core Events), for storageVersionHash (apiserver/pkg/endpoints/discovery/storageversionhash.go).

Writes Sources/KubeEmulator/Catalog/BuiltinDiscovery.swift and BuiltinOpenAPI.swift.
`--check` writes nothing and exits 1 when the generated files differ from what is committed.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT_DIR = REPO / "Sources" / "KubeEmulator" / "Catalog"
RECORDING = Path(os.environ.get("FLOTILLA_EXCHANGES",
                                REPO.parent / "shared" / "reference" / "kube-apiserver-1.24" / "exchanges.jsonl"))
CACHE = Path(os.environ.get("FLOTILLA_CATALOG_CACHE", Path.home() / ".cache" / "flotilla" / "catalog-sources"))

KUBE_VERSION = "1.30"
CLIENT_WHEEL = ("kubernetes", "30.1.0")
SCHEMA_WHEEL = ("kubernetes-validate", "1.37.0")
SCHEMA_MEMBER = "kubernetes_validate/kubernetes-json-schema/v1.30.0-local/_definitions.json"

DEFAULT_ON_BETAS = {"flowcontrol.apiserver.k8s.io/v1beta3"}
SHORT_NAMES = {
    "storageclasses.storage.k8s.io": ["sc"],
    "priorityclasses.scheduling.k8s.io": ["pc"],
    "certificatesigningrequests.certificates.k8s.io": ["csr"],
}
CATEGORIES = {
    "apiservices.apiregistration.k8s.io": ["api-extensions"],
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": ["api-extensions"],
    "validatingwebhookconfigurations.admissionregistration.k8s.io": ["api-extensions"],
    "validatingadmissionpolicies.admissionregistration.k8s.io": ["api-extensions"],
    "validatingadmissionpolicybindings.admissionregistration.k8s.io": ["api-extensions"],
}
STORAGE_VERSIONS = {
    "events.k8s.io/events": ("", "v1", "Event"),
    # apiextensions-apiserver's etcd codec is LegacyCodec(v1beta1, v1): CRDs are still stored as v1beta1.
    "apiextensions.k8s.io/customresourcedefinitions": ("apiextensions.k8s.io", "v1beta1", "CustomResourceDefinition"),
}
# Subresources served through `connect` (no stored object): their discovery kind.
CONNECT_KINDS = {"pods/attach": "PodAttachOptions", "pods/exec": "PodExecOptions", "pods/portforward": "PodPortForwardOptions",
                 "pods/proxy": "PodProxyOptions", "nodes/proxy": "NodeProxyOptions", "services/proxy": "ServiceProxyOptions"}


def wheel(name: str, version: str) -> zipfile.ZipFile:
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = name.replace("-", "_") + "-" + version + "-"
    found = [p for p in CACHE.iterdir() if p.name.startswith(stem) and p.suffix == ".whl"]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", str(CACHE), f"{name}=={version}"], check=True)
        found = [p for p in CACHE.iterdir() if p.name.startswith(stem) and p.suffix == ".whl"]
    return zipfile.ZipFile(found[0])


def kube_version_key(v: str) -> tuple:
    """kube-aware version order (GA before beta before alpha, higher first), as /apis lists them."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    return (-stage, -int(m.group(1)), -int(m.group(3) or 0))


def served(group: str, version: str) -> bool:
    gv = f"{group}/{version}" if group else version
    return re.fullmatch(r"v\d+", version) is not None or gv in DEFAULT_ON_BETAS


def storage_hash(group: str, version: str, kind: str) -> str:
    return base64.b64encode(hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()[:8]).decode()


# MARK: the Python client's paths

OPERATION = re.compile(r"def (\w+)_with_http_info\(self.*?all_params = \[(.*?)\].*?call_api\(\s*'([^']+)', '(\w+)',"
                       r".*?response_type=('[^']*'|None)", re.S)
PATH = re.compile(r"^/(?:api/(v1)|apis/([^/]+)/([^/]+))(/namespaces/\{namespace\})?/([a-z0-9]+)(?:/\{name\}(?:/([a-z]+))?)?$")


def client_operations(z: zipfile.ZipFile) -> dict:
    """(group, version) -> resource -> {namespaced, verbs, subresources: {sub: (verbs, response type)}, type}."""
    out: dict = {}
    for member in z.namelist():
        if not re.fullmatch(r"kubernetes/client/api/\w+_v\w+_api\.py", member):
            continue
        for m in OPERATION.finditer(z.read(member).decode()):
            _, _, path, http, response = m.groups()
            p = PATH.match(path)
            if not p:
                continue
            core, group, version, namespaced, resource, sub = p.groups()
            group, version = ("", core) if core else (group, version)
            if not served(group, version):
                continue
            named = "{name}" in path
            r = out.setdefault((group, version), {}).setdefault(
                resource, {"namespaced": False, "verbs": set(), "subresources": {}, "type": None})
            if namespaced:
                r["namespaced"] = True
            response = response.strip("'") if response != "None" else None
            if http not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                continue
            if sub:
                verbs, rtype = r["subresources"].setdefault(sub, (set(), None))
                verbs.add({"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[http])
                r["subresources"][sub] = (verbs, rtype or (response if response not in ("str", "object") else None))
                continue
            if http == "GET" and not named:
                r["verbs"].add("list")
                continue
            verb = {("GET", True): "get", ("POST", False): "create", ("PUT", True): "update", ("PATCH", True): "patch",
                    ("DELETE", True): "delete", ("DELETE", False): "deletecollection"}.get((http, named))
            if verb:
                r["verbs"].add(verb)
            if response and (http, named) in (("GET", True), ("POST", False), ("PUT", True)):
                r["type"] = r["type"] or response
    return out


# MARK: the OpenAPI definitions

def to_openapi(schema, *, drop_type_enums: bool = False):
    """JSON Schema (kubernetes-validate's form) back to the OpenAPI v3 form kube-apiserver serves."""
    if isinstance(schema, list):
        return [to_openapi(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "oneOf" in schema and all(isinstance(s, dict) and set(s) == {"type"} for s in schema["oneOf"]):
        types = {t for s in schema["oneOf"] for t in (s["type"] if isinstance(s["type"], list) else [s["type"]])} - {"null"}
        rest = {k: v for k, v in schema.items() if k != "oneOf"}
        if types == {"string", "integer"}:
            return {**rest, "type": "string", "format": "int-or-string"}
        if types == {"string", "number"}:
            return {**rest, "type": "string"}
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            value = next((t for t in value if t != "null"), None)
            if value is None:
                continue
        elif key == "$ref":
            value = value.replace("#/$defs/", "#/components/schemas/")
        elif key == "properties":
            value = {name: (strip_enum(to_openapi(p)) if drop_type_enums and name in ("apiVersion", "kind") else to_openapi(p))
                     for name, p in value.items()}
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
            value = to_openapi(value)
        out[key] = value
    if "$ref" in out and len(out) > 1:
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def strip_enum(schema: dict) -> dict:
    return {k: v for k, v in schema.items() if k != "enum"}


def references(schema, found: set):
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for v in schema.values():
            references(v, found)
    elif isinstance(schema, list):
        for v in schema:
            references(v, found)


def closure(roots: list, defs: dict) -> list:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        refs: set = set()
        references(defs[name], refs)
        todo.extend(refs - seen)
    return sorted(seen)


# MARK: the recording

def recorded_discovery() -> tuple[list, dict]:
    groups, entries = [], {}
    for line in RECORDING.open():
        e = json.loads(line)
        if e["name"] == "apis":
            groups = [g["name"] for g in e["response"]["body"]["groups"]]
        if e["name"].startswith("discovery /api"):
            body = e["response"]["body"]
            group = body["groupVersion"].split("/")[0] if "/" in body["groupVersion"] else ""
            for r in body["resources"]:
                entries[f"{r['name']}.{group}" if group else r["name"]] = r
    return groups, entries


def generate() -> dict[str, str]:
    ops = client_operations(wheel(*CLIENT_WHEEL))
    defs = json.loads(wheel(*SCHEMA_WHEEL).read(SCHEMA_MEMBER))["$defs"]
    gvk_schema = {}
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            gvk_schema.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    kind_of_type = {}  # Python model class -> (group, version, kind)
    for (g, v, k), name in gvk_schema.items():
        prefix = "Core" if not g else g.split(".")[0].capitalize()
        kind_of_type.setdefault(v.capitalize() + k, (g, v, k))
        kind_of_type[prefix + v.capitalize() + k] = (g, v, k)

    recorded_groups, recorded = recorded_discovery()
    groups = sorted({g for g, _ in ops}, key=lambda g: (recorded_groups.index(g) if g in recorded_groups else len(recorded_groups), g))
    groups.remove("")
    groups.insert(0, "")

    documents, schema_roots, gv_schemas = [], [], {}
    for group in groups:
        for version in sorted({v for g, v in ops if g == group}, key=kube_version_key):
            gv = f"{group}/{version}" if group else version
            resources, roots = [], []
            for name, r in sorted(ops[(group, version)].items()):
                if r["type"] is None:
                    continue
                g, v, kind = kind_of_type[r["type"]]
                key = f"{name}.{group}" if group else name
                was = recorded.get(key, {})
                entry = {"name": name, "singularName": kind.lower(), "namespaced": r["namespaced"], "kind": kind,
                         "verbs": sorted(r["verbs"])}
                short = was.get("shortNames", SHORT_NAMES.get(key))
                if short:
                    entry["shortNames"] = short
                categories = was.get("categories", CATEGORIES.get(key))
                if categories:
                    entry["categories"] = categories
                if {"create", "get", "list"} <= r["verbs"]:  # stored in etcd: watchable, with a storage version
                    entry["verbs"] = sorted(r["verbs"] | {"watch"})
                    # One storage version per resource: the group's preferred version that serves it.
                    preferred = min((v for g, v in ops if g == group and name in ops[(g, v)]), key=kube_version_key)
                    sg, sv, sk = STORAGE_VERSIONS.get(f"{group}/{name}", (group, preferred, kind))
                    entry["storageVersionHash"] = storage_hash(sg, sv, sk)
                resources.append(entry)
                roots.append(gvk_schema[(group, version, kind)])
                for sub, (verbs, rtype) in sorted(r["subresources"].items()):
                    s = {"name": f"{name}/{sub}", "singularName": "", "namespaced": r["namespaced"], "verbs": sorted(verbs)}
                    if f"{name}/{sub}" in CONNECT_KINDS:
                        s["kind"] = CONNECT_KINDS[f"{name}/{sub}"]
                    elif rtype is None:
                        s["kind"] = kind
                    else:
                        sg, sv, sk = kind_of_type[rtype]
                        s["kind"] = sk
                        if (sg, sv) != (group, version):
                            s["group"], s["version"] = sg, sv
                    resources.append(s)
            doc = {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
            if group:
                doc["apiVersion"] = "v1"
            documents.append(doc)
            schema_roots += roots
            gv_schemas[gv] = roots

    names = closure(schema_roots, defs)
    gvk_names = {n for n in names if "x-kubernetes-group-version-kind" in defs[n]}
    schemas = {n: to_openapi(defs[n], drop_type_enums=n in gvk_names) for n in names}
    per_gv = {gv: closure(roots, defs) for gv, roots in gv_schemas.items()}

    discovery = json.dumps(documents, sort_keys=True, separators=(",", ":"))
    openapi = json.dumps({"schemas": schemas, "groupVersions": per_gv}, sort_keys=True, separators=(",", ":"))
    header = (f"// Generated by hack/gen-catalog.py from kube-apiserver {KUBE_VERSION}'s published API data "
              f"(PyPI {CLIENT_WHEEL[0]} {CLIENT_WHEEL[1]}, {SCHEMA_WHEEL[0]} {SCHEMA_WHEEL[1]}).\n// Do not edit by hand.\n\n")
    return {
        "BuiltinDiscovery.swift": header + "enum BuiltinDiscovery {\n"
        f"    /// The APIResourceList documents of every built-in group/version kube-apiserver {KUBE_VERSION} serves by default.\n"
        '    static let documents = #"""\n' + discovery + '\n"""#\n}\n',
        "BuiltinOpenAPI.swift": header + "enum BuiltinOpenAPI {\n"
        "    /// `schemas`: every built-in kind's OpenAPI v3 schema and what it references, by definition name;\n"
        "    /// `groupVersions`: the definitions each group/version's document carries.\n"
        '    static let document = #"""\n' + openapi + '\n"""#\n}\n',
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed files differ from the sources")
    args = parser.parse_args()
    stale = []
    for name, text in generate().items():
        path = OUT_DIR / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
            print("wrote", path.relative_to(REPO), f"({len(text) // 1024} KiB)")
    if args.check and stale:
        print("stale:", ", ".join(stale), "- run hack/gen-catalog.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
