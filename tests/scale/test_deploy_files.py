"""deploy/: no Docker, Ray cluster or Kubernetes here, so parse the files and check that what they
reference exists (entrypoints, CLI commands, settings keys, paths)."""
from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

from configs import load_settings
from gaitlake.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
FLOWS = {"process-session", "ingest-inbox", "reprocess", "compact-lake"}


def _docs(name):
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def _check_env(env: dict) -> None:
    gaitlake = {k: str(v) for k, v in env.items() if k.startswith("GAITLAKE_") and "{{" not in str(v)}
    load_settings(gaitlake)  # raises SettingsError on an unknown key or a bad value


def _check_command(command) -> None:
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[0] == "gaitlake":
        build_parser().parse_args(argv[1:])  # SystemExit on an unknown command or option


def _flow_name(entrypoint: str) -> str:
    path, func = entrypoint.split(":")
    if not path.endswith(".py"):  # a module path, imported from the installed package
        path = path.replace(".", "/") + ".py"
    tree = ast.parse((REPO / path).read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "flow":
                    return next(k.value.value for k in deco.keywords if k.arg == "name")
    raise AssertionError(f"{entrypoint} is not a @flow")


def test_prefect_yaml_declares_the_four_flows():
    [doc] = _docs("prefect.yaml")
    deployments = {_flow_name(d["entrypoint"]): d for d in doc["deployments"]}
    assert set(deployments) == FLOWS
    for flow, d in deployments.items():
        # "<flow>/<flow>-pool": never the "<flow>/<flow>" that `gaitlake worker` serves (no overwrite).
        assert d["name"] == f"{flow}-pool" and d["work_pool"]["name"] == "gaitlake"
        assert not d["entrypoint"].split(":")[0].endswith(".py")   # importable from a checkout or the image
        env = d["work_pool"]["job_variables"]["env"]
        assert not any("{{" in str(v) for v in env.values())       # nothing frozen from the deploying shell
        assert env["GAITLAKE_STORAGE__REQUIRE_URL"] == "true"
        _check_env({**env, "GAITLAKE_STORAGE__URL": "s3://b/p"})
    # The pull step must work in any directory (no /app outside the image).
    assert doc["pull"] == [{"prefect.deployments.steps.set_working_directory": {"directory": "."}}]
    assert deployments["ingest-inbox"]["schedules"][0]["interval"] > 0
    assert "cron" in deployments["compact-lake"]["schedules"][0]
    # The API dispatches to the deployment `gaitlake worker` serves unless told to use the pool's.
    assert load_settings({}).processing.deployment == "process-session/process-session"
    pool_names = {f"{d['entrypoint'].split(':')[-1].replace('_', '-')}/{d['name']}" for d in doc["deployments"]}
    assert "process-session/process-session-pool" in pool_names


def test_a_run_without_a_storage_url_refuses_to_start():
    from configs import SettingsError

    with pytest.raises(SettingsError, match="GAITLAKE_STORAGE__URL"):
        load_settings({"GAITLAKE_STORAGE__REQUIRE_URL": "true"})
    with pytest.raises(SettingsError, match="storage.require_url"):
        load_settings({"GAITLAKE_STORAGE__REQUIRE_URL": "true", "GAITLAKE_STORAGE__URL": "  "})
    assert load_settings({"GAITLAKE_STORAGE__REQUIRE_URL": "true",
                          "GAITLAKE_STORAGE__URL": "s3://b/p"}).storage_url == "s3://b/p"


def test_worker_serves_the_same_deployments(settings):
    from flows.worker import build_deployments

    deployments = {d.name: d for d in build_deployments(settings)}
    assert set(deployments) == FLOWS
    assert deployments["ingest-inbox"].schedules[0].schedule.interval.total_seconds() == settings.ingest.interval_s


def test_compose_brings_up_the_scale_out_column():
    [doc] = _docs("compose.yaml")
    services = doc["services"]
    assert {"postgres", "seaweedfs", "prefect", "api", "worker", "ray-head"} <= set(services)
    for name in ("api", "worker", "ray-head"):
        env = services[name]["environment"]
        _check_env(env)
        _check_command(services[name]["command"])
        assert env["GAITLAKE_STORAGE__URL"].startswith("s3://")
        assert env["GAITLAKE_CATALOG__URL"].startswith("postgresql+psycopg://")
    assert services["seaweedfs"]["environment"]["S3_BUCKET"] == services["api"]["environment"][
        "GAITLAKE_STORAGE__URL"].split("/")[2]
    # Prefect and the catalog never share a database (both keep an Alembic schema).
    catalog_db = services["api"]["environment"]["GAITLAKE_CATALOG__URL"].rsplit("/", 1)[1]
    prefect_db = services["prefect"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].rsplit("/", 1)[1]
    assert catalog_db == services["postgres"]["environment"]["POSTGRES_DB"] and prefect_db != catalog_db
    init = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert len(init) == 1
    assert f"CREATE DATABASE {prefect_db}" in (DEPLOY / init[0].split(":")[0]).read_text()
    # Explicit Ray auth, presigned links for the host's browser, published ports on loopback only.
    env = services["worker"]["environment"]
    assert env["RAY_AUTH_MODE"] == env["GAITLAKE_RAY__AUTH_MODE"] == "token" and "RAY_AUTH_TOKEN" in env
    assert env["GAITLAKE_STORAGE__PUBLIC_ENDPOINT_URL"].startswith("http://localhost:")
    for service in services.values():
        assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", []))


def test_dockerfile_copies_real_paths_and_runs_the_worker():
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    for line in lines:
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (REPO / src).exists(), src
    cmd = next(line for line in lines if line.startswith("CMD"))
    _check_command(ast.literal_eval(cmd[4:]))


def test_ray_cluster_file_and_kuberay_manifests():
    [cluster] = _docs("ray-cluster.yaml")
    assert cluster["available_node_types"]["gpu_worker"]["resources"]["GPU"] >= 1
    assert cluster["head_node_type"] in cluster["available_node_types"]
    docs = {d["kind"]: d for d in _docs("kuberay.yaml")}
    assert set(docs) == {"RayCluster", "RayJob"}
    assert docs["RayJob"]["spec"]["clusterSelector"]["ray.io/cluster"] == docs["RayCluster"]["metadata"]["name"]
    _check_command(docs["RayJob"]["spec"]["entrypoint"])
    env = yaml.safe_load(docs["RayJob"]["spec"]["runtimeEnvYAML"])["env_vars"]
    _check_env(env)
    assert load_settings({k: v for k, v in env.items() if k.startswith("GAITLAKE_")}).ray.num_gpus_per_actor == 0.5
    gpu = docs["RayCluster"]["spec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.mark.parametrize("address", ["auto", "ray://head:10001"])
def test_ray_address_and_fractional_gpus_come_from_config(address):
    settings = load_settings({"GAITLAKE_RAY__ADDRESS": address, "GAITLAKE_RAY__NUM_GPUS_PER_ACTOR": "0.25"})
    assert settings.ray.address == address and settings.ray.num_gpus_per_actor == 0.25
