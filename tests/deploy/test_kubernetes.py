"""The Kubernetes manifests parse, build with kustomize, and agree with the image (user, port,
paths), with the controller's code (variables, HTTP paths), with the example policy (every
variable it reads is provided, tokens from Secrets), with each other (labels, volumes, the
git-sync link), and the PrometheusRule is exactly deploy/prometheus/alerts.yaml.

`kubectl kustomize` runs offline; .ci/run's machine has kubectl. Without it the build tests are
skipped outside CI and fail in CI, like the promtool tests.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from controller.settings import LoopSettings
from tests.deploy import contract
from tests.deploy.dockerfile import REPO, stages

KUBE = REPO / "deploy" / "kubernetes"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
NOT_APPLIED = {"kustomization.yaml", "secret.example.yaml"}


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomization() -> dict[str, Any]:
    (document,) = load(KUBE / "kustomization.yaml")
    return document


def resources() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> manifest, for every resource the kustomization lists."""
    found = {}
    for name in kustomization()["resources"]:
        for document in load(KUBE / name):
            found[document["kind"], document["metadata"]["name"]] = document
    return found


def deployment() -> dict[str, Any]:
    return resources()["Deployment", "provisioner"]


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = deployment()["spec"]["template"]["spec"]
    return spec


def container(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = spec or pod()
    everything = spec.get("initContainers", []) + spec["containers"]
    (found,) = (c for c in everything if c["name"] == name)
    return dict(found)


def env(of: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in of.get("env", [])}


def values(of: dict[str, Any]) -> dict[str, str]:
    return {name: item["value"] for name, item in env(of).items() if "value" in item}


def mounts(of: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """mountPath -> mount."""
    return {mount["mountPath"]: mount for mount in of.get("volumeMounts", [])}


def volume(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    (found,) = (v for v in (spec or pod())["volumes"] if v["name"] == name)
    return dict(found)


def secrets() -> dict[str, dict[str, str]]:
    """The example Secrets: name -> their keys and placeholder values."""
    return {
        doc["metadata"]["name"]: doc["stringData"] for doc in load(KUBE / "secret.example.yaml")
    }


def image_env() -> dict[str, str]:
    return stages()[-1].env({"PATH": ""})


def image_user() -> tuple[int, int]:
    user, _, group = stages()[-1].last("USER").partition(":")
    return int(user), int(group)


def flags(args: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in args)


def secret_file(of: dict[str, Any], path: str, spec: dict[str, Any] | None = None) -> None:
    """`path` is a key of an example Secret, mounted read-only into `of`, not world-readable."""
    directory, _, key = path.rpartition("/")
    mount = mounts(of)[directory]
    assert mount.get("readOnly") is True
    source = volume(mount["name"], spec)["secret"]
    assert key in secrets()[source["secretName"]], f"{path}: no key {key} in the Secret"
    assert source["defaultMode"] & 0o007 == 0, f"{path}: world-readable"


def pyproject_version() -> str:
    version: str = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    return version


# --- the files ----------------------------------------------------------------------------


def test_the_kustomization_lists_every_manifest_and_each_parses() -> None:
    listed = kustomization()["resources"]
    present = {path.name for path in KUBE.glob("*.yaml")} - NOT_APPLIED
    assert sorted(listed) == sorted(present)
    for name in [*listed, "secret.example.yaml"]:
        for document in load(KUBE / name):
            assert document["apiVersion"] and document["kind"] and document["metadata"]["name"]
    (image,) = kustomization()["images"]
    assert image["name"] == container("controller")["image"]
    assert image["newTag"] == pyproject_version(), "the manifests run the release they ship with"


def test_the_example_secrets_hold_placeholders_only() -> None:
    for name, data in secrets().items():
        for key, value in data.items():
            assert "replace-me" in value, f"{name}.{key} looks like a real value"


@pytest.fixture
def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is not installed; it comes with this project's kind of machine")
        pytest.skip("kubectl is not installed; set CI to require it")
    return path


def kustomize(kubectl: str, directory: Path) -> list[dict[str, Any]]:
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def test_kustomize_builds_the_manifests_with_the_generated_configmap(kubectl: str) -> None:
    built = kustomize(kubectl, KUBE)
    kinds = {doc["kind"] for doc in built}
    assert kinds == {
        "ServiceAccount",
        "PersistentVolumeClaim",
        "ConfigMap",
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
    }
    assert {doc["metadata"]["namespace"] for doc in built} == {"provisioner"}
    (config,) = (doc for doc in built if doc["kind"] == "ConfigMap")
    (built_deployment,) = (doc for doc in built if doc["kind"] == "Deployment")
    controller = container("controller", built_deployment["spec"]["template"]["spec"])
    assert controller["image"] == f"ghcr.io/provisioner/provisioner:{pyproject_version()}"
    (source,) = controller["envFrom"]
    assert source["configMapRef"]["name"] == config["metadata"]["name"]  # the hashed name
    assert set(config["data"]) <= contract.policy_variables()


def test_the_git_fetch_component_lets_the_controller_fetch_the_policy_itself(
    kubectl: str, tmp_path: Path
) -> None:
    # As a user would: their own kustomization, the base plus the component.
    base = os.path.relpath(KUBE, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{base}]\ncomponents: [{base}/git-fetch]\n"
    )
    built = kustomize(kubectl, tmp_path)
    (fetching,) = (doc for doc in built if doc["kind"] == "Deployment")
    spec = fetching["spec"]["template"]["spec"]
    assert not spec.get("initContainers"), "no git-sync sidecar"
    assert "policy" not in {v["name"] for v in spec["volumes"]}
    controller = container("controller", spec)
    settings = values(controller)
    assert "PROVISIONER_POLICY" not in settings
    assert {"PROVISIONER_POLICY_REPO", "PROVISIONER_POLICY_BRANCH", "PROVISIONER_POLICY_PATH"} <= (
        set(settings)
    )
    named = {name for name in settings if name.startswith("PROVISIONER_")}
    assert named <= contract.run_variables()
    secret_file(controller, settings["PROVISIONER_GIT_TOKEN_FILE"], spec)
    # The mirror and checkouts go to the state volume.
    assert image_env()["PROVISIONER_STATE_DIR"] in mounts(controller)


# --- the controller and the image ---------------------------------------------------------


def test_the_controller_runs_the_image_as_it_is_built() -> None:
    controller = container("controller")
    assert "command" not in controller and "args" not in controller  # tini -- provisioner run
    (port,) = controller["ports"]
    assert port["name"] == "metrics"
    assert str(port["containerPort"]) == image_env()["PROVISIONER_PORT"]
    assert stages()[-1].last("EXPOSE").split() == [str(port["containerPort"])]
    for name in ("PROVISIONER_HOST", "PROVISIONER_PORT", "PROVISIONER_STATE_DIR"):
        assert name not in env(controller), f"{name}: the image's value is the one to keep"


def test_probes_ask_the_controllers_health_endpoints_on_the_metrics_port() -> None:
    controller = container("controller")
    assert controller["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert controller["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"/healthz", "/readyz", "/metrics"} <= contract.http_paths()


def test_every_container_runs_non_root_on_a_read_only_root_filesystem() -> None:
    security = pod()["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (security["runAsUser"], security["runAsGroup"]) == image_user()
    assert security["fsGroup"] == image_user()[1]  # the PVC and the Secrets' files are its
    assert pod()["automountServiceAccountToken"] is False
    for each in pod().get("initContainers", []) + pod()["containers"]:
        context = each["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, each["name"]
        assert context["readOnlyRootFilesystem"] is True, each["name"]
        assert context["capabilities"]["drop"] == ["ALL"], each["name"]
        writable = volume(mounts(each)["/tmp"]["name"])
        assert "emptyDir" in writable, f"{each['name']}: /tmp on a read-only root"


def test_the_state_directory_is_a_persistent_volume_with_one_writer() -> None:
    controller = container("controller")
    state = mounts(controller)[image_env()["PROVISIONER_STATE_DIR"]]
    claim = volume(state["name"])["persistentVolumeClaim"]["claimName"]
    assert resources()["PersistentVolumeClaim", claim]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert deployment()["spec"]["replicas"] == 1
    assert deployment()["spec"]["strategy"]["type"] == "Recreate"


def test_sigterm_has_time_to_let_the_run_in_flight_finish() -> None:
    grace = float(values(container("controller")).get("PROVISIONER_SHUTDOWN_GRACE", "nan"))
    if grace != grace:  # not set: the default
        grace = LoopSettings().shutdown_grace_seconds
    assert pod()["terminationGracePeriodSeconds"] > grace


def test_no_service_link_variable_can_pass_for_a_setting() -> None:
    # Kubernetes gives every container <SERVICE>_PORT=tcp://ip:port and more for each Service
    # of the namespace; for the Service `provisioner`, that is PROVISIONER_PORT.
    injected = set()
    for (kind, name), document in resources().items():
        if kind == "Service":
            prefix = name.upper().replace("-", "_")
            injected |= {f"{prefix}_PORT", f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT"}
            for port in document["spec"]["ports"]:
                injected.add(f"{prefix}_PORT_{port['port']}_{port['protocol']}")
    assert injected & contract.run_variables(), "no collision: this test checks nothing"
    assert pod()["enableServiceLinks"] is False


# --- policy, variables and secrets --------------------------------------------------------


def test_every_variable_the_policy_reads_is_set_and_tokens_come_from_secrets() -> None:
    controller = container("controller")
    given = env(controller)
    (source,) = controller["envFrom"]
    configured = {
        generator["name"]: generator for generator in kustomization()["configMapGenerator"]
    }
    generator = configured[source["configMapRef"]["name"]]
    from_config = set()
    for name in generator["envs"]:
        lines = (KUBE / name).read_text().splitlines()
        from_config |= {line.split("=")[0] for line in lines if line and not line.startswith("#")}
    provided = set(given) | from_config
    missing = contract.policy_variables() - provided
    assert not missing, f"the policy reads {sorted(missing)}, which nothing sets"
    tokens = contract.policy_secret_variables()
    assert tokens == {
        "SLACK_SCIM_TOKEN",
        "JIRA_SCIM_TOKEN",
        "ZENDESK_TOKEN",
        "CAREPOINT_SCIM_TOKEN",
    }
    for token in tokens:
        assert token not in from_config, f"{token} in a ConfigMap"
        reference = given[token]["valueFrom"]["secretKeyRef"]
        assert reference["key"] in secrets()[reference["name"]]
    for name in provided:
        if name.startswith("PROVISIONER_"):
            assert name in contract.run_variables(), f"{name}: not a variable `run` reads"
        else:
            assert name in contract.policy_variables(), f"{name}: the policy does not read it"


def test_the_salesforce_private_key_is_a_file_from_a_secret() -> None:
    controller = container("controller")
    secret_file(controller, values(controller)["SALESFORCE_PRIVATE_KEY_FILE"])


def test_the_git_sync_sidecar_writes_where_the_controller_reads() -> None:
    sync = container("git-sync")
    assert sync["image"].startswith("registry.k8s.io/git-sync/git-sync:v4.")
    assert sync["restartPolicy"] == "Always"  # a native sidecar, started before the controller
    settings = flags(sync["args"])
    probe = sync["startupProbe"]["httpGet"]  # ... once the first checkout exists
    (port,) = sync["ports"]
    assert probe["port"] == port["name"] and settings["http-bind"] == f":{port['containerPort']}"
    shared = mounts(sync)[settings["root"]]
    assert "emptyDir" in volume(shared["name"])
    controller = container("controller")
    reading = mounts(controller)[settings["root"]]  # the same path: a worktree's .git names it
    assert reading["name"] == shared["name"] and reading.get("readOnly") is True
    assert settings["root"] == image_env()["PROVISIONER_POLICY"]  # where the image expects it
    policy = values(controller)["PROVISIONER_POLICY"]
    assert policy.startswith(f"{settings['root']}/{settings['link']}/")
    assert float(values(controller)["PROVISIONER_POLICY_INTERVAL"]) > 0  # it polls: no signal
    assert not {"exechook-command", "webhook-url"} & set(settings)
    assert not pod().get("shareProcessNamespace")
    secret_file(sync, settings["password-file"])


# --- scraping and alerting ----------------------------------------------------------------


def test_the_service_and_the_servicemonitor_scrape_the_metrics_port_even_when_not_ready() -> None:
    service = resources()["Service", "provisioner"]
    (port,) = service["spec"]["ports"]
    (container_port,) = container("controller")["ports"]
    assert (port["name"], port["targetPort"]) == ("metrics", "metrics")
    assert port["port"] == container_port["containerPort"]
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["publishNotReadyAddresses"] is True  # alerts need the unready one
    monitor = resources()["ServiceMonitor", "provisioner"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] in contract.http_paths()
    # The operator names the job after the Service; ProvisionerDown expects that job.
    assert "jobLabel" not in monitor["spec"]
    jobs = set(re.findall(r'up\{job="([^"]+)"\}', ALERTS.read_text()))
    assert jobs == {service["metadata"]["name"]}


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("prometheusrule", KUBE / "prometheusrule.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_prometheus_rule_is_alerts_yaml_as_generated() -> None:
    alerts = ALERTS.read_text()
    committed = (KUBE / "prometheusrule.yaml").read_text()
    regenerate = (
        "python deploy/kubernetes/prometheusrule.py > deploy/kubernetes/prometheusrule.yaml"
    )
    assert committed == generator().render(alerts), f"prometheusrule.yaml is stale: `{regenerate}`"
    (rule,) = load(KUBE / "prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(alerts)  # every group, rule, label and annotation


def test_an_edit_to_either_file_alone_fails_the_comparison() -> None:
    alerts = ALERTS.read_text()
    committed = (KUBE / "prometheusrule.yaml").read_text()
    assert "for: 15m" in alerts and "for: 15m" in committed
    assert generator().render(alerts.replace("for: 15m", "for: 16m", 1)) != committed
    assert generator().render(alerts) != committed.replace("for: 15m", "for: 16m", 1)


def test_the_generator_runs_as_documented() -> None:
    printed = subprocess.run(
        [sys.executable, str(KUBE / "prometheusrule.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert printed.stdout == (KUBE / "prometheusrule.yaml").read_text()
