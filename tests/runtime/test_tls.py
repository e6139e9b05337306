"""tls.py's pure parts: which addresses stay on the machine, and when a token would travel in clear text."""

import pytest

from polyarb.runtime import tls
from polyarb.runtime.config import ConfigError


@pytest.mark.parametrize(("addr", "loopback"), [
    ("127.0.0.1:50051", True), ("127.8.9.10:1", True), ("localhost:50051", True), ("LOCALHOST:1", True),
    ("[::1]:50051", True), ("0.0.0.0:50051", False), ("[::]:50051", False), (":50051", False),
    ("10.0.0.5:50051", False), ("polyarb-shard:50052", False), ("[fe80::1]:1", False),
])
def test_is_loopback(addr, loopback):
    assert tls.is_loopback(addr) is loopback


def test_token_exposed_needs_a_token_no_tls_and_a_network_address():
    assert tls.token_exposed("0.0.0.0:1", token_set=True, tls_on=False)
    assert not tls.token_exposed("0.0.0.0:1", token_set=True, tls_on=True)
    assert not tls.token_exposed("0.0.0.0:1", token_set=False, tls_on=False)
    assert not tls.token_exposed("127.0.0.1:1", token_set=True, tls_on=False)


def test_files_are_read_and_checked(pki):
    server = tls.load_server_tls(pki.server_cert, pki.server_key, pki.ca)
    assert server.client_ca == pki.ca.read_bytes() and "PRIVATE" not in repr(server)
    assert tls.load_server_tls(None, None) is None
    client = tls.load_client_tls(pki.ca, pki.client_cert, pki.client_key)
    assert client.root_certs and client.cert_chain and "PRIVATE" not in repr(client)
    assert tls.load_client_tls(None, None, None) is None
    assert tls.load_client_tls(pki.ca, None, None).cert_chain is None
    with pytest.raises(ConfigError, match="do not go together"):
        tls.load_client_tls(pki.ca, pki.client_cert, pki.server_key)
    with pytest.raises(ConfigError, match="--peer-tls-cert-file and --peer-tls-key-file go together"):
        tls.load_client_tls(pki.ca, pki.client_cert, None, prefix="--peer-tls-")
    with pytest.raises(ConfigError, match="no usable CA"):
        tls.load_client_tls(pki.client_key, None, None)


def test_an_encrypted_key_is_refused_without_a_prompt(pki, tmp_path):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(ConfigError, match="is encrypted"):
        tls.load_server_tls(pki.server_cert, encrypted)
