"""TensorFlow Serving's configuration files, parsed with TensorFlow Serving's own protos.

`serving/` holds the files that `tensorflow_model_server` reads (``--model_config_file``,
``--batching_parameters_file``, ``--monitoring_config_file``); `fer serve` reads the same files, so
both servers are configured, and these files are checked, one way.

ModelServerConfig comes from the ``tensorflow-serving-api`` package. That package does not ship
``MonitoringConfig`` or ``BatchingParameters``, so their messages are declared here field for field
as in TensorFlow Serving's ``config/monitoring_config.proto`` and
``servables/tensorflow/session_bundle_config.proto`` (same package, names, numbers and types).
"""
from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.config.model_server_config_pb2 import ModelServerConfig

_FIELD = descriptor_pb2.FieldDescriptorProto


def _declare_messages() -> tuple[type, type]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="fer/tensorflow_serving_extra_configs.proto", package="tensorflow.serving", syntax="proto3",
        dependency=[wrappers_pb2.DESCRIPTOR.name])

    def message(name: str, fields: list[tuple[str, int, int, str | None, bool]]) -> None:
        declared = proto.message_type.add(name=name)
        for field_name, number, field_type, type_name, repeated in fields:
            declared.field.add(name=field_name, number=number, type=field_type, type_name=type_name,
                               label=_FIELD.LABEL_REPEATED if repeated else _FIELD.LABEL_OPTIONAL)

    int64_value, string_value = ".google.protobuf.Int64Value", ".google.protobuf.StringValue"
    message("PrometheusConfig", [("enable", 1, _FIELD.TYPE_BOOL, None, False),
                                 ("path", 2, _FIELD.TYPE_STRING, None, False)])
    message("MonitoringConfig", [("prometheus_config", 1, _FIELD.TYPE_MESSAGE,
                                  ".tensorflow.serving.PrometheusConfig", False)])
    message("BatchingParameters", [
        ("max_batch_size", 1, _FIELD.TYPE_MESSAGE, int64_value, False),
        ("batch_timeout_micros", 2, _FIELD.TYPE_MESSAGE, int64_value, False),
        ("max_enqueued_batches", 3, _FIELD.TYPE_MESSAGE, int64_value, False),
        ("num_batch_threads", 4, _FIELD.TYPE_MESSAGE, int64_value, False),
        ("thread_pool_name", 5, _FIELD.TYPE_MESSAGE, string_value, False),
        ("allowed_batch_sizes", 6, _FIELD.TYPE_INT64, None, True),
        ("pad_variable_length_inputs", 7, _FIELD.TYPE_BOOL, None, False),
    ])
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(proto)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")))


MonitoringConfig, BatchingParameters = _declare_messages()


class ConfigError(ValueError):
    """A configuration file that TensorFlow Serving would refuse."""


def _parse(path: Path, message):
    try:
        return text_format.Parse(Path(path).read_text(), message)
    except (OSError, text_format.ParseError) as error:
        raise ConfigError(f"{path}: {error}") from error


def load_model_server_config(path: Path) -> ModelServerConfig:
    config = _parse(path, ModelServerConfig())
    if not config.model_config_list.config:
        raise ConfigError(f"{path}: no model in model_config_list")
    for model in config.model_config_list.config:
        if not model.name or not model.base_path:
            raise ConfigError(f"{path}: every model needs a name and a base_path")
        if model.model_platform not in ("", "tensorflow"):
            raise ConfigError(f"{path}: model {model.name!r} has platform {model.model_platform!r}, not tensorflow")
    return config


def load_batching_parameters(path: Path):
    parameters = _parse(path, BatchingParameters())
    sizes = list(parameters.allowed_batch_sizes)
    if sizes and (sizes != sorted(sizes) or sizes[-1] != parameters.max_batch_size.value):
        raise ConfigError(f"{path}: allowed_batch_sizes must increase and end at max_batch_size")
    return parameters


def load_monitoring_config(path: Path):
    return _parse(path, MonitoringConfig())
