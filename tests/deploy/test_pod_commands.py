"""Every container of the rendered overlays, started here as the process it would be in the pod.

Same module, same flags, same POLYARB_* environment; only what cannot exist on this machine is mapped:
listen addresses become 127.0.0.1:0, peers and venues a closed local port, and the mounted Secret files
temporary files with the mode the kubelet gives them (defaultMode 0400 + fsGroup = 0440). So the live
executor's refusal of a key file others can read, the paper venue's creds parsing and every flag value
are exercised for real. Then health must answer SERVING without the control token, as a kubelet probe does:
on the plaintext health port where the gRPC port serves TLS (the TLS files: certificates made here, and
the gRPC port must then answer a client with a certificate of that CA).
"""

from __future__ import annotations

import json
import pathlib
import secrets
import urllib.parse

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = pytest.mark.integration

LISTEN = ("grpc-addr", "metrics-addr", "ws-addr", "http-addr", "health-addr")
PEERS = ("ingest-addr", "executor-addr")
URLS = ("ws-url", "clob-url")
CLOSED = "127.0.0.1:9"  # discard: nothing listens there
# a throwaway secp256k1 key (the well-known first Hardhat test account), never used for anything real
TEST_KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def local_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, CLOSED, parts.path, parts.query, parts.fragment))


class PodFiles:
    """Stands in for the pod's mounts: Secret items as files with the kubelet's mode, ConfigMap items as files
    with the rendered ConfigMap's content, volumes as directories."""

    def __init__(self, root: pathlib.Path, pki, overlay=None) -> None:
        self.root = root
        self.pki = pki
        self.overlay = overlay

    def config(self, template: dict, container: dict, path: str) -> str:
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            if path.startswith(mount["mountPath"].rstrip("/") + "/") and "configMap" in volume:
                config = self.overlay.one("ConfigMap", volume["configMap"]["name"])
                local = self.root / "configmaps" / path.strip("/").replace("/", "_")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(config["data"][path[len(mount["mountPath"].rstrip("/")) + 1:]])
                return str(local)
        raise AssertionError(f"{container['name']}: {path} is not on a ConfigMap volume")

    def secret(self, path: str, mode: int) -> str:
        name = pathlib.PurePosixPath(path).name
        content = {
            "tls.crt": self.pki.server_cert.read_text(),
            "tls.key": self.pki.server_key.read_text(),
            "ca.crt": self.pki.ca.read_text(),
            "private-key": TEST_KEY + "\n",
            "api-creds.json": json.dumps({"apiKey": "00000000-0000-4000-8000-000000000000",
                                          "secret": "c2VjcmV0LWFwaS1rZXktdmFsdWUtZm9yLXRlc3Rz",
                                          "passphrase": "paper-passphrase"}),
            "token": secrets.token_hex(16) + "\n",
        }[name]
        local = self.root / "secrets" / path.strip("/").replace("/", "_")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(content)
        local.chmod(mode)
        return str(local)

    def writable(self, path: str) -> str:
        local = self.root / "volumes" / path.strip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        return str(local)


def secret_file_mode(template: dict, container: dict, path: str) -> int:
    """The mode the kubelet gives a Secret file: the volume's defaultMode, plus group read with an fsGroup."""
    volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if path.startswith(mount["mountPath"].rstrip("/") + "/") and "secret" in volumes[mount["name"]]:
            mode = volumes[mount["name"]]["secret"].get("defaultMode", 0o644)
            if template["spec"].get("securityContext", {}).get("fsGroup") is not None:
                mode |= 0o440
            return mode
    raise AssertionError(f"{container['name']}: {path} is not on a Secret volume")


def local_command(template: dict, container: dict, files: PodFiles) -> tuple[str, list[str], dict[str, str]]:
    """(module, args, env) of a rendered container, mapped onto this machine."""

    def mapped(name: str, value: str | None) -> str | None:
        if value is None:
            return None
        if name in LISTEN:
            return "127.0.0.1:0"
        if name in PEERS:
            return CLOSED
        if name in URLS:
            return local_url(value)
        if value.startswith("/var/run/secrets/"):
            return files.secret(value, secret_file_mode(template, container, value))
        if value.startswith("/var/lib/polyarb/"):
            return files.writable(value)
        if value.startswith("/etc/polyarb/"):
            return files.config(template, container, value)
        assert not value.startswith("/"), f"{container['name']}: unmapped path --{name}={value}"
        return value

    args = []
    for arg in container.get("args", []):
        name, sep, value = arg[2:].partition("=")
        assert sep, f"{container['name']}: write flags as --name=value ({arg})"
        args.append(f"--{name}={mapped(name, value)}")
    env = {}
    for entry in container.get("env", []):
        flag = entry["name"].removeprefix("POLYARB_").lower().replace("_", "-")
        env[entry["name"]] = mapped(flag, entry["value"])
    return container["command"][2], args, env


def health(channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status


@pytest.mark.parametrize("overlay_name", ["paper", "live"])
def test_every_rendered_container_starts_and_reports_serving(overlay_name, rendered, start_service, tmp_path, pki):
    overlay = rendered[overlay_name]
    files = PodFiles(tmp_path, pki, overlay)
    client = grpc.ssl_channel_credentials(pki.ca.read_bytes(), pki.client_key.read_bytes(),
                                          pki.client_cert.read_bytes())
    for _workload, template, container in overlay.containers():
        module, args, env = local_command(template, container, files)
        service = start_service(module, args, env)  # waits for "serving"; a bad flag or file exits 2 first
        serving = next(e for e in service.log_entries() if e.get("msg") == "serving")
        what = f"{overlay_name} {container['name']}"
        if serving["tls"] == "off":
            probed = service.grpc_addr
        else:  # the probe's port: health alone, plaintext; the gRPC port itself answers only over TLS
            probed = serving["health_addr"]
            with grpc.secure_channel(service.grpc_addr, client) as channel:
                assert health(channel) == health_pb2.HealthCheckResponse.SERVING, what
        with grpc.insecure_channel(probed) as channel:
            assert health(channel) == health_pb2.HealthCheckResponse.SERVING, what
        mode = next((e["value"] for e in container.get("env", []) if e["name"] == "POLYARB_MODE"), None)
        if mode:
            assert serving["mode"] == mode
