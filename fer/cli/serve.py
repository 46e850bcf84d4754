"""fer serve: SavedModels over TF Serving's REST and gRPC APIs, with tensorflow_model_server's flags and files."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fer.cli.common import add_command, number_in
from fer.tf import import_tensorflow

DEFAULT_MAX_BATCH_SIZE = 64
FACES_PER_REQUEST_IN_BATCHES = 16  # the default face cap of a request, in batches of max_batch_size


def run(args: argparse.Namespace) -> None:
    import_tensorflow(args.verbose)
    from fer.serving.config import load_batching_parameters, load_model_server_config, load_monitoring_config
    from fer.serving.server import RequestLimits, ServerOptions, serve, single_model_config
    if args.model_config_file:
        configs = list(load_model_server_config(args.model_config_file).model_config_list.config)
    else:
        configs = [single_model_config(args.model_name, args.model_base_path)]
    batching = {"max_batch_size": DEFAULT_MAX_BATCH_SIZE}
    if args.enable_batching and args.batching_parameters_file:
        parameters = load_batching_parameters(args.batching_parameters_file)
        batching = {"max_batch_size": parameters.max_batch_size.value or DEFAULT_MAX_BATCH_SIZE,
                    "timeout_s": parameters.batch_timeout_micros.value / 1e6,
                    "max_enqueued": (parameters.max_enqueued_batches.value or 100)
                    * (parameters.max_batch_size.value or DEFAULT_MAX_BATCH_SIZE)}
    elif not args.enable_batching:
        batching.update(timeout_s=0.0, merge_requests=False)
    max_faces = args.max_faces_per_request or FACES_PER_REQUEST_IN_BATCHES * batching["max_batch_size"]
    metrics_path = None
    if args.monitoring_config_file:
        prometheus = load_monitoring_config(args.monitoring_config_file).prometheus_config
        metrics_path = (prometheus.path or "/monitoring/prometheus/metrics") if prometheus.enable else None
    serve(configs, ServerOptions(
        port=args.port, rest_api_port=args.rest_api_port, host=args.host,
        poll_wait_s=args.file_system_poll_wait_seconds, batching=batching, metrics_path=metrics_path,
        limits=RequestLimits(max_faces=max_faces, timeout_s=args.rest_api_timeout_in_ms / 1000),
        rest_listen_backlog=args.rest_api_listen_backlog, max_num_load_retries=args.max_num_load_retries,
        load_retry_interval_s=args.load_retry_interval_micros / 1e6))
    # Shut down by now (connections closed, gRPC stopped, models unloaded): exit without the interpreter's
    # teardown of TensorFlow, which takes a second or more and kept SIGTERM waiting (0.05 s against 1.1 s here).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def add_parser(commands) -> None:
    serve = add_command(commands, "serve", "serve SavedModels over TF Serving's REST and gRPC APIs")
    serve.add_argument("--model_name", default="fer_model",
                       help="name the model is served under (/v1/models/<name>), as TF Serving's --model_name")
    serve.add_argument("--model_base_path", type=Path, default=Path("serving/models/fer_model"),
                       help="folder of the model's numbered versions (<n>/saved_model.pb), relative to the current"
                            " directory, as TF Serving's --model_base_path")
    serve.add_argument("--model_config_file", type=Path,
                       help="ModelServerConfig text proto listing the models to serve; overrides --model_name and"
                            " --model_base_path (default: none: the one model those two name)")
    serve.add_argument("--port", type=int, default=8500, help="gRPC port; 0 turns gRPC off")
    serve.add_argument("--rest_api_port", type=int, default=8501, help="REST (HTTP/JSON) port")
    serve.add_argument("--host", default="0.0.0.0",
                       help="address the gRPC and REST ports listen on: 0.0.0.0 is all interfaces, as TF Serving"
                            " listens; 127.0.0.1 keeps them to this machine")
    serve.add_argument("--enable_batching", action=argparse.BooleanOptionalAction, default=True,
                       help="batch concurrent requests together, as TF Serving's --enable_batching;"
                            " --no-enable_batching runs each request alone")
    serve.add_argument("--batching_parameters_file", type=Path,
                       help="BatchingParameters text proto (max_batch_size, batch_timeout_micros,"
                            " max_enqueued_batches) for --enable_batching (default: none: batches of up to 64"
                            " requests, 2 ms timeout)")
    serve.add_argument("--file_system_poll_wait_seconds", type=number_in(float, "positive"), default=1.0,
                       help="seconds between looks at the base paths for new or removed versions")
    serve.add_argument("--max_faces_per_request", type=number_in(int, "positive"),
                       help="most faces one predict request may hold; larger ones get 400 before any array is"
                            f" made (default: {FACES_PER_REQUEST_IN_BATCHES} x max_batch_size, 1024 with the"
                            " default batching); requests are run in batches of max_batch_size faces")
    serve.add_argument("--rest_api_timeout_in_ms", type=number_in(int, "positive"), default=30000,
                       help="a REST request whose head or body has not arrived, or whose prediction is not done,"
                            " within this time gets 408 or 504 and its connection is closed, as TF Serving's flag;"
                            " gRPC predictions wait as long")
    serve.add_argument("--rest_api_listen_backlog", type=number_in(int, "positive"), default=1024,
                       help="connections the kernel holds for the REST port before they are accepted (capped by"
                            " the kernel's net.core.somaxconn); a burst larger than this is refused")
    serve.add_argument("--max_num_load_retries", type=number_in(int, "non-negative"), default=5,
                       help="times a version that failed to load is tried again, as TF Serving's flag (a version"
                            " whose files change is always tried again)")
    serve.add_argument("--load_retry_interval_micros", type=number_in(int, "positive"), default=60_000_000,
                       help="microseconds between those tries, as TF Serving's flag")
    serve.add_argument("--monitoring_config_file", type=Path,
                       help="MonitoringConfig text proto: with prometheus_config enabled, Prometheus metrics on"
                            " the REST port at its path (default: none: no metrics)")
    serve.set_defaults(run=run)
