"""The shipped config files, reading from disk, and where the config file is looked for."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from session_studio.settings import (
    SETTINGS,
    ConfigError,
    default_config_path,
    load_settings,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def test_example_config_parses_with_base_and_base_sepolia() -> None:
    settings = load_settings(CONFIG_DIR / "example.toml")

    assert set(settings.chains) == {8453, 84532}
    usdc = settings.token(8453, "USDC")
    assert usdc is not None
    assert usdc.address == "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
    assert usdc.decimals == 6
    assert usdc.price.usd == Decimal("1.00")


def test_example_config_shows_every_setting() -> None:
    text = (CONFIG_DIR / "example.toml").read_text()

    missing = [s.name for s in SETTINGS if f"{s.name} = " not in text]

    assert missing == []


def test_dev_config_parses_with_anvil_chain_and_demo_usdc() -> None:
    settings = load_settings(CONFIG_DIR / "dev.toml")

    anvil = settings.chains[31337]
    assert (anvil.name, anvil.rpc_url, anvil.native_symbol) == (
        "anvil",
        "http://127.0.0.1:8545",
        "ETH",
    )
    assert anvil.native_price.usd == Decimal("3000.00")
    usdc = settings.token(31337, "USDC")
    assert usdc is not None
    assert usdc.address == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert (usdc.decimals, usdc.price.usd) == (6, Decimal("1.00"))
    assert (settings.admin.rp_id, settings.admin.origin) == ("localhost", "http://localhost:8646")


def test_dev_config_copied_into_workspace_keeps_its_files_there(tmp_path: Path) -> None:
    workspace = tmp_path / ".studio-dev"
    workspace.mkdir()
    shutil.copy(CONFIG_DIR / "dev.toml", workspace / "session-studio.toml")

    settings = load_settings(workspace / "session-studio.toml")

    assert settings.database.path == workspace / "studio.db"
    assert settings.keystore.master_key_file == workspace / "master.key"


def test_missing_config_file_says_to_run_init(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    assert str(raised.value) == f"config file not found: {path} (run `session-studio init`)"


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "session-studio.toml"
    path.write_text("[server]\nrpc_listen = \n")

    with pytest.raises(ConfigError) as raised:
        load_settings(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 2" in message
    assert "\n" not in message


def test_default_config_path_comes_from_the_environment(tmp_path: Path) -> None:
    env = {"SESSION_STUDIO_CONFIG": "/etc/studio/studio.toml"}

    assert default_config_path(env, tmp_path) == Path("/etc/studio/studio.toml")


def test_relative_config_path_in_the_environment_is_relative_to_cwd(tmp_path: Path) -> None:
    env = {"SESSION_STUDIO_CONFIG": "conf/studio.toml"}

    assert default_config_path(env, tmp_path) == tmp_path / "conf" / "studio.toml"


def test_default_config_path_falls_back_to_cwd(tmp_path: Path) -> None:
    assert default_config_path({}, tmp_path) == tmp_path / "session-studio.toml"


def _kubernetes_config(tmp_path: Path) -> Path:
    manifests = list(yaml.safe_load_all((CONFIG_DIR / "kubernetes" / "session-studio.yaml")
                                        .read_text()))
    (config_map,) = [m for m in manifests if m["kind"] == "ConfigMap"]
    path = tmp_path / "session-studio.toml"
    path.write_text(config_map["data"]["session-studio.toml"])
    return path


def test_kubernetes_example_config_parses_and_shares_one_postgresql_ledger(
    tmp_path: Path,
) -> None:
    settings = load_settings(_kubernetes_config(tmp_path))

    assert settings.database.url is not None
    assert settings.database.url.startswith("postgresql://")
    assert settings.database.path is None
    assert ":" not in settings.database.url.split("@")[0].removeprefix("postgresql://"), \
        "no password in the ConfigMap: it comes from PGPASSWORD"


def test_kubernetes_example_probes_readiness_and_runs_three_replicas() -> None:
    manifests = list(yaml.safe_load_all((CONFIG_DIR / "kubernetes" / "session-studio.yaml")
                                        .read_text()))
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]

    assert deployment["spec"]["replicas"] == 3
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {e["name"] for e in container["env"]} == {"SESSION_STUDIO_MASTER_KEY", "PGPASSWORD"}
