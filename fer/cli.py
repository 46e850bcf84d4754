"""The `fer` command: `fer serve` runs the TensorFlow-Serving-compatible server.

Its flags are tensorflow_model_server's, so one set of files in `serving/` configures both servers.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from fer.serving_config import load_batching_parameters, load_model_server_config


def _serve(args: argparse.Namespace) -> None:
    from fer.server import ServerOptions, serve, single_model_config
    if args.model_config_file:
        configs = list(load_model_server_config(args.model_config_file).model_config_list.config)
    else:
        configs = [single_model_config(args.model_name, args.model_base_path)]
    batching = None
    if args.enable_batching and args.batching_parameters_file:
        parameters = load_batching_parameters(args.batching_parameters_file)
        batching = {"max_batch_size": parameters.max_batch_size.value or 64,
                    "timeout_s": parameters.batch_timeout_micros.value / 1e6,
                    "max_enqueued": (parameters.max_enqueued_batches.value or 100)
                    * (parameters.max_batch_size.value or 64)}
    elif not args.enable_batching:
        batching = {"max_batch_size": 1, "timeout_s": 0.0}
    serve(configs, ServerOptions(port=args.port, rest_api_port=args.rest_api_port, host=args.host,
                                 poll_wait_s=args.file_system_poll_wait_seconds, batching=batching))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve SavedModels over TF Serving's REST and gRPC APIs")
    serve.add_argument("--model_name", default="fer_model")
    serve.add_argument("--model_base_path", type=Path, default=Path("serving/models/fer_model"))
    serve.add_argument("--model_config_file", type=Path, help="ModelServerConfig text proto (overrides the two above)")
    serve.add_argument("--port", type=int, default=8500, help="gRPC port; 0 turns gRPC off")
    serve.add_argument("--rest_api_port", type=int, default=8501)
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--enable_batching", action=argparse.BooleanOptionalAction, default=True)
    serve.add_argument("--batching_parameters_file", type=Path)
    serve.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0)
    serve.set_defaults(run=_serve)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.run(args)


if __name__ == "__main__":
    main()
