"""The `fer` command.

fer serve      the TensorFlow-Serving-compatible server (tensorflow_model_server's flags and files)
fer analyze    playtest recordings -> per-frame emotions, timelines, summary and HTML report per session
fer aggregate  many session summaries -> statistics per segment with confidence intervals
fer compare    two builds' sessions -> differences per segment, flagged where significant
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields
from pathlib import Path

from fer.serving_config import load_batching_parameters, load_model_server_config, load_monitoring_config


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
    metrics_path = None
    if args.monitoring_config_file:
        prometheus = load_monitoring_config(args.monitoring_config_file).prometheus_config
        metrics_path = (prometheus.path or "/monitoring/prometheus/metrics") if prometheus.enable else None
    serve(configs, ServerOptions(port=args.port, rest_api_port=args.rest_api_port, host=args.host,
                                 poll_wait_s=args.file_system_poll_wait_seconds, batching=batching,
                                 metrics_path=metrics_path))


def _analyze(args: argparse.Namespace) -> None:
    from fer.analytics import AnalysisSettings
    from fer.client import open_model
    from fer.model_repository import ServingError
    from fer.sessions import analyze_many
    settings = AnalysisSettings(**{f.name: getattr(args, f.name) for f in fields(AnalysisSettings)})
    try:
        model = open_model(args.model)
    except (ServingError, OSError) as error:
        sys.exit(f"fer analyze: the model cannot be used: {error}")
    if args.camera is not None:
        args.inputs = [str(args.camera)]
    if len(args.inputs) > 1 and args.events:
        sys.exit("fer analyze: --events applies to one recording; put <name>.events.csv beside each instead")
    if not args.inputs:
        sys.exit("fer analyze: give recordings (files or folders) or --camera INDEX")
    result = analyze_many(args.inputs, args.out, model, settings, model_name=str(args.model),
                          events_path=args.events, build=args.build, progress=not args.quiet,
                          max_duration_s=args.max_duration)
    print(f"{len(result['done'])} analysed, {len(result['skipped'])} already done, {len(result['failed'])} failed"
          f" -> {args.out}")
    for failure in result["failed"]:
        print(f"FAILED {failure['source']}: {failure['error']}", file=sys.stderr)
    if result["failed"]:
        sys.exit(1)


def _aggregate(args: argparse.Namespace) -> None:
    from fer.aggregate import load_summaries, write_aggregate
    table = write_aggregate(load_summaries(args.sessions), args.out)
    print(f"{table.segment.nunique()} segments -> {args.out}/aggregate.{{csv,json,html}}")


def _compare(args: argparse.Namespace) -> None:
    from fer.aggregate import load_summaries, write_comparison
    table = write_comparison(load_summaries(args.a), load_summaries(args.b), args.out, (args.name_a, args.name_b))
    print(json.dumps(table[table.significant][["segment", "measure", "difference", "q"]].to_dict("records"),
                     indent=1))
    print(f"{int(table.significant.sum())} significant differences -> {args.out}/comparison.{{csv,json,html}}")


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
    serve.add_argument("--monitoring_config_file", type=Path, help="MonitoringConfig text proto: Prometheus metrics")
    serve.set_defaults(run=_serve)

    from fer.analytics import AnalysisSettings
    defaults = AnalysisSettings()
    analyze = commands.add_parser("analyze", help="playtest recordings -> emotions per frame, summary, report")
    analyze.add_argument("inputs", nargs="*", help="video files (mp4, avi, mkv, webm, ...) or folders of images")
    analyze.add_argument("--camera", type=int, help="analyse a live camera (index) instead of files")
    analyze.add_argument("--max-duration", type=float, help="stop a camera session after this many seconds"
                         " (else Ctrl-C ends it)")
    analyze.add_argument("--out", type=Path, default=Path("playtest_results"))
    analyze.add_argument("--model", default="serving/models/fer_model",
                         help="SavedModel path, or a model server URL (http://host:8501, grpc://host:8500)")
    analyze.add_argument("--events", type=Path, help="events file (CSV or JSON Lines) of a single recording;"
                         " by default <name>.events.csv or .events.jsonl beside each recording")
    analyze.add_argument("--build", help="name of the game build, for `fer compare`")
    for f in fields(AnalysisSettings):
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        if isinstance(default, bool):
            analyze.add_argument(flag, dest=f.name, action="store_true", help="write the 48x48 face crops too")
        else:
            kind = str if f.name == "yunet_model" else type(default)
            analyze.add_argument(flag, dest=f.name, type=kind, default=default)
    analyze.add_argument("--quiet", action="store_true", help="no progress bars")
    analyze.set_defaults(run=_analyze)

    aggregate = commands.add_parser("aggregate", help="session summaries -> per-segment statistics")
    aggregate.add_argument("sessions", nargs="+", type=Path, help="summary.json files or folders of them")
    aggregate.add_argument("--out", type=Path, default=Path("playtest_aggregate"))
    aggregate.set_defaults(run=_aggregate)

    compare = commands.add_parser("compare", help="sessions of build A vs build B, per segment")
    compare.add_argument("--a", nargs="+", type=Path, required=True)
    compare.add_argument("--b", nargs="+", type=Path, required=True)
    compare.add_argument("--name-a", default="A")
    compare.add_argument("--name-b", default="B")
    compare.add_argument("--out", type=Path, default=Path("playtest_comparison"))
    compare.set_defaults(run=_compare)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.run(args)


if __name__ == "__main__":
    main()
