"""An approval nobody decides expires and gives its reserved cost back (issue 14), through
real `serve`, anvil, web3.py and the CLI, on a sidecar whose approvals wait 3 seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .harness import Studio, running_studio
from .test_approvals import (
    USDC,
    fresh_address,
    get_approval,
    held_session,
    hold,
    send_usdc,
    wait_mined,
)

pytestmark = pytest.mark.e2e

EXPIRE_AFTER_S = 3


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    home = tmp_path_factory.mktemp("approval-expiry")
    with running_studio(home, extra_config=f"[approvals]\nexpire_after_s = {EXPIRE_AFTER_S}\n"
                        ) as running:
        yield running


def test_an_expired_approval_moves_nothing_and_frees_the_window(studio: Studio) -> None:
    session = held_session(studio, daily="30", per_tx="30")
    to = fresh_address()
    approval_id = hold(studio, session, to, 25 * USDC)["data"]["approval_id"]

    time.sleep(EXPIRE_AFTER_S + 1.5)

    assert get_approval(studio, session, approval_id)["result"]["status"] == "expired"
    late = studio.cli_raw("approvals", "approve", approval_id)
    assert late.returncode == 1
    assert studio.usdc_balance(to) == 0
    tx_hash = send_usdc(studio, session, to, 4 * USDC)  # the window is free again
    assert wait_mined(studio, tx_hash)["status"] == 1
