"""`polyarbctl creds derive`: L1 headers byte for byte against py-clob-client-v2, then the command against a
real paper venue (derive refused, create, derive again; a 0600 file; only the apiKey printed)."""

from __future__ import annotations

import json
import os

import pytest
from py_clob_client_v2.headers.headers import create_level_1_headers
from py_clob_client_v2.signer import Signer

from polyarb.ctl import creds
from tests.ctl.test_cli import ctl
from tests.ctl.test_sync import start_venue, venue_http

HARDHAT_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def wallet(key_hex: str) -> creds.WalletKey:
    from eth_account import Account

    key = bytes.fromhex(key_hex)
    return creds.WalletKey(key, Account.from_key(key).address)


@pytest.mark.parametrize(("chain_id", "timestamp", "nonce"),
                         [(137, 10_000_000, 23), (80002, 10_000_000, 23), (137, 1_786_728_000, 0)])
def test_l1_headers_are_byte_identical_to_py_clob_client_v2(chain_id, timestamp, nonce):
    ours = creds.l1_headers(wallet(HARDHAT_KEY), chain_id, timestamp, nonce)
    theirs = create_level_1_headers(Signer("0x" + HARDHAT_KEY, chain_id), nonce=nonce, timestamp=timestamp)
    assert ours == theirs
    assert list(ours) == list(theirs)  # the same header names, in the same order


def test_l1_signature_matches_the_published_vectors():
    # polymarket-protocol.md section 4: vector 3 (PCC1 upstream, chain 80002) and vector 9 (chain 137)
    assert creds.l1_headers(wallet(HARDHAT_KEY), 80002, 10_000_000, 23)["POLY_SIGNATURE"] == (
        "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d5260366425f4361e7b70c25ae2"
        "32aff0ab2331e2b164a1aedc1b")
    assert creds.l1_headers(wallet(HARDHAT_KEY), 137, 10_000_000, 23)["POLY_SIGNATURE"] == (
        "0x1a7118db6100dfd8efd102be36f472b59475dcac56eb4c9a2a94748d3655ba7c3c89deb8c19ee79eceb0a531122fbfbe88ed1180"
        "34f9d8212e2b725e7b296b9d1c")
    assert creds.l1_headers(wallet(HARDHAT_KEY), 137, 1, 0)["POLY_ADDRESS"] == HARDHAT_ADDRESS


@pytest.mark.integration
def test_creds_derive_creates_then_derives_into_a_private_file(start_service, tmp_path):
    http = venue_http(start_venue(start_service))
    key = tmp_path / "key.hex"
    key_hex = os.urandom(32).hex()
    key.write_text("0x" + key_hex + "\n")
    key.chmod(0o600)
    out = tmp_path / "creds" / "api-creds.json"
    out.parent.mkdir()

    first = ctl("creds", "derive", "--private-key-file", str(key), "--clob-url", http, "--out", str(out))
    assert first.returncode == 0, first.stderr
    written = json.loads(out.read_text())
    assert sorted(written) == ["apiKey", "passphrase", "secret"]
    assert out.stat().st_mode & 0o777 == 0o600
    assert first.stdout == written["apiKey"] + "\n"  # only the apiKey is printed
    assert "Could not derive api key!" in first.stderr  # nothing to derive yet: created
    for secret in (written["secret"], written["passphrase"], key_hex):
        assert secret not in first.stdout + first.stderr

    second = ctl("creds", "derive", "--private-key-file", str(key), "--clob-url", http, "--out", str(out),
                 "--nonce", "0")
    assert second.returncode == 0 and second.stdout == first.stdout  # derived: the same credentials
    assert "Could not derive" not in second.stderr and json.loads(out.read_text()) == written
    other_nonce = ctl("creds", "derive", "--private-key-file", str(key), "--clob-url", http, "--out",
                      str(tmp_path / "n7.json"), "--nonce", "7")
    assert other_nonce.returncode == 0 and other_nonce.stdout != first.stdout

    bad_key = tmp_path / "bad.hex"
    bad_key.write_text("not a key")
    refused = ctl("creds", "derive", "--private-key-file", str(bad_key), "--clob-url", http, "--out", str(out))
    assert refused.returncode == 2 and "64-hex-digit" in refused.stderr and "not a key" not in refused.stderr
    eoa_funder = ctl("creds", "derive", "--private-key-file", str(key), "--clob-url", http, "--out", str(out),
                     "--funder", "0x" + "11" * 20)
    assert eoa_funder.returncode == 2 and "--signature-type 0" in eoa_funder.stderr
