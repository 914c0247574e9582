"""The committed contract artifacts are exactly what the committed sources compile to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]

ARTIFACTS = ["DemoUSDC.json", "MockAggregator.json", "DemoNFT.json", "MockGasPriceOracle.json"]


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_build_script_reproduces_committed_artifact(
    node_path: Path, tmp_path: Path, artifact: str
) -> None:
    result = subprocess.run(
        [str(node_path), "scripts/build_contracts.mjs", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"build_contracts.mjs failed:\n{result.stderr}"
    committed = (REPO_ROOT / "dev" / "session_studio_dev" / "_contracts" / artifact).read_bytes()
    rebuilt = (tmp_path / artifact).read_bytes()
    assert rebuilt == committed, (
        f"{artifact} is stale: run `node scripts/build_contracts.mjs` and commit the result"
    )
