"""Loading the signing key: the address as eth-account derives it, bad keys refused without echoing them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from executor_svc.keys import KeyFileError, load_signing_key

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141  # secp256k1 group order


@settings(max_examples=50, deadline=None)
@given(st.integers(1, N - 1), st.sampled_from(["", "0x", "0X"]), st.sampled_from(["", "\n", "  \n"]))
def test_the_address_is_eth_accounts(tmp_path_factory, scalar, prefix, tail):
    path = tmp_path_factory.mktemp("k") / "key.hex"
    key = scalar.to_bytes(32, "big")
    path.write_text(prefix + key.hex() + tail)
    loaded = load_signing_key(path, strict=False)
    assert loaded.key == key and loaded.address == Account.from_key(key).address


@pytest.mark.parametrize("scalar", [0, N, N + 1])
def test_a_key_outside_the_curve_order_is_refused_without_being_echoed(tmp_path, scalar):
    path = tmp_path / "key.hex"
    text = scalar.to_bytes(32, "big").hex() if scalar < 2**256 else "f" * 64
    path.write_text(text)
    with pytest.raises(KeyFileError) as refused:
        load_signing_key(path, strict=False)
    assert text not in str(refused.value) and "secp256k1" in str(refused.value)


def test_loading_a_key_does_not_import_eth_account(tmp_path):
    """eth_account costs the executor ~19 MB of RSS and ~0.9 s of start-up; only tests and the bench use it."""
    path = tmp_path / "key.hex"
    path.write_text("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    code = ("import sys, pathlib, executor_svc.service; from executor_svc.keys import load_signing_key; "
            f"load_signing_key(pathlib.Path({str(path)!r}), False); print('eth_account' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
