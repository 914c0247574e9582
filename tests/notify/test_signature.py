"""`verify_signature`, the receiver's side: it accepts exactly what the notifier signed, with
the secret, recently; anything else is False, never an exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from session_studio.notify import signature_header, verify_signature

SECRET = "whsec_signature"
BODY = b'{"event_id":"7","type":"approval.pending"}'
NOW = 1_750_000_000


def test_a_signed_body_verifies() -> None:
    assert verify_signature(SECRET, signature_header(SECRET, BODY, now_s=NOW), BODY, NOW)


@given(body=st.binary(max_size=256), secret=st.text(min_size=1, max_size=40),
       delay=st.integers(min_value=0, max_value=300))
def test_any_body_signed_with_the_secret_verifies_within_the_tolerance(
        body: bytes, secret: str, delay: int) -> None:
    header = signature_header(secret, body, now_s=NOW)

    assert verify_signature(secret, header, body, NOW + delay)


def test_a_changed_body_does_not_verify() -> None:
    header = signature_header(SECRET, BODY, now_s=NOW)

    assert not verify_signature(SECRET, header, BODY.replace(b"7", b"8"), NOW)


def test_another_secret_does_not_verify() -> None:
    header = signature_header("someone else", BODY, now_s=NOW)

    assert not verify_signature(SECRET, header, BODY, NOW)


def test_a_replayed_old_delivery_does_not_verify() -> None:
    header = signature_header(SECRET, BODY, now_s=NOW)

    assert not verify_signature(SECRET, header, BODY, NOW + 301)


def test_a_moved_timestamp_does_not_verify() -> None:
    # A replayer rewriting `t` to now: the MAC covers the timestamp.
    mac = signature_header(SECRET, BODY, now_s=NOW).split(",v1=")[1]

    assert not verify_signature(SECRET, f"t={NOW + 600},v1={mac}", BODY, NOW + 600)


def test_a_str_body_and_its_utf8_bytes_sign_alike() -> None:
    text = '{"summary":"transfer 1 € to Zoë"}'

    assert signature_header(SECRET, text, now_s=NOW) == signature_header(
        SECRET, text.encode(), now_s=NOW)


def test_one_valid_v1_among_several_verifies() -> None:
    # Room for a secret rotation: the sender may sign with the old and the new secret.
    mac = signature_header(SECRET, BODY, now_s=NOW).split(",v1=")[1]

    assert verify_signature(SECRET, f"t={NOW},v1={'0' * 64},v1={mac}", BODY, NOW)


def test_malformed_headers_are_refused_without_raising() -> None:
    for header in ("", "t=", "v1=abc", f"t={NOW}", f"t=soon,v1={'0' * 64}",
                   f"t={NOW},t={NOW},v1={'0' * 64}", "garbage"):
        assert not verify_signature(SECRET, header, BODY, NOW), header


def test_the_receiver_code_in_the_operations_guide_agrees_with_the_library() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    section = guide.split("## Approval webhook", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own documentation, checked as code
    copied = namespace["verify_signature"]
    header = signature_header(SECRET, BODY, now_s=NOW)

    assert copied(SECRET, header, BODY, NOW)
    assert not copied(SECRET, header, BODY + b" ", NOW)
    assert not copied("someone else", header, BODY, NOW)
    assert not copied(SECRET, header, BODY, NOW + 301)
    assert not copied(SECRET, "garbage", BODY, NOW)
