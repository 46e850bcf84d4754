"""The `fer` command.

fer serve      the TensorFlow-Serving-compatible server (tensorflow_model_server's flags and files)
fer analyze    playtest recordings -> per-frame emotions, timelines, summary and HTML report per session
fer aggregate  many session summaries -> statistics per segment with confidence intervals
fer compare    two builds' sessions -> differences per segment, flagged where significant
fer dashboard  a local web page over those results: video with emotion lanes, annotations, live sessions

TensorFlow's start-up messages are left out unless --verbose is given (before or after the command).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import os
import re
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

import fer
from fer.contract import ANALYSIS_MODEL_NAME
from fer.dashboard.address import DEFAULT_HOST as DASHBOARD_HOST, DEFAULT_PORT as DASHBOARD_PORT

log = logging.getLogger("fer.cli")

# The model analysis runs by default: fewer network passes per face than fer_model (params.yaml's fast
# section; README: its accuracy and speed beside fer_model's).
MODEL_IN_REPOSITORY = Path("serving/models") / ANALYSIS_MODEL_NAME
# The package is installed editable from the repository, so the repository is the package folder's parent.
PACKAGE_ROOT = Path(fer.__file__).resolve().parents[1]

# One line of help per field of fer.playtest.settings.AnalysisSettings (tests/test_cli.py checks that every
# field has one). A field whose default is None says in its help what None means.
ANALYSIS_HELP = {
    "sample_fps": "frames analysed per second of recording: a video keeps every round(fps / this)-th frame, a"
                  " folder of images is taken as one image per 1/this seconds, a camera is sampled that often",
    "smoothing_s": "width in seconds of the centred moving average that turns each player's per-frame"
                   " probabilities into the timeline (0: none); strongest moments are at least twice this apart",
    "detector": "face detector: yunet (OpenCV's FaceDetectorYN with the YuNet model shipped in the package;"
                " gives the landmarks that alignment and head pose need) or haar (OpenCV's Haar cascade, the"
                " fallback: no landmarks, so no alignment, pose or attention)",
    "face_score": "YuNet's score threshold: detections scoring lower are not faces",
    "min_face_px": "detections narrower than this, in the recording's pixels, are dropped as noise",
    "detect_width": "faces are detected on a copy of each frame scaled down to this width in pixels"
                    " (never up), so detection costs the same whatever the recording's resolution",
    "align": "rotate each face with landmarks (YuNet) so its eyes are level and frame it by fer.faces.Framing;"
             " off, the detector's box widened by --face-margin is cropped, as the committed model's training"
             " faces were (it reads them better: docs/playtest.md, Crops and framing)",
    "face_margin": "margin added on each side of an unaligned face's box before cropping it to 48x48, as a"
                   " fraction of its width and height (0: Haar boxes already frame a face about as FER-2013 does)",
    "min_track_s": "a face track becomes a player only once it has been seen over this many seconds (0: at"
                   " once), so a detector's blip of a frame or two is never a player",
    "quality_min_face_px": "faces narrower than this, in the recording's pixels, are recorded as too small and"
                           " not classified",
    "quality_min_sharpness": "faces whose 48x48 crop has a Laplacian variance below this are recorded as"
                             " blurred and not classified",
    "quality_max_yaw": "faces turned further aside than this (degrees, estimated from the landmarks) are"
                       " recorded as turned aside and not classified",
    "quality_max_pitch": "faces turned further up or down than this (degrees, estimated) are recorded as such"
                         " and not classified",
    "attention_max_yaw": "a face counts as looking at the screen (attention) within this yaw, in degrees",
    "attention_max_pitch": "a face counts as looking at the screen (attention) within this pitch, in degrees",
    "precision": "how a SavedModel --model runs: bfloat16 (TensorFlow's oneDNN mixed precision: about four times the"
                 " faces per second, PrivateTest 0.7099 against 0.7102), float32, or auto: bfloat16 where the CPU"
                 " has AVX512-BF16 or AMX (native there), else float32; a model server URL is not affected",
    "baseline_segment": "event or segment whose faces are each player's calibration baseline, e.g. lobby or"
                        " menu (default: none: each player's median over the whole session)",
    "reaction_window_s": "length in seconds of the segment that follows an event without an end (a moment)",
    "clock_offset_s": "seconds between the events' clock and the video's: video time = event time + this",
    "strongest_moments": "how many strongest moments (highest smoothed non-neutral probability) the summary"
                         " and report list",
    "batch_size": "face crops sent to the model per prediction",
    "save_faces": "also write the 48x48 face crops to <out>/<recording name>/faces/ (for privacy, no face image is"
                  " written unless asked for)",
}

# The values each numeric field of AnalysisSettings may take; any other is a usage error naming the option
# (tests/test_cli.py checks that every numeric field has one). Every number must also be finite.
ALLOWED = {"positive": lambda value: value > 0, "non-negative": lambda value: value >= 0, "any": lambda value: True}
ANALYSIS_RANGES = {
    "sample_fps": "positive", "smoothing_s": "non-negative", "face_score": "positive", "min_face_px": "positive",
    "face_margin": "non-negative", "detect_width": "positive", "min_track_s": "non-negative",
    "quality_min_face_px": "non-negative", "quality_min_sharpness": "non-negative", "quality_max_yaw": "positive",
    "quality_max_pitch": "positive", "attention_max_yaw": "positive", "attention_max_pitch": "positive",
    "reaction_window_s": "positive", "clock_offset_s": "any", "strongest_moments": "non-negative",
    "batch_size": "positive",
}
ANALYSIS_CHOICES = {"detector": ("yunet", "haar"), "precision": ("auto", "float32", "bfloat16")}


def number_in(kind: type, allowed: str):
    """An argparse ``type`` reading a finite ``kind`` (int or float) that is ``allowed`` (a key of ALLOWED)."""
    what = f"{'' if allowed == 'any' else allowed + ' '}{'whole ' if kind is int else ''}number"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {what}, not {text!r}") from None
        if not (math.isfinite(value) and ALLOWED[allowed](value)):
            raise argparse.ArgumentTypeError(f"must be a {what}, not {text!r}")
        return value

    return parse


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
    """``serving/models/fer_fast`` under the current directory if it holds a model, else the repository's
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


DEFAULT_MAX_BATCH_SIZE = 64
FACES_PER_REQUEST_IN_BATCHES = 16  # the default face cap of a request, in batches of max_batch_size


def _serve(args: argparse.Namespace) -> None:
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


def writable_folder(path: Path) -> None:
    """Creates the folder ``path`` if need be and writes a file into it; OSError naming it if either fails."""
    if path.exists() and not path.is_dir():
        raise OSError(f"{path}: is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OSError(f"{path}: cannot be written to as a results folder: {error.strerror or error}") from None


def _analyze(args: argparse.Namespace) -> None:
    from fer.playtest.settings import AnalysisSettings
    settings = AnalysisSettings(**{f.name: getattr(args, f.name) for f in fields(AnalysisSettings)})
    if args.camera is not None:
        if args.ray is not None:
            sys.exit("fer analyze: --ray analyses recordings, not a --camera")
        args.inputs = [str(args.camera)]
    if args.ray and os.path.exists(args.ray):  # `--ray a.mp4 b.mp4`: a recording, not a cluster's address
        args.inputs, args.ray = [args.ray, *args.inputs], ""
    if len(args.inputs) > 1 and args.events:
        sys.exit("fer analyze: --events applies to one recording; put <name>.events.csv beside each instead")
    if not args.inputs:
        sys.exit("fer analyze: give recordings (files or folders) or --camera INDEX")
    try:
        writable_folder(args.out)
    except OSError as error:
        sys.exit(f"fer analyze: --out {error}")
    if args.model is None:
        try:
            args.model = default_model()
        except ModelNotFoundError as error:
            sys.exit(f"fer analyze: {error}")
        log.info("model: %s", args.model.resolve())
    if args.ray is None:  # with --ray, the Ray workers import TensorFlow and open the model, not this process
        import_tensorflow(args.verbose)
    from fer.contract import ServingError
    from fer.cpu import has_native_bfloat16
    from fer.playtest.sessions import BatchInterrupted, analyze_many
    from fer.serving.client import open_model
    if settings.precision == "auto":  # resolved, so that the summary and the fingerprint say which one ran
        settings.precision = "bfloat16" if has_native_bfloat16() else "float32"
    bfloat16 = settings.precision == "bfloat16"
    try:
        model = open_model(args.model, bfloat16=bfloat16) if args.ray is None else args.model
    except (ServingError, OSError) as error:
        sys.exit(f"fer analyze: the model cannot be used: {error}")
    run_batch = analyze_many if args.ray is None else _on_ray(args, bfloat16)
    try:
        result = run_batch(args.inputs, args.out, model, settings, model_name=str(args.model),
                           events_path=args.events, build=args.build, progress=not args.quiet,
                           max_duration_s=args.max_duration, live=args.live)
    except (ServingError, ConnectionError) as error:  # only --ray's: a worker cannot open the model, no cluster
        sys.exit(f"fer analyze: --ray: {error}")
    except BatchInterrupted as interrupted:
        print(f"\ninterrupted: {_counts(interrupted.result)}, {len(interrupted.result['interrupted'])} not done"
              f" (listed in {args.out / 'batch.json'}); the same command again does the rest", file=sys.stderr)
        sys.exit(130)
    print(f"{_counts(result)} -> {args.out}")
    for failure in result["failed"]:
        print(f"FAILED {failure['source']}: {failure['type']}: {failure['error']}", file=sys.stderr)
    if result["failed"]:
        sys.exit(1)


def _on_ray(args: argparse.Namespace, bfloat16: bool):
    """analyze_many's stand-in for --ray: the same batch on the Ray cluster at args.ray ("": a local one)."""
    from fer.playtest.distributed import analyze_on_ray

    def run_batch(sources, out_root, model_path, settings, **options):
        return analyze_on_ray(sources, out_root, model_path, settings, address=args.ray or None,
                              workers=args.ray_workers, verbose=args.verbose, bfloat16=bfloat16, **options)
    return run_batch


def _counts(result: dict) -> str:
    return f"{len(result['done'])} analysed, {len(result['skipped'])} already done, {len(result['failed'])} failed"


def _aggregate(args: argparse.Namespace) -> None:
    from fer.playtest.aggregate import SummaryError, load_summaries, write_aggregate
    try:
        summaries = load_summaries(args.sessions, strict=args.strict)
    except SummaryError as error:
        sys.exit(f"fer aggregate: {error}")
    table = write_aggregate(summaries, args.out, args.calibrated)
    print(f"{table.segment.nunique()} segments of {len(summaries)} sessions -> {args.out}/aggregate.{{csv,json,html}}")
    if table.empty:
        print("no face was seen in any of the sessions: nothing to aggregate")


def _dashboard(args: argparse.Namespace) -> None:
    from fer.dashboard.server import DashboardOptions, UsageError, serve  # no TensorFlow behind it
    missing = [str(path) for path in args.results if not path.exists()]
    if missing:
        sys.exit(f"fer dashboard: no such folder or file: {', '.join(missing)}")
    try:
        serve(args.results, DashboardOptions(args.host, args.port, args.token))
    except UsageError as error:
        sys.exit(f"fer dashboard: {error}")


def _compare(args: argparse.Namespace) -> None:
    from fer.playtest.aggregate import SummaryError, load_summaries, untested_note, write_comparison
    try:
        summaries = [load_summaries(paths, strict=args.strict) for paths in (args.a, args.b)]
    except SummaryError as error:
        sys.exit(f"fer compare: {error}")
    table = write_comparison(*summaries, args.out, (args.name_a, args.name_b), args.calibrated)
    print(json.dumps(table[table.significant][["segment", "measure", "difference", "q"]].to_dict("records"),
                     indent=1))
    print(f"{int(table.significant.sum())} significant differences of {int(table.p.notna().sum())} tested"
          f" -> {args.out}/comparison.{{csv,json,html}}")
    note = untested_note(table)
    if note:
        print(note)


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


CALIBRATED_HELP = ("use each player's calibrated measures (valence and arousal minus their baseline, and each"
                   " emotion's shift from it) instead of the raw ones: right when the players differ between the"
                   " builds or their resting faces read as an emotion (docs/playtest.md)")
STRICT_HELP = ("stop (exit 1) at a summary.json that is not a session summary (not JSON, or missing what is"
               " aggregated) instead of skipping it with a warning naming it")


def _command(commands, name: str, summary: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
    # SUPPRESS: the subcommand sets `verbose` only when given, so `fer --verbose analyze` keeps the main parser's
    parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from fer.playtest.settings import AnalysisSettings  # no TensorFlow behind it
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
    serve.set_defaults(run=_serve)

    defaults = AnalysisSettings()
    analyze = _command(commands, "analyze", "playtest recordings -> emotions per frame, summary, report")
    analyze.add_argument("inputs", nargs="*", help="video files (mp4, avi, mkv, webm, ...) or folders of images")
    analyze.add_argument("--camera", type=int, help="analyse a live camera (index) instead of files"
                         " (default: none: the files given)")
    analyze.add_argument("--max-duration", type=number_in(float, "positive"),
                         help="stop a camera session after this many seconds (default: none: Ctrl-C ends it)")
    analyze.add_argument("--out", type=Path, default=Path("playtest_results"),
                         help="results folder, with batch.json and a folder per recording: <out>/camera<index>/"
                              " for a camera, else the recording's path relative to the deepest folder holding all"
                              " the recordings given, without its extension (<out>/day1/session/ for"
                              " day1/session.mp4 and day2/session.mp4; <out>/<name>/ for one recording or one"
                              " folder's), with it where two would share a name (<out>/a.mp4/, <out>/a.avi/)")
    analyze.add_argument("--model", help="SavedModel path, or a model server URL (http://host:8501,"
                         " grpc://host:8500: its fer_fast; or naming the model, http://host:8501/v1/models/fer_model,"
                         f" grpc://host:8500/fer_model), used as given (default: ./{MODEL_IN_REPOSITORY} if it holds a"
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
            analyze.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=default,
                                 help=text)
        elif f.name in ANALYSIS_CHOICES:
            analyze.add_argument(flag, dest=f.name, choices=ANALYSIS_CHOICES[f.name], default=default, help=text)
        else:
            kind = str if default is None else number_in(type(default), ANALYSIS_RANGES[f.name])
            analyze.add_argument(flag, dest=f.name, type=kind, default=default, help=text)
    analyze.add_argument("--quiet", action="store_true", help="no progress bars")
    analyze.add_argument("--live", action="store_true",
                         help="also append each row, as its batch is classified, to <out>/.live/<name>/ so that"
                              " `fer dashboard <out>` shows the session growing (a smaller --batch-size makes"
                              " rows arrive sooner)")
    analyze.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                         help="spread the recordings over a Ray cluster, one task per recording on workers that"
                              " each load the model once: ADDRESS is a running cluster's (auto, HOST:6379,"
                              " ray://HOST:10001); without one, a local cluster on this machine's CPUs. The"
                              " recordings, --model and --out must be at the same paths on every node"
                              " (default: none: analyse here, one recording after another)")
    analyze.add_argument("--ray-workers", type=number_in(int, "positive"),
                         help="Ray workers (processes holding the model) with --ray (default: one per CPU of the"
                              " cluster, at most one per recording)")
    analyze.set_defaults(run=_analyze)

    aggregate = _command(commands, "aggregate", "session summaries -> per-segment statistics")
    aggregate.add_argument("sessions", nargs="+", type=Path, help="summary.json files or folders of them")
    aggregate.add_argument("--out", type=Path, default=Path("playtest_aggregate"),
                           help="folder for aggregate.csv, aggregate.json and aggregate.html")
    aggregate.add_argument("--strict", action="store_true", help=STRICT_HELP)
    aggregate.add_argument("--calibrated", action="store_true", help=CALIBRATED_HELP)
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
    compare.add_argument("--strict", action="store_true", help=STRICT_HELP)
    compare.add_argument("--calibrated", action="store_true", help=CALIBRATED_HELP)
    compare.set_defaults(run=_compare)

    dashboard = _command(commands, "dashboard", "review sessions in the browser: video, emotion lanes, annotations")
    dashboard.add_argument("results", nargs="+", type=Path,
                           help="`fer analyze` --out folders (or session folders), `fer aggregate`/`fer compare`"
                                " output folders")
    dashboard.add_argument("--host", default=DASHBOARD_HOST,
                           help="address to listen on; any other than loopback needs --token")
    dashboard.add_argument("--port", type=number_in(int, "non-negative"), default=DASHBOARD_PORT,
                           help="port to listen on (0: any free one, printed at start)")
    dashboard.add_argument("--token", help="secret every request must carry (open the page with ?token=SECRET);"
                           " required with a --host other than loopback (default: none)")
    dashboard.set_defaults(run=_dashboard)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    quiet_tensorflow(args.verbose)  # before anything imports TensorFlow
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.run(args)
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling starts (e.g. while TensorFlow loads)
        print(f"\nfer {args.command}: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
