"""The `fer` command.

fer serve      the TensorFlow-Serving-compatible server (tensorflow_model_server's flags and files)
fer analyze    playtest recordings -> per-frame emotions, timelines, summary and HTML report per session
fer aggregate  many session summaries -> statistics per segment with confidence intervals
fer compare    two builds' sessions -> differences per segment, flagged where significant

TensorFlow's start-up messages are left out unless --verbose is given (before or after the command).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

import fer

log = logging.getLogger("fer.cli")

MODEL_IN_REPOSITORY = Path("serving/models/fer_model")
# The package is installed editable from the repository, so the repository is the package folder's parent.
PACKAGE_ROOT = Path(fer.__file__).resolve().parents[1]

# One line of help per field of fer.playtest.analytics.AnalysisSettings (tests/test_cli.py checks that every
# field has one). A field whose default is None says in its help what None means.
ANALYSIS_HELP = {
    "sample_fps": "frames analysed per second of recording: a video keeps every round(fps / this)-th frame, a"
                  " folder of images is taken as one image per 1/this seconds, a camera is sampled that often",
    "smoothing_s": "width in seconds of the centred moving average that turns each player's per-frame"
                   " probabilities into the timeline; strongest moments are at least twice this apart",
    "face_margin": "margin added on each side of a detected face before cropping it to 48x48, as a fraction"
                   " of the face's width and height (0: Haar boxes already frame a face about as FER-2013 does)",
    "detect_width": "faces are detected on a copy of each frame scaled down to this width in pixels"
                    " (never up), so detection costs the same whatever the recording's resolution",
    "yunet_model": "ONNX model file of OpenCV's YuNet face detector, used instead of the Haar cascade"
                   " (default: none: OpenCV's Haar cascade, shipped with opencv-python)",
    "reaction_window_s": "length in seconds of the segment that follows an event without an end (a moment)",
    "clock_offset_s": "seconds between the events' clock and the video's: video time = event time + this",
    "strongest_moments": "how many strongest moments (highest smoothed non-neutral probability) the summary"
                         " and report list",
    "batch_size": "face crops sent to the model per prediction",
    "save_faces": "also write the 48x48 face crops to <out>/<recording name>/faces/ (for privacy, no face image is"
                  " written unless asked for)",
}

QUIET_TF_LOG_LEVEL = "3"  # TensorFlow's C++ logging: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR
_ABSL_LINE = re.compile(r"([IWEF])\d{4} [\d:.]+\s+\d+ [^\]\s]+:\d+\] ")  # I0000 00:00:1796.5  42 port.cc:153]
_ABSL_PRE_INIT = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


class ModelNotFoundError(FileNotFoundError):
    """No --model was given and no committed model is where the default looks."""


def holds_model(path: Path) -> bool:
    """A SavedModel folder, or a base path with numbered version folders (serving/models/fer_model/<n>)."""
    from fer.contract import versions_on_disk
    return (path / "saved_model.pb").is_file() or bool(versions_on_disk(path))


def default_model(cwd: Path | None = None, package_root: Path | None = None) -> Path:
    """``serving/models/fer_model`` under the current directory if it holds a model, else the repository's
    own (found from the package's location); ModelNotFoundError naming every place looked at otherwise."""
    here = MODEL_IN_REPOSITORY if cwd is None else Path(cwd) / MODEL_IN_REPOSITORY
    candidates = [here, (PACKAGE_ROOT if package_root is None else Path(package_root)) / MODEL_IN_REPOSITORY]
    for candidate in candidates:
        if holds_model(candidate):
            return candidate
    looked = list(dict.fromkeys(str(c.resolve()) for c in candidates))
    raise ModelNotFoundError(f"no --model given and no model (saved_model.pb or numbered version folders) in "
                             f"{' or '.join(looked)}; give --model PATH or a model server URL")


def quiet_tensorflow(verbose: bool) -> None:
    """Unless ``verbose``, TensorFlow's C++ logging down to fatal errors (if TF_CPP_MIN_LOG_LEVEL is not set
    already) and its Python and absl loggers down to errors. Must run before TensorFlow is imported."""
    if verbose:
        return
    if "tensorflow" in sys.modules:
        log.debug("TensorFlow was imported before its logging could be lowered")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_startup_lines(text: str, min_level: int) -> str:
    """``text`` without the C++ log lines below ``min_level`` (0 INFO .. 3 FATAL) and their continuation
    lines: TensorFlow writes some (oneDNN, cudart_stub) while loading, before it applies TF_CPP_MIN_LOG_LEVEL."""
    kept, dropping = [], False
    for line in text.splitlines(keepends=True):
        header = _ABSL_LINE.match(line)
        if header:
            dropping = "IWEF".index(header.group(1)) < min_level
        elif line.startswith(_ABSL_PRE_INIT):  # absl's own notice, a line of its own
            dropping = False
            if min_level > 0:
                continue
        if not dropping:
            kept.append(line)
    return "".join(kept)


def import_tensorflow(verbose: bool) -> None:
    """Imports TensorFlow; unless ``verbose``, the messages it writes to stderr while loading are filtered
    as TF_CPP_MIN_LOG_LEVEL says (anything else it writes, and everything if the import fails, is kept)."""
    if verbose:
        importlib.import_module("tensorflow")
        return
    if "tensorflow" in sys.modules:
        _lower_absl_logging()
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            importlib.import_module("tensorflow")
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            sys.stderr.write(text if failed else filter_startup_lines(text, _min_log_level()))
            sys.stderr.flush()
    _lower_absl_logging()


def _lower_absl_logging() -> None:
    import absl.logging  # TensorFlow's and Keras's Python warnings go through absl
    absl.logging.set_verbosity(absl.logging.ERROR)


def _serve(args: argparse.Namespace) -> None:
    import_tensorflow(args.verbose)
    from fer.serving.config import load_batching_parameters, load_model_server_config, load_monitoring_config
    from fer.serving.server import ServerOptions, serve, single_model_config
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
    from fer.playtest.analytics import AnalysisSettings
    settings = AnalysisSettings(**{f.name: getattr(args, f.name) for f in fields(AnalysisSettings)})
    if args.camera is not None:
        args.inputs = [str(args.camera)]
    if len(args.inputs) > 1 and args.events:
        sys.exit("fer analyze: --events applies to one recording; put <name>.events.csv beside each instead")
    if not args.inputs:
        sys.exit("fer analyze: give recordings (files or folders) or --camera INDEX")
    if args.model is None:
        try:
            args.model = default_model()
        except ModelNotFoundError as error:
            sys.exit(f"fer analyze: {error}")
        log.info("model: %s", args.model.resolve())
    import_tensorflow(args.verbose)
    from fer.contract import ServingError
    from fer.playtest.sessions import analyze_many
    from fer.serving.client import open_model
    try:
        model = open_model(args.model)
    except (ServingError, OSError) as error:
        sys.exit(f"fer analyze: the model cannot be used: {error}")
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
    from fer.playtest.aggregate import load_summaries, write_aggregate
    table = write_aggregate(load_summaries(args.sessions), args.out)
    print(f"{table.segment.nunique()} segments -> {args.out}/aggregate.{{csv,json,html}}")


def _compare(args: argparse.Namespace) -> None:
    from fer.playtest.aggregate import load_summaries, write_comparison
    table = write_comparison(load_summaries(args.a), load_summaries(args.b), args.out, (args.name_a, args.name_b))
    print(json.dumps(table[table.significant][["segment", "measure", "difference", "q"]].to_dict("records"),
                     indent=1))
    print(f"{int(table.significant.sum())} significant differences -> {args.out}/comparison.{{csv,json,html}}")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; every option's help ends with its default, unless the help already says it
    (a default of None is spelt out in the help itself) or the option is required."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.required or action.default is argparse.SUPPRESS
                or "%(default)" in text or "(default:" in text):
            return text
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            return text + (" (default: on)" if action.default else " (default: off)")
        return text + " (default: %(default)s)"


VERBOSE_HELP = ("show TensorFlow's start-up messages (oneDNN, CUDA, cuInit) and its warnings; without it"
                " TF_CPP_MIN_LOG_LEVEL is set to " + QUIET_TF_LOG_LEVEL + " unless already set (default: off)")


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
    # SUPPRESS: the subcommand sets `verbose` only when given, so `fer --verbose analyze` keeps the main parser's
    parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from fer.playtest.analytics import AnalysisSettings  # no TensorFlow behind it
    parser = argparse.ArgumentParser(prog="fer", description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("--verbose", action="store_true", default=False, help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _command(commands, "serve", "serve SavedModels over TF Serving's REST and gRPC APIs")
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
    serve.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0,
                       help="seconds between looks at the base paths for new or removed versions")
    serve.add_argument("--monitoring_config_file", type=Path,
                       help="MonitoringConfig text proto: with prometheus_config enabled, Prometheus metrics on"
                            " the REST port at its path (default: none: no metrics)")
    serve.set_defaults(run=_serve)

    defaults = AnalysisSettings()
    analyze = _command(commands, "analyze", "playtest recordings -> emotions per frame, summary, report")
    analyze.add_argument("inputs", nargs="*", help="video files (mp4, avi, mkv, webm, ...) or folders of images")
    analyze.add_argument("--camera", type=int, help="analyse a live camera (index) instead of files"
                         " (default: none: the files given)")
    analyze.add_argument("--max-duration", type=float, help="stop a camera session after this many seconds"
                         " (default: none: Ctrl-C ends it)")
    analyze.add_argument("--out", type=Path, default=Path("playtest_results"),
                         help="results folder: <out>/<recording name>/ per recording, and batch.json")
    analyze.add_argument("--model", help="SavedModel path, or a model server URL (http://host:8501,"
                         f" grpc://host:8500), used as given (default: ./{MODEL_IN_REPOSITORY} if it holds a"
                         f" model, else the repository's {PACKAGE_ROOT / MODEL_IN_REPOSITORY}; if neither does,"
                         " fer analyze stops and names both)".replace("%", "%%"))
    analyze.add_argument("--events", type=Path, help="events file (CSV or JSON Lines) of a single recording"
                         " (default: <name>.events.csv or .events.jsonl beside each recording, if there is one)")
    analyze.add_argument("--build", help="name of the game build, written into each summary for `fer compare`"
                         " (default: none)")
    for f in fields(AnalysisSettings):
        flag, default = "--" + f.name.replace("_", "-"), getattr(defaults, f.name)
        text = ANALYSIS_HELP.get(f.name, f"AnalysisSettings.{f.name}").replace("%", "%%")
        if isinstance(default, bool):
            analyze.add_argument(flag, dest=f.name, action="store_true", default=default, help=text)
        else:
            kind = str if default is None else type(default)
            analyze.add_argument(flag, dest=f.name, type=kind, default=default, help=text)
    analyze.add_argument("--quiet", action="store_true", help="no progress bars")
    analyze.set_defaults(run=_analyze)

    aggregate = _command(commands, "aggregate", "session summaries -> per-segment statistics")
    aggregate.add_argument("sessions", nargs="+", type=Path, help="summary.json files or folders of them")
    aggregate.add_argument("--out", type=Path, default=Path("playtest_aggregate"),
                           help="folder for aggregate.csv, aggregate.json and aggregate.html")
    aggregate.set_defaults(run=_aggregate)

    compare = _command(commands, "compare", "sessions of build A vs build B, per segment")
    compare.add_argument("--a", nargs="+", type=Path, required=True,
                         help="summary.json files or folders of them, of build A (required)")
    compare.add_argument("--b", nargs="+", type=Path, required=True,
                         help="summary.json files or folders of them, of build B (required)")
    compare.add_argument("--name-a", default="A", help="build A's name in the comparison's tables and report")
    compare.add_argument("--name-b", default="B", help="build B's name in the comparison's tables and report")
    compare.add_argument("--out", type=Path, default=Path("playtest_comparison"),
                         help="folder for comparison.csv, comparison.json and comparison.html")
    compare.set_defaults(run=_compare)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)  # before anything imports TensorFlow
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.run(args)


if __name__ == "__main__":
    main()
