"""The credential vault: AES-256-GCM envelopes bound to their row, versioned keys, rotation."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest

from sandbox.endpoint import REPO_ROOT
from service.store import rotate_keys
from service.vault import Binding, DecryptionError, Vault, VaultConfigError, generate_key
from tests.databases import query

V1, V2 = generate_key("v1"), generate_key("v2")
SECRET = "postgresql://app:pa55-w0rd@db.example.com/shop"


def vault(*keys: str) -> Vault:
    return Vault.from_env({"CREDENTIALS_ENCRYPTION_KEYS": ",".join(keys)})


def test_envelope_is_ciphertext_tagged_with_its_version() -> None:
    v = vault(V1)
    binding = Binding("user_credentials", str(uuid.uuid4()), "value_encrypted")
    envelope = v.encrypt(SECRET, binding)
    assert SECRET.encode() not in envelope
    assert b"pa55" not in envelope
    assert Vault.version_of(envelope) == "v1"
    assert v.decrypt(envelope, binding) == SECRET
    assert v.encrypt(SECRET, binding) != envelope  # a fresh nonce every time
    assert "pa55" not in repr(v)


def test_envelope_does_not_decrypt_anywhere_else() -> None:
    v = vault(V1)
    row = str(uuid.uuid4())
    envelope = v.encrypt(SECRET, Binding("deployed_apps", row, "database_url_encrypted"))
    for elsewhere in [
        Binding("deployed_apps", str(uuid.uuid4()), "database_url_encrypted"),  # another row
        Binding("user_credentials", row, "database_url_encrypted"),  # another table
        Binding("deployed_apps", row, "config"),  # another column
    ]:
        with pytest.raises(DecryptionError, match="another row") as caught:
            v.decrypt(envelope, elsewhere)
        assert SECRET not in str(caught.value)
    tampered = bytearray(envelope)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        v.decrypt(bytes(tampered), Binding("deployed_apps", row, "database_url_encrypted"))
    # Relabelled as another version (with that version's key present): the version is bound too.
    relabelled = envelope.replace(b"v1", b"v2", 1)
    with pytest.raises(DecryptionError):
        vault(V2, V1).decrypt(relabelled, Binding("deployed_apps", row, "database_url_encrypted"))


def test_key_settings_are_checked_with_the_fix() -> None:
    with pytest.raises(VaultConfigError, match="oneclick service new-key"):
        Vault.from_env({})
    with pytest.raises(VaultConfigError, match="base64 of 32 bytes"):
        Vault.from_env({"CREDENTIALS_ENCRYPTION_KEY": "v1:c2hvcnQ="})
    with pytest.raises(VaultConfigError, match="both set"):
        Vault.from_env({"CREDENTIALS_ENCRYPTION_KEY": V1, "CREDENTIALS_ENCRYPTION_KEYS": V1})
    with pytest.raises(VaultConfigError, match="listed twice"):
        vault(V1, V1)
    # A bare base64 key is version v1.
    bare = Vault.from_env({"CREDENTIALS_ENCRYPTION_KEY": V1.split(":", 1)[1]})
    assert bare.current == "v1"
    envelope = vault(V2).encrypt("x", Binding("t", "1", "c"))
    with pytest.raises(DecryptionError, match="key v2, which is not configured"):
        bare.decrypt(envelope, Binding("t", "1", "c"))


@pytest.fixture
def credentials_db(service_db: str) -> str:
    with psycopg.connect(service_db, autocommit=True) as conn:
        conn.execute("DELETE FROM user_credentials")
    return service_db


def store_credential(url: str, v: Vault, user: str, name: str, value: str) -> str:
    row_id = str(uuid.uuid4())
    envelope = v.encrypt(value, Binding("user_credentials", row_id, "value_encrypted"))
    query(
        url,
        "INSERT INTO user_credentials (id, user_id, provider, name, value_encrypted) "
        "VALUES (%s, %s, 'stripe', %s, %s) RETURNING id",
        [row_id, user, name, envelope],
    )
    return row_id


def read_credential(url: str, v: Vault, row_id: str) -> str:
    (envelope,) = query(url, "SELECT value_encrypted FROM user_credentials WHERE id = %s", [row_id])[0]
    return v.decrypt(bytes(envelope), Binding("user_credentials", row_id, "value_encrypted"))


def test_database_holds_ciphertext_that_cannot_be_moved_between_rows(credentials_db: str) -> None:
    v = vault(V1)
    alice = store_credential(credentials_db, v, "alice", "STRIPE_SECRET_KEY", "sk_live_alice_0001")
    bob = store_credential(credentials_db, v, "bob", "STRIPE_SECRET_KEY", "sk_live_bob_0002")
    dump = str(query(credentials_db, "SELECT * FROM user_credentials"))
    assert "sk_live" not in dump
    assert read_credential(credentials_db, v, alice) == "sk_live_alice_0001"
    # Someone with write access to the table copies Alice's ciphertext into Bob's row.
    query(
        credentials_db,
        "UPDATE user_credentials SET value_encrypted = (SELECT value_encrypted FROM user_credentials "
        "WHERE id = %s) WHERE id = %s RETURNING id",
        [alice, bob],
    )
    with pytest.raises(DecryptionError, match="another row"):
        read_credential(credentials_db, v, bob)


def test_rotation_reencrypts_everything_and_the_old_key_can_go(credentials_db: str) -> None:
    old = vault(V1)
    rows = [store_credential(credentials_db, old, f"user-{n}", "KEY", f"secret-{n}") for n in range(7)]
    rotating = vault(V2, V1)  # the new key first; the old one still decrypts
    assert read_credential(credentials_db, rotating, rows[0]) == "secret-0"
    with psycopg.connect(credentials_db, autocommit=True) as conn:
        counts = rotate_keys(conn, rotating, batch=3)
        assert counts["user_credentials.value_encrypted"] == 7
        assert rotate_keys(conn, rotating)["user_credentials.value_encrypted"] == 0  # idempotent
    versions = {
        Vault.version_of(bytes(e))
        for (e,) in query(credentials_db, "SELECT value_encrypted FROM user_credentials")
    }
    assert versions == {"v2"}
    new_only = vault(V2)
    assert [read_credential(credentials_db, new_only, row) for row in rows] == [
        f"secret-{n}" for n in range(7)
    ]
    with pytest.raises(DecryptionError, match="not configured"):
        read_credential(credentials_db, old, rows[0])


def test_rotate_key_command(credentials_db: str) -> None:
    row = store_credential(credentials_db, vault(V1), "carol", "KEY", "carol-secret")
    env = {**os.environ, "CREDENTIALS_ENCRYPTION_KEYS": f"{V2},{V1}"}
    env.pop("CREDENTIALS_ENCRYPTION_KEY", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cli.main import main; main()",
            "service",
            "rotate-key",
            "--database-url",
            credentials_db,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "user_credentials.value_encrypted: 1 re-encrypted with v2" in done.stdout
    assert read_credential(credentials_db, vault(V2), row) == "carol-secret"
    # Without a key the command says how to make one, and shows no traceback.
    env.pop("CREDENTIALS_ENCRYPTION_KEYS")
    failed = subprocess.run(
        [sys.executable, "-c", "from cli.main import main; main()", "service", "rotate-key"],
        cwd=REPO_ROOT,
        env={**env, "ONECLICK_SERVICE_DATABASE_URL": credentials_db},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "error: CREDENTIALS_ENCRYPTION_KEY is not set" in failed.stderr
    assert "Traceback" not in failed.stderr
