"""deploy/k8s/live-2-shards: two live shards, each with its own structure, wallet and structure-sync CronJob.

The same checks as the one-shard overlays where they apply (render, strict schema, security, every
command and flag against the services' --help, every container started here), plus what sharding
promises: nothing of one shard selects the other's pods, and each CronJob syncs and pushes its own
shard's groups to its own engine (run here against a paper venue and an engine).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2

from engine_svc.structure import compile_structure
from polyarb.ctl import sync
from polyarb.ctl.__main__ import build_parser
from polyarb.v1 import engine_pb2
from tests.conftest import ROOT
from tests.deploy import test_manifests as one_shard
from tests.deploy.conftest import render
from tests.deploy.test_manifests import (  # noqa: F401 - kubernetes_validate is a fixture
    LIVE_CLOB,
    SHELL_LABELS,
    file_source,
    flag_values,
    host,
    kubernetes_validate,
    module_of,
    port,
    selects,
    settings,
)
from tests.deploy.test_pod_commands import PodFiles, health, local_command, secret_file_mode

OVERLAY = "live-2-shards"
SHARDS = (0, 1)
SHARD_CONTAINERS = {"ingest": "ingest_svc", "engine": "engine_svc", "executor": "executor_svc"}


@pytest.fixture(scope="module")
def two_shards():
    return render(OVERLAY)


def statefulset(r, i: int) -> dict:
    return r.one("StatefulSet", f"polyarb-shard-{i}")


def containers_of(r, i: int) -> dict[str, dict]:
    return {c["name"]: c for c in statefulset(r, i)["spec"]["template"]["spec"]["containers"]}


def cronjob(r, i: int) -> dict:
    return r.one("CronJob", f"polyarb-structure-sync-{i}")


def sync_args(r, i: int) -> list[str]:
    (container,) = cronjob(r, i)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert module_of(container) == "polyarb.ctl"
    return container["args"]


TOKEN_FLAG = "--control-token-file="


def parse_ctl_args(args: list[str], tmp_path) -> tuple[object, str]:
    """polyarbctl's own parser over a container's args (it checks files exist: the mounted files are stood
    in for by local ones); returns the parsed args and the token path the pod would use."""
    local_file = tmp_path / "mounted-file"
    local_file.write_text("x\n")
    mounted = next(a[len(TOKEN_FLAG):] for a in args if a.startswith(TOKEN_FLAG))
    local = [a.split("=", 1)[0] + f"={local_file}" if a.startswith("--") and a.split("=", 1)[0].endswith("-file")
             else a for a in args]
    return build_parser().parse_args(local), mounted


def test_the_one_shard_checks_that_apply_pass(two_shards, kubernetes_validate):  # noqa: F811
    one_shard.test_every_document_validates_strictly_against_current_kubernetes(two_shards, kubernetes_validate)
    one_shard.test_podmonitor_is_well_formed(two_shards)
    one_shard.test_every_container_has_requests_and_limits(two_shards)
    one_shard.test_images_are_pinned_and_the_same_for_every_container(two_shards)
    one_shard.test_pods_run_non_root_with_read_only_root_and_no_capabilities(two_shards)
    one_shard.test_writable_volumes_only_where_needed(two_shards)
    one_shard.test_secret_files_are_group_readable_through_fsgroup_not_world_readable(two_shards)
    one_shard.test_namespace_enforces_restricted_pod_security(two_shards)
    assert not two_shards.of_kind("Secret"), "the manifests hold no secret: they are created out of band"


def test_every_command_and_flag_exists(two_shards, service_flags, tmp_path):
    for _workload, _template, container in two_shards.containers():
        module = module_of(container)
        if module == "polyarb.ctl":
            parse_ctl_args(container["args"], tmp_path)  # exits 2 on an unknown flag or a bad value
            continue
        flags = service_flags[module]
        for name, value in flag_values(container).items():
            assert name in flags.flags, f"{container['name']}: {module} has no flag --{name}"
            assert flags.flags[name].takes_value == (value is not None)
        by_env = flags.by_env()
        for name in (e["name"] for e in container.get("env", [])):
            assert name in by_env, f"{container['name']}: {module} reads no {name}"


def test_two_live_shards_each_with_its_own_structure_and_wallet(two_shards, service_flags):
    assert len(two_shards.of_kind("StatefulSet")) == 2
    configmaps, wallets, labels = set(), set(), {}
    for i in SHARDS:
        shard = statefulset(two_shards, i)
        template = shard["spec"]["template"]
        labels[i] = template["metadata"]["labels"]
        assert shard["spec"]["replicas"] == 1 and labels[i]["polyarb.io/shard"] == str(i)
        assert selects(shard["spec"]["selector"], labels[i])
        by_name = containers_of(two_shards, i)
        assert {n: module_of(c) for n, c in by_name.items()} == SHARD_CONTAINERS
        executor = settings(by_name["executor"], service_flags["executor_svc"])
        assert executor["mode"] == "live" and executor["clob-url"] == LIVE_CLOB
        _mount, keys = file_source(template, by_name["executor"], executor["private-key-file"])
        assert keys["secret"]["secretName"] == f"polyarb-executor-keys-{i}"  # one wallet per shard
        wallets.add(keys["secret"]["secretName"])
        engine = settings(by_name["engine"], service_flags["engine_svc"])
        _mount, volume = file_source(template, by_name["engine"], engine["structure-file"])
        configmaps.add(volume["configMap"]["name"])
        config = two_shards.one("ConfigMap", volume["configMap"]["name"])
        compile_structure(json_format.Parse(config["data"]["structure.json"], engine_pb2.MarketStructure()))
    assert len(configmaps) == 2 and len(wallets) == 2
    # nothing that belongs to one shard selects the other's pod
    for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy"):
        for doc in two_shards.of_kind(kind):
            selector = doc["spec"].get("podSelector") or doc["spec"]["selector"]
            selector = selector if "matchLabels" in selector else {"matchLabels": selector}
            hits = [i for i in SHARDS if selects(selector, labels[i])]
            assert len(hits) <= 1, f"{kind} {doc['metadata']['name']} selects both shards"
    assert {v["metadata"]["name"] for v in two_shards.of_kind("Service")} == {
        "polyarb-shard-0", "polyarb-shard-1", "polyarb-shard-pods-0", "polyarb-shard-pods-1"}


def test_a_structure_sync_cronjob_per_shard(two_shards, tmp_path):
    for i in SHARDS:
        job = cronjob(two_shards, i)
        assert job["spec"]["schedule"] == "*/20 * * * *" and job["spec"]["concurrencyPolicy"] == "Forbid"
        args, token_path = parse_ctl_args(sync_args(two_shards, i), tmp_path)
        assert (args.command, args.structure_command) == ("structure", "sync")
        assert args.shard == sync.Shard(i, 2) and args.push and args.every is None
        assert args.gamma_url == sync.GAMMA_URL
        # it reaches its own shard's engine, through that shard's Service, which routes to the engine port
        service = two_shards.one("Service", host(args.engine_addr))
        assert selects({"matchLabels": service["spec"]["selector"]}, statefulset(two_shards, i)["spec"]["template"]
                       ["metadata"]["labels"])
        assert port(args.engine_addr) in {p["port"] for p in service["spec"]["ports"] if p["targetPort"] == 50052}
        # and the shard's NetworkPolicy lets it in: the job's pod is the control plane's
        pod = job["spec"]["jobTemplate"]["spec"]["template"]
        assert selects({"matchLabels": SHELL_LABELS}, pod["metadata"]["labels"])
        # its own egress policy, and no other shard's, applies to it (policies add up)
        policies = [p for p in two_shards.of_kind("NetworkPolicy") if selects(p["spec"]["podSelector"],
                                                                              pod["metadata"]["labels"])]
        assert [p["metadata"]["name"] for p in policies] == [f"polyarb-structure-sync-{i}"]
        engine_rule = next(r for r in policies[0]["spec"]["egress"] if {"protocol": "TCP", "port": 50052}
                           in r["ports"])
        for j in SHARDS:
            reaches = selects(engine_rule["to"][0]["podSelector"],
                              statefulset(two_shards, j)["spec"]["template"]["metadata"]["labels"])
            assert reaches == (i == j)
        (container,) = pod["spec"]["containers"]
        _mount, volume = file_source(pod, container, token_path)
        assert volume["secret"]["secretName"] == "polyarb-control-token"
        assert pod["spec"]["serviceAccountName"] == f"polyarb-structure-sync-{i}"
        assert pod["spec"]["restartPolicy"] == "Never"


@pytest.mark.integration
def test_every_shard_container_starts_and_each_cronjob_pushes_its_own_shard(two_shards, start_service, tmp_path,
                                                                            pki):
    files = PodFiles(tmp_path, pki, two_shards)
    client = grpc.ssl_channel_credentials(pki.ca.read_bytes(), pki.client_key.read_bytes(),
                                          pki.client_cert.read_bytes())
    for i in SHARDS:
        shard = statefulset(two_shards, i)
        for container in shard["spec"]["template"]["spec"]["containers"]:
            module, args, env = local_command(shard["spec"]["template"], container, files)
            service = start_service(module, args, env)
            serving = next(e for e in service.log_entries() if e.get("msg") == "serving")
            assert serving["tls"] != "off", f"shard {i} {container['name']}: live shards serve TLS"
            with grpc.secure_channel(service.grpc_addr, client) as channel:
                assert health(channel) == health_pb2.HealthCheckResponse.SERVING, f"shard {i} {container['name']}"
            with grpc.insecure_channel(serving["health_addr"]) as channel:  # the kubelet's probe port
                assert health(channel) == health_pb2.HealthCheckResponse.SERVING, f"shard {i} {container['name']}"

    # each CronJob's command, against a paper venue (its Gamma-shaped /events) and an engine of its own
    token = "k8s-shards-test-token"
    venue = start_service("paper_venue", ["--scenario", "manual", "--ws-addr", "127.0.0.1:0",
                                          "--http-addr", "127.0.0.1:0"])
    gamma = "http://" + next(e["http_addr"] for e in venue.log_entries() if e.get("msg") == "serving")
    pushed = {}
    for i in SHARDS:
        engine = start_service("engine_svc", ["--ingest-addr", "127.0.0.1:9", "--executor-addr", "127.0.0.1:9",
                                              f"--tls-cert-file={pki.server_cert}", f"--tls-key-file={pki.server_key}",
                                              f"--tls-client-ca-file={pki.ca}"],
                               {"POLYARB_CONTROL_TOKEN": token})
        pod = cronjob(two_shards, i)["spec"]["jobTemplate"]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        args = []
        for arg in sync_args(two_shards, i):
            name, _, value = arg.partition("=")
            if name == "--engine-addr":
                value = engine.grpc_addr
            elif name == "--gamma-url":
                assert urllib.parse.urlsplit(value).scheme == "https"
                value = gamma
            elif name == "--control-token-file":
                value = files.secret(value, secret_file_mode(pod, container, value))
                with open(value, "w") as handle:
                    handle.write(token + "\n")
            elif name.startswith("--tls-"):  # the shard's Secret: its certificate serves as the client's too
                value = files.secret(value, secret_file_mode(pod, container, value))
            args.append(f"{name}={value}" if value else name)
        env = {"PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-m", "polyarb.ctl", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        status = subprocess.run([sys.executable, "-m", "polyarb.ctl", f"--engine-addr={engine.grpc_addr}",
                                 f"--tls-ca-file={pki.ca}", f"--tls-cert-file={pki.client_cert}",
                                 f"--tls-key-file={pki.client_key}", "status", "engine", "--json"],
                                cwd=ROOT, env={**env, "POLYARB_CONTROL_TOKEN": token}, capture_output=True, text=True,
                                timeout=60)
        pushed[i] = json.loads(status.stdout)["engine"]["instances"]
    # the scenario's two groups (its range event's 3 trios, its bucket set) fall one in each shard
    assert pushed == {0: 3, 1: 1}
