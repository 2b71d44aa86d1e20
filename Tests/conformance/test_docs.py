"""The docs cannot drift from the code: the configuration reference is what hack/gen-reference.py
writes from the CRD and the binary; the README's tables name every FluxInstance field and every
`flotilla run` flag; docs/faq.md answers Flux v1's FAQ, question by question, in its order."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml

from harness import REPO, flotilla_bin

FAQ_QUESTIONS = [
    "What does Flux do?", "How does it automate deployment?", "How is that different from a bash script?",
    "Why should I automate deployment?", "I thought Flux was about service routing?", "Are there prerelease builds I can run?",
    "Does it work only with one git repository?", "Do I have to put my application code and config in the same git repo?",
    "Is there any special directory layout I need in my git repo?", "Why does Flux need a git ssh key with write access?",
    "Can I run Flux with readonly Git access?", "Does Flux automatically sync changes back to git?",
    "Will Flux delete resources when I remove them from git?", "How do I give Flux access to an image registry?",
    "How often does Flux check for new images?", "How often does Flux check for new git commits (and can I make it sync faster)?",
    "How do I use my own deploy key?", "How do I use a private git host?", "Why does my CI pipeline keep getting triggered?",
    "Can I restrict the namespaces that Flux can see or operate on?", "Can I change the namespace Flux puts things in by default?",
    "Can I temporarily make Flux ignore a manifest?", "Can I disable garbage collection for a specific resource?",
    "How can I prevent Flux overriding the replicas when using HPA?", "Can I disable Flux registry scanning?",
    "Does Flux support Kustomize/Templating/My favorite manifest factorization technology?",
]


def test_configuration_reference_is_generated() -> None:
    env = {**os.environ, "FLOTILLA_BIN": str(flotilla_bin())}
    result = subprocess.run([sys.executable, str(REPO / "hack" / "gen-reference.py"), "--check"], env=env)
    assert result.returncode == 0, "docs/configuration.md is stale: run `python3 hack/gen-reference.py`"


def spec_leaves() -> list[str]:
    crd = yaml.safe_load((REPO / "crds" / "fluxinstances.flotilla.dev.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    out: list[str] = []

    def walk(node: dict, path: str) -> None:
        for name, prop in (node.get("properties") or {}).items():
            if prop.get("type") == "object" and prop.get("properties"):
                walk(prop, f"{path}.{name}")
            else:
                out.append(f"{path}.{name}")
    walk(spec, "spec")
    return out


def test_readme_names_every_field_and_flag() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### `FluxInstance`"):readme.index("### `flotilla run`")]
    # Each field by its path, or by its last name in a row that groups siblings (`user`, `email`…).
    missing = [p for p in spec_leaves() if f"`{p}`" not in section and f"`{p.rsplit('.', 1)[1]}`" not in section]
    assert missing == [], f"README's FluxInstance table does not mention {missing}"
    dump = json.loads(subprocess.run([str(flotilla_bin()), "run", "--experimental-dump-help"], capture_output=True, text=True, check=True).stdout)
    flags = [a["preferredName"]["name"] for a in dump["command"]["arguments"] if a.get("shouldDisplay", True) and a["kind"] != "positional"]
    run = readme[readme.index("### `flotilla run`"):]
    missing = [f for f in flags if f != "help" and f"--{f}" not in run]
    assert missing == [], f"README's `flotilla run` table does not mention {missing}"


def test_faq_answers_flux_v1_faq_in_order() -> None:
    seed = REPO.parent / "shared" / "seeds" / "flux-faq.txt"
    if seed.exists():
        asked = [line.strip() for line in seed.read_text().splitlines()
                 if (line.strip().endswith("?") or line.startswith("How do I use a private git host")) and not line.startswith("See also")]
        asked = [q if not q.startswith("How do I use a private git host") else "How do I use a private git host?" for q in asked]
        assert asked == FAQ_QUESTIONS
    faq = (REPO / "docs" / "faq.md").read_text()
    headings = [h.strip() for h in re.findall(r"^### (.+)$", faq, flags=re.M)]
    assert headings == FAQ_QUESTIONS
    answers = re.split(r"^### .+$", faq, flags=re.M)[1:]
    assert all(len(a.strip()) > 80 for a in answers), "every question has an answer"


def test_package_lists_exactly_what_each_target_imports() -> None:
    """Package.swift's dependency lists are the targets' imports: none missing, none unused."""
    result = subprocess.run([sys.executable, str(REPO / "hack" / "package-deps.py")], capture_output=True, text=True)
    assert result.returncode == 0, f"Package.swift drifts from the imports (fix with `python3 hack/package-deps.py --write`):\n{result.stdout}"
