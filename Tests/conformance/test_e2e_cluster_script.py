"""hack/e2e-cluster.sh, for users with a real cluster, run here against the emulator as "the
cluster of the current kubeconfig", so that the script itself stays correct."""

from __future__ import annotations

import os
import subprocess

from harness import REPO, Emulator, flotilla_bin


def test_e2e_cluster_script_passes(emulator: Emulator) -> None:
    env = {**os.environ, "KUBECONFIG": str(emulator.kubeconfig), "FLOTILLA_BIN": str(flotilla_bin())}
    result = subprocess.run(["bash", str(REPO / "hack" / "e2e-cluster.sh")], env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in ["a new commit is applied", "flotilla release --watch", "flotilla sync corrects drift", "delete with deletionPolicy Delete", "PASS"]:
        assert step in result.stdout
