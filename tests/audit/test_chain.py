"""The hash chain and value shaping (apps.audit.chain): pure functions, no database."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from apps.audit import chain

FIELDS = {
    "timestamp": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    "actor_id": 7, "actor_name": "dana", "actor_role": "data_scientist", "action": "update",
    "object_type": "registry.mlmodel", "object_id": "12", "object_repr": "scorer",
    "team_id": 3, "changes": '{"name":["a","b"]}', "ip": "10.0.0.1", "request_id": "abc",
    "interface": "web",
}


@pytest.mark.parametrize("name", [
    "password", "password_confirm", "api_key", "apikey", "private_key", "secret",
    "client_secret", "token", "token_key", "otp", "otp_secret", "key", "signing_key",
    "Authorization", "session_id", "salt",
])
def test_secret_looking_names_are_masked(name):
    assert chain.is_secret_name(name)
    assert chain.mask_secrets({name: ["old", "new"]}) == {name: ["***", "***"]}


@pytest.mark.parametrize("name", [
    "key_column", "label_column", "name", "description", "sensitive_columns", "monkey_notes",
    "risk_tier",
])
def test_ordinary_names_are_kept(name):
    assert not chain.is_secret_name(name)
    assert chain.mask_secrets({name: ["a", "b"]}) == {name: ["a", "b"]}


def test_masking_keeps_unset_values_and_reaches_nested_keys():
    masked = chain.mask_secrets({
        "password": [None, "hunter2"],
        "params": {"api_key": "abc", "threshold": 0.5},
        "items": [{"token": "t"}],
    })
    assert masked == {
        "password": [None, "***"],
        "params": {"api_key": "***", "threshold": 0.5},
        "items": [{"token": "***"}],
    }


def test_json_value_shapes_what_json_cannot_hold():
    eastern = timezone(timedelta(hours=-5))
    assert chain.json_value(datetime(2026, 1, 1, 7, tzinfo=eastern)) == "2026-01-01T12:00:00+00:00"
    assert chain.json_value(Decimal("1.50")) == "1.50"
    assert chain.json_value(float("nan")) == "nan"
    assert chain.json_value({"a": (1, 2)}) == {"a": [1, 2]}
    assert chain.json_value("a\x00b") == "a\ufffdb"
    long_text = "x" * (chain.LONG_TEXT + 1)
    digest = hashlib.sha256(long_text.encode()).hexdigest()
    assert chain.json_value(long_text) == f"sha256:{digest} ({len(long_text)} characters)"


def test_canonical_json_is_sorted_and_compact():
    assert chain.canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_content_hash_covers_every_field():
    base = chain.content_hash(FIELDS)
    for name in chain.HASHED_FIELDS:
        changed = dict(FIELDS)
        original = changed[name]
        if isinstance(original, datetime):
            changed[name] = original + timedelta(microseconds=1)
        elif isinstance(original, int):
            changed[name] = original + 1
        else:
            changed[name] = original + "!"
        assert chain.content_hash(changed) != base, name


def test_content_hash_does_not_depend_on_the_timestamp_zone():
    shifted = dict(FIELDS, timestamp=FIELDS["timestamp"].astimezone(timezone(timedelta(hours=2))))
    assert chain.content_hash(shifted) == chain.content_hash(FIELDS)


def test_chain_hash_is_the_documented_formula():
    digest = chain.content_hash(FIELDS)
    expected = hashlib.sha256(f"{chain.GENESIS_HASH}:1:{digest}".encode()).hexdigest()
    assert chain.chain_hash(chain.GENESIS_HASH, 1, digest) == expected
    assert chain.chain_hash(chain.GENESIS_HASH, 2, digest) != expected


def test_entry_hash_recomputes_a_stored_entry():
    digest = chain.content_hash(FIELDS)
    entry = SimpleNamespace(**FIELDS, seq=1, prev_hash=chain.GENESIS_HASH,
                            hash=chain.chain_hash(chain.GENESIS_HASH, 1, digest))
    assert chain.entry_hash(entry) == entry.hash
    entry.changes = json.dumps({"name": ["a", "c"]})
    assert chain.entry_hash(entry) != entry.hash
