"""docker-compose.yaml, Dockerfile and .env.example: complete and wired together.

With a docker client that has the compose plugin, ``docker compose config`` validates the file (no
engine needed); without one, the file is read with PyYAML and its wiring checked here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]


def env_example() -> dict[str, str]:
    pairs = [
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ]
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def has_compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(
    not has_compose_plugin(), reason="no docker compose plugin here; the PyYAML checks below run instead"
)
def test_docker_compose_accepts_the_file():
    subprocess.run(["docker", "compose", "--env-file", ".env.example", "config", "--quiet"], cwd=REPO, check=True)


def test_every_service_is_there(compose):
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "storage",
        "storage-init",
        "airflow-init",
        *AIRFLOW_SERVICES,
    }


def test_airflow_services_run_the_project_image_with_ffmpeg(compose):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        service = compose["services"][name]
        assert service["build"] == {"context": ".", "target": "airflow"}
        assert service["image"].startswith("hls-migration-airflow:")
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d+-python3\.11 AS airflow$", dockerfile, re.MULTILINE)
    assert "apt-get install -y --no-install-recommends ffmpeg" in dockerfile
    assert "pip install --no-cache-dir -r /tmp/hls/requirements.txt -c /tmp/hls/constraints.txt" in dockerfile
    assert compose["services"]["airflow-worker"]["command"] == "celery worker"


def test_long_running_services_have_health_checks_and_wait_for_their_dependencies(compose):
    services = compose["services"]
    for name in ["postgres", "redis", "storage", *AIRFLOW_SERVICES]:
        assert services[name]["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}
        assert depends["redis"] == {"condition": "service_healthy"}
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}
    assert services["storage-init"]["depends_on"]["storage"] == {"condition": "service_healthy"}


def test_celery_metadata_and_execution_api_are_wired(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert "@postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["TMPDIR"] and env["DUMB_INIT_SETSID"] == "0"
    for name in AIRFLOW_SERVICES:
        mounts = {
            volume.split(":")[1]
            for volume in compose["services"][name]["volumes"]
            if isinstance(volume, str) and ":" in volume
        }
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts, name


def test_pipeline_connections_and_variables_come_from_the_env_file(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    for key in [
        "AIRFLOW_CONN_HLS_CATALOG",
        "AIRFLOW_CONN_HLS_STORAGE",
        "AIRFLOW_VAR_HLS_BUCKET",
        "AIRFLOW_VAR_HLS_PUBLIC_BASE_URL",
    ]:
        assert env[key] == "${" + key + "}"
    example = env_example()
    catalog = json.loads(example["AIRFLOW_CONN_HLS_CATALOG"])
    storage = json.loads(example["AIRFLOW_CONN_HLS_STORAGE"])
    assert (catalog["conn_type"], catalog["host"], catalog["schema"]) == ("postgres", "postgres", example["CATALOG_DB"])
    assert storage["conn_type"] == "aws" and storage["extra"]["endpoint_url"] == "http://storage:8333"
    assert (storage["login"], storage["password"]) == (example["S3_ACCESS_KEY"], example["S3_SECRET_KEY"])


def test_every_variable_without_a_default_is_in_the_env_example():
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)\}", COMPOSE.read_text()))  # $${X}: the container's own
    assert referenced <= set(env_example())


def test_init_migrates_creates_the_transcode_pool_and_the_bucket(compose):
    script = compose["services"]["airflow-init"]["command"][1]
    assert "airflow db migrate" in script and 'python -m hls_operators.pool_setup "${HLS_TRANSCODE_SLOTS:-2}"' in script
    assert compose["services"]["airflow-init"]["environment"]["PYTHONPATH"] == "/opt/airflow/plugins"
    storage_init = compose["services"]["storage-init"]
    assert storage_init["entrypoint"] == ["python", "-m", "hls_operators.storage_setup"]
    assert storage_init["environment"]["PYTHONPATH"] == "/opt/airflow/plugins"
    assert "./plugins:/opt/airflow/plugins" in storage_init["volumes"]
    assert "/docker-entrypoint-initdb.d/" in " ".join(compose["services"]["postgres"]["volumes"])


def test_production_uses_the_fab_auth_manager_with_users_from_the_env_file(compose):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        env = compose["services"][name]["environment"]
        assert (
            env["AIRFLOW__CORE__AUTH_MANAGER"] == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        )
        assert not any(key.startswith("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER") for key in env), name
    init = compose["services"]["airflow-init"]
    script = init["command"][1]
    # the refusal first, the users and roles once the metadata database exists
    assert script.index("init_auth.py --check") < script.index("airflow db migrate") < script.rindex("init_auth.py\n")
    assert "./deploy/airflow:/opt/airflow/deploy:ro" in init["volumes"]
    for key in [
        "AIRFLOW_ADMIN_PASSWORD",
        "HLS_OPERATOR_USER",
        "HLS_OPERATOR_PASSWORD",
        "HLS_VIEWER_USER",
        "HLS_VIEWER_PASSWORD",
    ]:
        assert init["environment"][key] == "${" + key + "}"


def run_init_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "deploy" / "airflow" / "init_auth.py"), "--check"],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO / "plugins"), **env},
        capture_output=True,
        text=True,
    )


def test_init_refuses_the_example_secrets_and_names_them():
    refused = run_init_check(env_example())
    assert refused.returncode == 1
    named = re.search(r"refusing to start: (.+) still hold", refused.stderr).group(1).split(", ")
    assert {
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "HLS_OPERATOR_PASSWORD",
        "HLS_VIEWER_PASSWORD",
        "AIRFLOW_CONN_HLS_CATALOG",
    } <= set(named)
    assert "change-me-admin-password" not in refused.stderr  # names, never the values
    real = {key: value.replace("change-me", "s3cr3t") for key, value in env_example().items()}
    assert run_init_check(real).returncode == 0
