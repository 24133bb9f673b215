"""The cluster manifests parse and run commands that the CLI really has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from datamirror.cli import cli

yaml = pytest.importorskip("yaml")
K8S = Path(__file__).resolve().parent.parent / "k8s"


def documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def test_every_manifest_file_listed_in_kustomization_exists() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert all((K8S / name).is_file() for name in kustomization["resources"])


def test_every_container_runs_a_datamirror_command() -> None:
    commands = set(cli.list_commands(None))  # type: ignore[arg-type]
    deployments = [d for d in documents() if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"datamirror-serve", "datamirror-worker"}
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["args"][0] in commands


def test_serve_pods_are_probed_on_the_health_endpoints() -> None:
    serve = next(d for d in documents() if d.get("metadata", {}).get("name") == "datamirror-serve")
    container = serve["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
