"""Fixtures of the conformance suite.

- `emulator`: a fresh `flotilla dev --api-only` per test module (stopped at the end of it).
- `start_emulator`: starts extra emulators with extra arguments (stopped after the test).
- `kubectl`: parametrized over kubectl 1.32 and 1.37 (ids kubectl-1.32, kubectl-1.37); a
  missing binary is an error, never a skip.
- `namespace` / `make_namespace`: unique namespaces per test.
- `widget_crd`: the test CRD (fixtures/widgets-crd.yaml), installed once per module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import (
    KUBECTL_VERSIONS, WIDGET_GROUP, Emulator, Kubectl, Operator, create_namespace, find_kubectl,
    install_crd, widget_crd_manifest,
)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    running = Emulator(tmp_path_factory.mktemp("emulator")).start()
    yield running
    running.stop()


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """Factory: start_emulator("--watch-window", "50") starts a dedicated emulator."""
    started: list[Emulator] = []

    def start(*extra_args: str) -> Emulator:
        running = Emulator(tmp_path / f"emulator-{len(started)}", extra_args)
        started.append(running)
        return running.start()

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def kubectl_binaries() -> dict[str, tuple[Path | None, str]]:
    return {label: find_kubectl(label) for label in KUBECTL_VERSIONS}


@pytest.fixture(params=list(KUBECTL_VERSIONS), ids=list(KUBECTL_VERSIONS))
def kubectl(request: pytest.FixtureRequest, kubectl_binaries: dict[str, tuple[Path | None, str]],
            tmp_path: Path) -> Kubectl:
    label = request.param
    binary, explanation = kubectl_binaries[label]
    if binary is None:
        # CI must run both versions: a missing kubectl is a failure, not a skip.
        pytest.fail(explanation, pytrace=False)
    emulator: Emulator = request.getfixturevalue("emulator")
    return Kubectl(binary, label, emulator, tmp_path / label)


@pytest.fixture
def make_namespace(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Callable[[], str]]:
    """Factory of unique namespaces named after the test; deleted (without waiting) afterwards."""
    made: list[str] = []

    def make() -> str:
        name = create_namespace(emulator, request.node.name)
        made.append(name)
        return name

    yield make
    for name in made:
        emulator.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture
def namespace(make_namespace: Callable[[], str]) -> str:
    return make_namespace()


@pytest.fixture(scope="module")
def widget_crd(emulator: Emulator) -> dict:
    """Installs the Widget CRD (group conformance.flotilla.dev, short name wdg) once per module."""
    crd = widget_crd_manifest(WIDGET_GROUP, "wdg")
    install_crd(emulator, crd)
    return crd


@pytest.fixture
def operator(emulator: Emulator, tmp_path: Path) -> Iterator[Operator]:
    """`flotilla run` against the module's emulator, stopped with SIGTERM afterwards."""
    running = Operator(emulator, tmp_path).start()
    yield running
    if running.process is not None:
        running.stop()
