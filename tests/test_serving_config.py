"""serving/: the deployment files, parsed with TF Serving's protos and cross-checked with the export."""
from __future__ import annotations

import pytest
import tensorflow as tf
import yaml
from google.protobuf import text_format

from fer.contract import ANALYSIS_MODEL_NAME, MODEL_NAME
from fer.params import load_params
from fer.serving.config import (ConfigError, MonitoringConfig, load_batching_parameters, load_model_server_config,
                                load_monitoring_config)
from tests.conftest import REPO

SERVING = REPO / "serving"
CONTAINER_FILES = {"/config/models.config": "models.config",
                   "/config/batching_parameters.txt": "batching_parameters.txt",
                   "/config/monitoring.config": "monitoring.config"}


def flags(arguments: list[str]) -> dict[str, str]:
    return dict(argument.removeprefix("--").split("=", 1) for argument in arguments)


def test_model_config_names_the_exported_models_and_version():
    export = load_params()["export"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    accurate, fast = load_model_server_config(SERVING / "models.config").model_config_list.config
    assert (accurate.name, fast.name) == (MODEL_NAME, ANALYSIS_MODEL_NAME) == ("fer_model", "fer_fast")
    for model, stage in ((accurate, "export"), (fast, "export_fast")):
        assert f"serving/models/{model.name} " in stages[stage]["cmd"]
        assert model.base_path == f"/models/{model.name}"
        assert model.model_version_policy.latest.num_versions == 2
        stable = model.version_labels["stable"]
        assert stable == export["version"]
        assert (SERVING / "models" / model.name / str(stable) / "saved_model.pb").is_file()


def test_the_local_config_serves_the_same_models_from_the_repository():
    """README's `fer serve --model_config_file serving/models.local.config`: models.config less the container."""
    container = load_model_server_config(SERVING / "models.config").model_config_list.config
    local = load_model_server_config(SERVING / "models.local.config").model_config_list.config
    assert [model.name for model in local] == [model.name for model in container]
    for here, there in zip(local, container):
        assert here.base_path == f"serving/models/{here.name}" and (REPO / here.base_path).is_dir()
        assert here.model_version_policy == there.model_version_policy
        assert dict(here.version_labels) == dict(there.version_labels)


def test_batching_and_monitoring_files_parse():
    batching = load_batching_parameters(SERVING / "batching_parameters.txt")
    assert batching.max_batch_size.value == 64 and batching.num_batch_threads.value == 2
    monitoring = load_monitoring_config(SERVING / "monitoring.config")
    assert monitoring.prometheus_config.enable
    prometheus = yaml.safe_load((SERVING / "prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["metrics_path"] == monitoring.prometheus_config.path


def test_compose_serves_the_models_folder_with_the_tensorflow_that_exported_it():
    service = yaml.safe_load((SERVING / "docker-compose.yml").read_text())["services"]["ts-ml-service"]
    assert service["image"] == f"tensorflow/serving:{tf.__version__}"
    assert set(service["ports"]) == {"8500:8500", "8501:8501"}
    mounts = dict(volume.removesuffix(":ro").split(":") for volume in service["volumes"])
    assert (SERVING / mounts["./models"].replace("/models", "models", 1)).is_dir()
    arguments = flags(service["command"])
    assert arguments["enable_batching"] == "true"
    for flag in ("model_config_file", "batching_parameters_file", "monitoring_config_file"):
        assert mounts["./" + CONTAINER_FILES[arguments[flag]]] == arguments[flag]


def test_kubernetes_manifest_matches_compose_and_probes_the_model(tmp_path):
    documents = {d["kind"]: d for d in yaml.safe_load_all((SERVING / "kubernetes.yaml").read_text())}
    compose = yaml.safe_load((SERVING / "docker-compose.yml").read_text())["services"]["ts-ml-service"]
    (container,) = documents["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == compose["image"] and container["args"] == compose["command"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/models/fer_model", "port": 8501}
    assert container["resources"]["limits"]["cpu"] and documents["Deployment"]["spec"]["replicas"] >= 2
    assert {p["port"] for p in documents["Service"]["spec"]["ports"]} == {8500, 8501}
    loaders = {"models.config": load_model_server_config, "batching_parameters.txt": load_batching_parameters,
               "monitoring.config": load_monitoring_config}
    for name, text in documents["ConfigMap"]["data"].items():  # the same configuration as serving/
        (tmp_path / name).write_text(text)
        assert loaders[name](tmp_path / name) == loaders[name](SERVING / name), name


def test_a_broken_config_is_refused_with_its_path(tmp_path):
    broken = tmp_path / "models.config"
    broken.write_text('model_config_list { config { name: "fer_model" base_pth: "/m" } }')
    with pytest.raises(ConfigError, match="models.config.*base_pth"):
        load_model_server_config(broken)
    with pytest.raises(text_format.ParseError):
        text_format.Parse("prometheus_config { enabled: true }", MonitoringConfig())
