"""The kustomize overlays deploy/k8s/{paper,live}, rendered by kustomize and checked document by document.

What is promised (issue 9, reference-designs.md section 4): one shard = one pod of three containers over
localhost, never two executors for a shard, the journal on a volume claim, native gRPC probes on numeric
ports, limits, non-root and read-only root, secrets only as read-only files, a scrape config for every
metrics port, NetworkPolicy and PodDisruptionBudget; and every command and flag exists in the services.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
import urllib.parse

import pytest
from google.protobuf import json_format

from engine_svc.structure import compile_structure
from polyarb.runtime.config import host_port
from polyarb.v1 import engine_pb2

OVERLAYS = ("paper", "live")
SHARD_CONTAINERS = {"ingest": "ingest_svc", "engine": "engine_svc", "executor": "executor_svc"}
VENUE_CONTAINERS = {"paper-venue": "paper_venue"}
MODE = {"paper": "paper", "live": "live"}
LIVE_CLOB = "https://clob.polymarket.com"
SHELL_LABELS = {"polyarb.io/role": "shell"}
PROMETHEUS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
KUBE_DNS_PEER = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
# the Prometheus operator selects PodMonitors by this label (kube-prometheus-stack: release=<helm release>)
OPERATOR_SELECTOR_LABEL = "release"
CRD_GROUPS = ("monitoring.coreos.com/",)

# -- helpers ---------------------------------------------------------------------------------------------


def flag_values(container: dict) -> dict[str, str | None]:
    """--name=value / --name value / --switch → {name: value or None}; a repeated flag fails."""
    values: dict[str, str | None] = {}
    args = list(container.get("args", []))
    i = 0
    while i < len(args):
        arg = args[i]
        assert arg.startswith("--"), f"{container['name']}: argument {arg!r} is not a --flag"
        name, sep, value = arg[2:].partition("=")
        if not sep:
            if i + 1 < len(args) and not args[i + 1].startswith("--"):
                value = args[i + 1]
                i += 1
            else:
                value = None
        assert name not in values, f"{container['name']}: --{name} given twice"
        values[name] = value
        i += 1
    return values


def env_values(container: dict) -> dict[str, str]:
    result = {}
    for entry in container.get("env", []):
        assert "value" in entry, f"{container['name']}: env {entry['name']} is not a plain value"
        result[entry["name"]] = entry["value"]
    return result


def settings(container: dict, flags) -> dict[str, str | None]:
    """Each flag's effective value from args and POLYARB_* env (the flag wins, as in the services)."""
    by_env = flags.by_env()
    effective = {by_env[name].name: value for name, value in env_values(container).items() if name in by_env}
    effective.update(flag_values(container))
    return effective


def port(addr: str) -> int:
    return int(host_port(addr).rpartition(":")[2])


def host(addr: str) -> str:
    return host_port(addr).rpartition(":")[0]


def selects(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels", {})
    assert not selector.get("matchExpressions"), "matchExpressions are not used here"
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def quantity(text: str | int) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    text = str(text)
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def module_of(container: dict) -> str:
    command = container.get("command", [])
    assert command[:2] == ["python", "-m"] and len(command) == 3, (
        f"{container['name']}: command must be ['python', '-m', <service>], got {command}")
    return command[2]


def mounts_by_path(template: dict, container: dict) -> dict[str, tuple[dict, dict]]:
    """mountPath → (volumeMount, volume) for a container."""
    volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
    result = {}
    for mount in container.get("volumeMounts", []):
        result[mount["mountPath"]] = (mount, volumes.get(mount["name"], {"name": mount["name"]}))
    return result


def file_source(template: dict, container: dict, path: str) -> tuple[dict, dict]:
    """The (volumeMount, volume) under which a file path lies, and check the file is one the volume provides."""
    for mount_path, (mount, volume) in mounts_by_path(template, container).items():
        if path.startswith(mount_path.rstrip("/") + "/"):
            relative = posixpath.relpath(path, mount_path)
            source = volume.get("secret") or volume.get("configMap")
            if source and source.get("items"):
                assert relative in {item["path"] for item in source["items"]}, (
                    f"{container['name']}: {path} is not among the items of volume {volume['name']}")
            return mount, volume
    raise AssertionError(f"{container['name']}: no volume is mounted above {path}")


def shard_statefulset(r) -> dict:
    return r.one("StatefulSet", "polyarb-shard")


@pytest.fixture(params=OVERLAYS)
def overlay(request, rendered):
    return rendered[request.param]


# -- every document is valid Kubernetes --------------------------------------------------------------------


@pytest.fixture(scope="session")
def kubernetes_validate():
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail("kubernetes-validate is not installed in the test virtualenv: it is the PyPI package "
                    "kubernetes-validate, pinned in pyproject.toml [project.optional-dependencies] dev", pytrace=False)
    return kubernetes_validate


def test_every_document_validates_strictly_against_current_kubernetes(overlay, kubernetes_validate):
    from kubernetes_validate.utils import SchemaNotFoundError

    version = kubernetes_validate.utils.latest_version()
    assert tuple(int(x) for x in version.split(".")[:2]) >= (1, 30)
    for doc in overlay.docs:
        name = f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except SchemaNotFoundError:
            # custom resources have no bundled schema: only the Prometheus operator's are expected here
            assert doc["apiVersion"].startswith(CRD_GROUPS), f"{overlay.overlay}: no schema for {name}"
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay.overlay}: {name} is not valid Kubernetes {version}: {exc.message}")


def test_podmonitor_is_well_formed(overlay):
    # no schema is bundled for the CRD: check the fields prometheus-operator requires and we rely on
    monitors = overlay.of_kind("PodMonitor")
    assert len(monitors) == 1
    monitor = monitors[0]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) <= {"selector", "podMetricsEndpoints", "podTargetLabels", "jobLabel",
                                    "namespaceSelector"}
    assert monitor["spec"]["selector"]["matchLabels"]
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings"}
        assert isinstance(endpoint["port"], str) and endpoint["path"] == "/metrics"


# -- one shard = one pod of three containers; never two executors ------------------------------------------


def test_shard_is_one_pod_of_ingest_engine_executor(overlay):
    shard = shard_statefulset(overlay)
    containers = shard["spec"]["template"]["spec"]["containers"]
    assert {c["name"]: module_of(c) for c in containers} == SHARD_CONTAINERS
    assert not shard["spec"]["template"]["spec"].get("initContainers")


def test_the_shard_pod_is_guaranteed_qos_with_whole_cores(overlay):
    """requests = limits for every container, whole CPUs: what the latency figures assume (the static CPU
    manager can pin each stage to a core of its own)."""
    spec = shard_statefulset(overlay)["spec"]["template"]["spec"]
    for container in (*spec["containers"], *spec.get("initContainers", ())):
        resources = container["resources"]
        assert resources["requests"] == resources["limits"], container["name"]
        cpu = quantity(resources["limits"]["cpu"])
        assert cpu >= 1 and cpu == int(cpu), f"{container['name']}: whole cores"


def test_an_executor_never_runs_twice_for_a_shard(overlay):
    executors = [(w, c) for w, _t, c in overlay.containers() if module_of(c) == "executor_svc"]
    assert len(executors) == 1, "one executor container per shard, in one workload"
    workload, _ = executors[0]
    assert workload["kind"] == "StatefulSet", "a StatefulSet replaces a pod only after the old one is gone"
    assert workload["spec"]["replicas"] == 1
    assert workload["spec"].get("updateStrategy", {}).get("type", "RollingUpdate") == "RollingUpdate"
    assert workload["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    assert not overlay.of_kind("HorizontalPodAutoscaler")
    for other in overlay.workloads():  # a Deployment (the paper venue) holds state in memory: one, Recreate
        if other["kind"] == "Deployment":
            assert other["spec"]["replicas"] == 1 and other["spec"]["strategy"]["type"] == "Recreate"


def test_engine_reaches_ingest_and_executor_over_localhost(overlay, service_flags):
    spec = shard_statefulset(overlay)["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in spec["containers"]}
    engine = settings(by_name["engine"], service_flags["engine_svc"])
    ingest = settings(by_name["ingest"], service_flags["ingest_svc"])
    executor = settings(by_name["executor"], service_flags["executor_svc"])
    for peer, target in (("ingest-addr", ingest), ("executor-addr", executor)):
        assert host(engine[peer]) == "127.0.0.1"
        assert port(engine[peer]) == port(target["grpc-addr"])


def test_journal_is_on_a_persistent_volume_claim(overlay, service_flags):
    shard = shard_statefulset(overlay)
    template = shard["spec"]["template"]
    executor = next(c for c in template["spec"]["containers"] if c["name"] == "executor")
    journal = settings(executor, service_flags["executor_svc"])["journal"]
    mount, volume = file_source(template, executor, journal)
    assert not mount.get("readOnly")
    claims = {t["metadata"]["name"]: t for t in shard["spec"]["volumeClaimTemplates"]}
    assert volume["name"] in claims and "persistentVolumeClaim" not in volume  # from the claim template
    claim = claims[volume["name"]]["spec"]
    assert claim["accessModes"] == ["ReadWriteOnce"]
    assert quantity(claim["resources"]["requests"]["storage"]) >= 2**30
    assert shard["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_the_engines_structure_file_comes_from_the_shards_configmap(overlay, service_flags):
    template = shard_statefulset(overlay)["spec"]["template"]
    engine = next(c for c in template["spec"]["containers"] if c["name"] == "engine")
    path = settings(engine, service_flags["engine_svc"])["structure-file"]
    mount, volume = file_source(template, engine, path)
    assert mount["readOnly"] is True and "configMap" in volume
    config = overlay.one("ConfigMap", volume["configMap"]["name"])  # the generated, hash-suffixed name
    document = config["data"][posixpath.basename(path)]
    compile_structure(json_format.Parse(document, engine_pb2.MarketStructure()))  # what the engine loads at start


# -- commands and flags exist in the services --------------------------------------------------------------


def test_every_command_and_flag_exists_in_the_services(overlay, service_flags):
    expected = {**SHARD_CONTAINERS, **(VENUE_CONTAINERS if overlay.overlay == "paper" else {})}
    seen = {}
    for _workload, _template, container in overlay.containers():
        module = module_of(container)
        seen[container["name"]] = module
        assert module in service_flags, f"{container['name']}: {module} is not a polyarb service"
        flags = service_flags[module]
        for name, value in flag_values(container).items():
            assert name in flags.flags, f"{container['name']}: {module} has no flag --{name} (see its --help)"
            spec = flags.flags[name]
            assert spec.takes_value == (value is not None), f"{container['name']}: --{name} value mismatch"
            if spec.choices:
                assert value in spec.choices, f"{container['name']}: --{name}={value} not in {spec.choices}"
        by_env = flags.by_env()
        for name, value in env_values(container).items():
            assert name != "POLYARB_CONTROL_TOKEN", "the control token comes from a file, not the environment"
            assert name.startswith("POLYARB_"), f"{container['name']}: unexpected env {name}"
            assert name in by_env, f"{container['name']}: {module} reads no {name} (no such flag)"
            choices = by_env[name].choices
            assert not choices or value in choices, f"{container['name']}: {name}={value} not in {choices}"
            assert by_env[name].name not in flag_values(container), f"{name} is also given as a flag: the flag wins"
        for name, value in settings(container, flags).items():
            if name.endswith("-addr"):
                host_port(value)  # raises on a malformed HOST:PORT, as the service would exit 2
    assert seen == expected


def test_executor_mode_and_venue_per_overlay(rendered, service_flags):
    flags = service_flags["executor_svc"]
    for name, r in rendered.items():
        executor = next(c for c in shard_statefulset(r)["spec"]["template"]["spec"]["containers"]
                        if c["name"] == "executor")
        effective = settings(executor, flags)
        assert effective["mode"] == MODE[name]
        assert effective["private-key-file"] and effective["api-creds-file"], "paper and live need both"
        if name == "live":
            assert effective["clob-url"] == LIVE_CLOB


def test_paper_overlay_points_ingest_and_executor_at_the_paper_venue(rendered, service_flags):
    r = rendered["paper"]
    venue_service = r.one("Service", "paper-venue")
    venue = r.one("Deployment", "paper-venue")
    assert selects({"matchLabels": venue_service["spec"]["selector"]}, venue["spec"]["template"]["metadata"]["labels"])
    venue_settings = settings(venue["spec"]["template"]["spec"]["containers"][0], service_flags["paper_venue"])
    service_ports = {p["name"]: p for p in venue_service["spec"]["ports"]}
    containers = {c["name"]: c for c in shard_statefulset(r)["spec"]["template"]["spec"]["containers"]}

    ws = urllib.parse.urlsplit(settings(containers["ingest"], service_flags["ingest_svc"])["ws-url"])
    assert (ws.scheme, ws.hostname, ws.path) == ("ws", "paper-venue", "/ws/market")
    assert service_ports["ws"]["port"] == ws.port
    assert service_ports["ws"]["targetPort"] == port(venue_settings["ws-addr"])

    clob = urllib.parse.urlsplit(settings(containers["executor"], service_flags["executor_svc"])["clob-url"])
    assert (clob.scheme, clob.hostname) == ("http", "paper-venue")
    assert service_ports["http"]["port"] == clob.port
    assert service_ports["http"]["targetPort"] == port(venue_settings["http-addr"])
    for key in ("ws-addr", "http-addr", "grpc-addr", "metrics-addr"):
        assert host(venue_settings[key]) == "0.0.0.0", f"the venue's {key} must be reachable from other pods"


def test_live_overlay_has_no_paper_venue_and_trades_on_polymarket(rendered, service_flags):
    r = rendered["live"]
    assert not [d for d in r.docs if "paper-venue" in d["metadata"]["name"]]
    ingest = next(c for c in shard_statefulset(r)["spec"]["template"]["spec"]["containers"] if c["name"] == "ingest")
    ws = urllib.parse.urlsplit(settings(ingest, service_flags["ingest_svc"])["ws-url"])
    assert (ws.scheme, ws.port) == ("wss", None) and ws.hostname.endswith("polymarket.com")


# -- probes, ports, resources ------------------------------------------------------------------------------


def test_native_grpc_probes_on_numeric_ports(overlay, service_flags):
    for _workload, _template, container in overlay.containers():
        effective = settings(container, service_flags[module_of(container)])
        grpc_port = port(effective["grpc-addr"])
        assert host(effective["grpc-addr"]) == "0.0.0.0", (
            f"{container['name']}: kubelet probes connect to the pod IP, so gRPC must listen on 0.0.0.0")
        declared = {p["containerPort"]: p.get("name", "") for p in container["ports"]}
        assert declared.get(grpc_port, "").startswith("grpc-"), f"{container['name']}: gRPC port not declared"
        if effective.get("tls-cert-file"):
            # kubelet gRPC probes speak no TLS: they go to the plaintext health-only port
            assert effective.get("health-addr"), f"{container['name']}: TLS on the gRPC port needs --health-addr"
            assert host(effective["health-addr"]) == "0.0.0.0", f"{container['name']}: probes reach the pod IP"
            grpc_port = port(effective["health-addr"])
            assert declared.get(grpc_port, "").startswith("health-"), f"{container['name']}: health port not declared"
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container.get(kind)
            assert probe, f"{container['name']}: no {kind}"
            assert set(probe) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, f"{container['name']} {kind}"
            assert type(probe["grpc"]["port"]) is int, "gRPC probes do not support named ports"
            assert probe["grpc"]["port"] == grpc_port
            assert probe["grpc"].get("service", "") == "", "the services report overall health under ''"
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 30, "allow the warm-up"


def test_metrics_ports_are_named_and_listen_on_all_interfaces(overlay, service_flags):
    for _workload, _template, container in overlay.containers():
        metrics = settings(container, service_flags[module_of(container)])["metrics-addr"]
        assert host(metrics) == "0.0.0.0"
        names = {p["containerPort"]: p.get("name") for p in container["ports"]}
        name = names.get(port(metrics))
        assert name and name.startswith("metrics-") and len(name) <= 15, f"{container['name']}: metrics port name"


def test_every_container_has_requests_and_limits(overlay):
    for _workload, _template, container in overlay.containers():
        resources = container.get("resources", {})
        for resource in ("cpu", "memory"):
            request = resources.get("requests", {}).get(resource)
            limit = resources.get("limits", {}).get(resource)
            assert request and limit, f"{container['name']}: {resource} request and limit"
            assert quantity(request) <= quantity(limit)
        assert quantity(resources["requests"]["cpu"]) >= 0.25, "do not starve a latency-bound stage"


def test_images_are_pinned_and_the_same_for_every_container(overlay):
    images = {c["image"] for _w, _t, c in overlay.containers()}
    assert len(images) == 1, "one image; its command picks the service"
    image = images.pop()
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest" and "/" not in tag, f"image {image} must carry a version tag"
    for _w, _t, container in overlay.containers():
        assert container["imagePullPolicy"] == "IfNotPresent"


# -- security ------------------------------------------------------------------------------------------------


def test_pods_run_non_root_with_read_only_root_and_no_capabilities(overlay):
    for workload, template, container in overlay.containers():
        pod = template["spec"]
        pod_sc = pod["securityContext"]
        assert pod_sc["runAsNonRoot"] is True
        assert isinstance(pod_sc["runAsUser"], int) and pod_sc["runAsUser"] > 0
        assert isinstance(pod_sc["runAsGroup"], int) and pod_sc["runAsGroup"] > 0
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == workload["metadata"]["name"]
        assert pod["enableServiceLinks"] is False
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc.get("privileged", False) is False
        assert sc["capabilities"] == {"drop": ["ALL"]}


def test_writable_volumes_only_where_needed(overlay):
    for _workload, template, container in overlay.containers():
        for path, (mount, volume) in mounts_by_path(template, container).items():
            if "emptyDir" in volume:
                assert container["name"] == "executor" and path == "/tmp", "emptyDir only for SQLite's temp files"
                assert quantity(volume["emptyDir"]["sizeLimit"]) <= 256 * 2**20
            elif not mount.get("readOnly"):
                assert container["name"] == "executor" and path == "/var/lib/polyarb", f"{container['name']} {path}"


HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


def test_secrets_only_as_read_only_files_and_no_secret_values(overlay, service_flags):
    assert not overlay.of_kind("Secret"), "the manifests hold no secret: the Secrets are created out of band"
    text = json.dumps(overlay.docs)
    assert not HEX_KEY.search(text), "something that looks like a private key is in the manifests"
    for _workload, template, container in overlay.containers():
        for entry in container.get("env", []):
            assert "valueFrom" not in entry, f"{container['name']}: no secret (or anything else) via env valueFrom"
        assert not container.get("envFrom"), f"{container['name']}: no envFrom"
        for _path, (mount, volume) in mounts_by_path(template, container).items():
            if "secret" in volume:
                assert mount["readOnly"] is True
                assert volume["secret"]["defaultMode"] == 0o400
                assert volume["secret"]["items"], "pin the keys a container gets"
        effective = settings(container, service_flags[module_of(container)])
        for flag in ("control-token-file", "private-key-file", "api-creds-file", "tls-key-file", "tls-cert-file",
                     "tls-client-ca-file", "peer-tls-key-file", "peer-tls-cert-file", "peer-tls-ca-file"):
            if effective.get(flag):
                _mount, volume = file_source(template, container, effective[flag])
                assert "secret" in volume, f"{container['name']}: --{flag} must come from a Secret volume"
        secret_keys = {
            item["key"]
            for _p, (_m, volume) in mounts_by_path(template, container).items()
            if "secret" in volume
            for item in volume["secret"]["items"]
        }
        if "private-key" in secret_keys:
            assert module_of(container) == "executor_svc", "only the executor sees the signing key"
        assert effective.get("control-token-file"), f"{container['name']}: every service requires the token"


def test_secret_files_are_group_readable_through_fsgroup_not_world_readable(overlay):
    # a Secret volume's files are owned by root: 0400 alone would make them unreadable for uid 10001;
    # with fsGroup the kubelet makes them 0440 root:<fsGroup>, which live mode accepts (not world-readable)
    for _workload, template in overlay.pod_specs():
        sc = template["spec"]["securityContext"]
        if any("secret" in v for v in template["spec"].get("volumes", [])):
            assert sc["fsGroup"] == sc["runAsGroup"]


# -- Services, scraping ----------------------------------------------------------------------------------------


def test_control_service_exposes_engine_and_executor_only(overlay):
    service = overlay.one("Service", "polyarb-shard")
    template = shard_statefulset(overlay)["spec"]["template"]
    assert service["spec"]["type"] == "ClusterIP"
    assert selects({"matchLabels": service["spec"]["selector"]}, template["metadata"]["labels"])
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert set(ports) == {"grpc-engine", "grpc-executor"}
    assert (ports["grpc-engine"]["targetPort"], ports["grpc-executor"]["targetPort"]) == (50052, 50053)
    for other in overlay.of_kind("Service"):
        assert 50051 not in {p.get("targetPort", p["port"]) for p in other["spec"]["ports"]}, "ingest stays private"


def test_every_metrics_port_is_scraped_by_podmonitor_and_annotations(overlay):
    monitor = overlay.of_kind("PodMonitor")[0]
    assert monitor["metadata"]["labels"].get(OPERATOR_SELECTOR_LABEL), (
        "the Prometheus operator only picks up monitors carrying its selector label (README)")
    endpoints = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    annotated_services = [s for s in overlay.of_kind("Service")
                          if s["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"]
    for _workload, template, container in overlay.containers():
        labels = template["metadata"]["labels"]
        for p in container["ports"]:
            if not p["name"].startswith("metrics-"):
                continue
            assert selects(monitor["spec"]["selector"], labels) and p["name"] in endpoints, (
                f"{container['name']}: {p['name']} not scraped by the PodMonitor")
            # plain Prometheus: a Service annotated prometheus.io/scrape whose port reaches this one (with no
            # prometheus.io/port annotation, or one naming this port), or the pod itself annotated for it
            covered = any(
                selects({"matchLabels": s["spec"]["selector"]}, labels)
                and any(sp.get("targetPort") in (p["name"], p["containerPort"]) for sp in s["spec"]["ports"])
                and s["metadata"]["annotations"].get("prometheus.io/port", str(p["containerPort"]))
                == str(p["containerPort"])
                for s in annotated_services
            )
            pod_annotations = template["metadata"].get("annotations", {})
            covered = covered or (pod_annotations.get("prometheus.io/scrape") == "true"
                                  and pod_annotations.get("prometheus.io/port") == str(p["containerPort"]))
            assert covered, f"{container['name']}: {p['name']} has no prometheus.io/* annotation"
    for service in annotated_services:
        annotations = service["metadata"]["annotations"]
        assert annotations.get("prometheus.io/path") == "/metrics"
        if "prometheus.io/port" not in annotations:  # then every port of the Service becomes a target
            assert all(p["name"].startswith("metrics-") for p in service["spec"]["ports"]), service["metadata"]["name"]


# -- NetworkPolicy, PodDisruptionBudget, Namespace ---------------------------------------------------------------


def policy_for(overlay, labels: dict) -> dict:
    policies = [p for p in overlay.of_kind("NetworkPolicy") if selects(p["spec"]["podSelector"], labels)]
    assert len(policies) == 1, f"expected one NetworkPolicy for {labels}"
    return policies[0]


def rule_ports(rule: dict) -> set[tuple[str, int]]:
    assert rule.get("ports"), "a rule without ports allows every port"
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}


def test_shard_networkpolicy(overlay):
    labels = shard_statefulset(overlay)["spec"]["template"]["metadata"]["labels"]
    spec = policy_for(overlay, labels)["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    allowed_in = {}
    for rule in spec["ingress"]:
        assert rule.get("from"), "an ingress rule without `from` allows every source"
        for peer in rule["from"]:
            for p in rule_ports(rule):
                allowed_in.setdefault(p, []).append(peer)
    assert set(allowed_in) == {("TCP", 50052), ("TCP", 50053), ("TCP", 9101), ("TCP", 9102), ("TCP", 9103)}
    for control in (50052, 50053):
        assert allowed_in[("TCP", control)] == [{"podSelector": {"matchLabels": SHELL_LABELS}}]
    for metrics in (9101, 9102, 9103):
        assert allowed_in[("TCP", metrics)] == [PROMETHEUS_PEER]

    egress = spec["egress"]
    dns = [r for r in egress if rule_ports(r) == {("UDP", 53), ("TCP", 53)}]
    assert len(dns) == 1 and dns[0]["to"] == [KUBE_DNS_PEER]
    rest = [r for r in egress if r not in dns]
    if overlay.overlay == "live":
        assert len(rest) == 1 and rule_ports(rest[0]) == {("TCP", 443)}
        for peer in rest[0]["to"]:
            block = peer["ipBlock"]  # addresses only, never a selector that could match cluster pods
            excluded = [ipaddress.ip_network(c) for c in block.get("except", [])]
            network = ipaddress.ip_network(block["cidr"])
            private = [n for n in (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("169.254.0.0/16"),
                                   ipaddress.ip_network("fe80::/10")) if n.version == network.version]
            assert all(any(n.subnet_of(e) for e in excluded) for n in private), block
    else:  # paper: the venue, and no way out to the real CLOB
        assert len(rest) == 1 and rule_ports(rest[0]) == {("TCP", 8765), ("TCP", 8766)}
        assert rest[0]["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "paper-venue"}}}]


def test_paper_venue_networkpolicy(rendered):
    r = rendered["paper"]
    venue = r.one("Deployment", "paper-venue")
    spec = policy_for(r, venue["spec"]["template"]["metadata"]["labels"])["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"] and spec["egress"] == []
    shard_labels = shard_statefulset(r)["spec"]["template"]["metadata"]["labels"]
    by_port = {}
    for rule in spec["ingress"]:
        for p in rule_ports(rule):
            by_port[p] = rule["from"]
    assert all(selects(peer["podSelector"], shard_labels) for peer in by_port[("TCP", 8765)] + by_port[("TCP", 8766)])
    assert by_port[("TCP", 50054)] == [{"podSelector": {"matchLabels": SHELL_LABELS}}]
    assert by_port[("TCP", 9104)] == [PROMETHEUS_PEER]


def test_pod_disruption_budget(overlay):
    labels = shard_statefulset(overlay)["spec"]["template"]["metadata"]["labels"]
    budgets = [b for b in overlay.of_kind("PodDisruptionBudget") if selects(b["spec"]["selector"], labels)]
    assert len(budgets) == 1
    spec = budgets[0]["spec"]
    assert "minAvailable" not in spec
    # live: no voluntary eviction of the signer without a person; paper: drains may move it
    assert spec["maxUnavailable"] == (0 if overlay.overlay == "live" else 1)
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_namespace_enforces_restricted_pod_security(overlay):
    namespaces = overlay.of_kind("Namespace")
    assert len(namespaces) == 1
    name = namespaces[0]["metadata"]["name"]
    assert namespaces[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for doc in overlay.docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == name
