"""fer analyze: playtest recordings -> per-frame emotions, timelines, summary and HTML report per session."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

import fer
from fer.cli.common import add_command, number_in
from fer.contract import ANALYSIS_MODEL_NAME
from fer.tf import import_tensorflow


# The model analysis runs by default: fewer network passes per face than fer_model (params.yaml's fast
# section; README: its accuracy and speed beside fer_model's).
MODELS_IN_REPOSITORY = Path("serving/models")
MODEL_IN_REPOSITORY = MODELS_IN_REPOSITORY / ANALYSIS_MODEL_NAME
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
    "precision": "how a SavedModel --model runs: int8 (its TensorFlow Lite model, which fer_fast ships: 566 faces/s"
                 " against float32's 201 on 2 AVX512 cores, PrivateTest 0.7097 against 0.7102), bfloat16 (TensorFlow's"
                 " oneDNN mixed precision, fast on AVX512-BF16 or AMX only), float32, or auto: bfloat16 on AMX, else"
                 " int8 where the model has it, else bfloat16 where native, else float32; a model server URL is"
                 " not affected",
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

# The values each numeric field of AnalysisSettings may take (common.ALLOWED's keys; tests/test_cli.py checks that
# every numeric field has one).
ANALYSIS_RANGES = {
    "sample_fps": "positive", "smoothing_s": "non-negative", "face_score": "positive", "min_face_px": "positive",
    "face_margin": "non-negative", "detect_width": "positive", "min_track_s": "non-negative",
    "quality_min_face_px": "non-negative", "quality_min_sharpness": "non-negative", "quality_max_yaw": "positive",
    "quality_max_pitch": "positive", "attention_max_yaw": "positive", "attention_max_pitch": "positive",
    "reaction_window_s": "positive", "clock_offset_s": "any", "strongest_moments": "non-negative",
    "batch_size": "positive",
}
ANALYSIS_CHOICES = {"detector": ("yunet", "haar"), "precision": ("auto", "float32", "bfloat16", "int8")}


class ModelNotFoundError(FileNotFoundError):
    """No --model was given and no committed model is where the default looks."""


def holds_model(path: Path) -> bool:
    """A SavedModel folder, or a base path with numbered version folders (serving/models/fer_model/<n>)."""
    from fer.contract import versions_on_disk
    return (path / "saved_model.pb").is_file() or bool(versions_on_disk(path))


def default_model(cwd: Path | None = None, package_root: Path | None = None,
                  name: str = ANALYSIS_MODEL_NAME) -> Path:
    """``serving/models/<name>`` (fer_fast by default) under the current directory if it holds a model, else
    the repository's own (found from the package's location); ModelNotFoundError naming every place looked at
    otherwise."""
    in_repository = MODELS_IN_REPOSITORY / name
    here = in_repository if cwd is None else Path(cwd) / in_repository
    candidates = [here, (PACKAGE_ROOT if package_root is None else Path(package_root)) / in_repository]
    for candidate in candidates:
        if holds_model(candidate):
            return candidate
    looked = list(dict.fromkeys(str(c.resolve()) for c in candidates))
    given = "no --model given" if name == ANALYSIS_MODEL_NAME else f"--model {name}: not a path, and"
    raise ModelNotFoundError(f"{given} no model (saved_model.pb or numbered version folders) in "
                             f"{' or '.join(looked)}; give --model PATH or a model server URL")


def chosen_model(model: str | None) -> str | Path:
    """--model as given: None is fer_fast; a bare name that is no path here (fer_model) is that committed
    model; a path or a server URL is used as it is."""
    if model is None:
        return default_model()
    if os.sep in model or "/" in model or Path(model).exists():  # a path, or a server URL
        return model
    return default_model(name=model)


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


def run(args: argparse.Namespace) -> None:
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
    if args.overwrite and args.ray is not None:
        sys.exit("fer analyze: --overwrite is for a local run; without --ray, or remove the old session first")
    if args.gameplay and (len(args.inputs) > 1 or args.camera is not None):
        sys.exit("fer analyze: --gameplay applies to one recording; put <name>.gameplay.mp4 beside each instead")
    if args.gameplay and not args.gameplay.is_file():
        sys.exit(f"fer analyze: --gameplay {args.gameplay}: no such file")
    try:
        writable_folder(args.out)
    except OSError as error:
        sys.exit(f"fer analyze: --out {error}")
    try:
        args.model = chosen_model(args.model)
    except ModelNotFoundError as error:
        sys.exit(f"fer analyze: {error}")
    from fer.contract import ServingError
    from fer.playtest.sessions import BatchInterrupted, analyze_many
    from fer.serving.client import local_precision
    # resolved, so that the summary and the fingerprint say which one ran
    settings.precision = local_precision(settings.precision, args.model)
    check_events(args)
    left = pending(args, settings)
    model = None
    if left and args.ray is None:  # with --ray, the Ray workers open the model
        print(f"{len(left)} of {len(args.inputs)} recordings to analyse; loading the model {args.model} ...",
              file=sys.stderr, flush=True)
        from fer.serving.client import needs_tensorflow, open_model
        if needs_tensorflow(args.model, settings.precision):
            import_tensorflow(args.verbose)
        try:
            model = open_model(args.model, precision=settings.precision)
        except (ServingError, OSError) as error:
            sys.exit(f"fer analyze: the model cannot be used: {error}")
    elif args.ray is not None:
        model = args.model
    run_batch = analyze_many if args.ray is None else _on_ray(args, settings.precision)
    try:
        result = run_batch(args.inputs, args.out, model, settings, model_name=str(args.model),
                           events_path=args.events, build=args.build, progress=not args.quiet,
                           max_duration_s=args.max_duration, live=args.live,
                           **({"overwrite": True} if args.overwrite else {}))
    except (ServingError, ConnectionError) as error:  # only --ray's: a worker cannot open the model, no cluster
        sys.exit(f"fer analyze: --ray: {error}")
    except BatchInterrupted as interrupted:
        print(f"\ninterrupted: {_counts(interrupted.result)}, {len(interrupted.result['interrupted'])} not done"
              f" (listed in {args.out / 'batch.json'}); the same command again does the rest", file=sys.stderr)
        sys.exit(130)
    attach_captures(args)
    print(f"{_counts(result)} -> {args.out}")
    for failure in result["failed"]:
        print(f"FAILED {failure['source']}: {failure['type']}: {failure['error']}", file=sys.stderr)
    if result["failed"]:
        sys.exit(1)


def check_events(args: argparse.Namespace) -> None:
    """Reads every events file of the batch (--events, or <name>.events.csv beside each recording) before any
    model loads or recording is analysed; exits naming the file and line of the first bad one."""
    from fer.playtest.events import EventsError, load_events
    from fer.playtest.sessions import events_beside, is_camera
    for source in args.inputs:
        path = args.events or (None if is_camera(source) else events_beside(Path(source)))
        try:
            if path:
                load_events(path)
        except EventsError as error:
            sys.exit(f"fer analyze: {error} (nothing was analysed)")


def pending(args: argparse.Namespace, settings) -> list:
    """The inputs not already analysed into --out with these settings, events and model (a camera always is)."""
    from fer.playtest.sessions import events_beside, is_camera, is_done, session_folder, session_names
    left = []
    for source, name in zip(args.inputs, session_names(args.inputs)):
        events = args.events or (None if is_camera(source) else events_beside(Path(source)))
        folder = session_folder(args.out / name, source, args.overwrite)
        if is_camera(source) or not is_done(source, folder, events, settings, str(args.model)):
            left.append(source)
    return left


def attach_captures(args: argparse.Namespace) -> None:
    """Attaches --gameplay to the one recording's session, or each recording's <name>.gameplay.<ext>."""
    from fer.playtest.gameplay import attach_gameplay, gameplay_beside, gameplay_path
    from fer.playtest.sessions import is_camera, session_folder, session_names
    for source, name in zip(args.inputs, session_names(args.inputs)):
        session = session_folder(args.out / name, source, args.overwrite)
        if is_camera(source) or not (session / "summary.json").is_file():
            continue
        capture = args.gameplay or gameplay_beside(Path(source))
        if capture and (args.gameplay or not gameplay_path(session).exists()):
            attach_gameplay(session, capture, args.gameplay_offset)
            print(f"{name}: gameplay capture {capture} attached (offset {args.gameplay_offset:g} s)")


def _on_ray(args: argparse.Namespace, precision: str):
    """analyze_many's stand-in for --ray: the same batch on the Ray cluster at args.ray ("": a local one)."""
    from fer.playtest.distributed import analyze_on_ray

    def run_batch(sources, out_root, model_path, settings, **options):
        return analyze_on_ray(sources, out_root, model_path, settings, address=args.ray or None,
                              workers=args.ray_workers, verbose=args.verbose, precision=precision, **options)
    return run_batch


def _counts(result: dict) -> str:
    return f"{len(result['done'])} analysed, {len(result['skipped'])} already done, {len(result['failed'])} failed"


def add_parser(commands) -> None:
    from fer.playtest.settings import AnalysisSettings  # no TensorFlow behind it
    defaults = AnalysisSettings()
    analyze = add_command(commands, "analyze", "playtest recordings -> emotions per frame, summary, report")
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
    analyze.add_argument("--model", help="the committed model to run, by name: fer_fast (one network, four views,"
                         " int8: 566 faces/s on 2 AVX512 cores, FER-2013 PrivateTest 0.7097, real clips 65%) or"
                         " fer_model (three networks, four views: 120 faces/s in bfloat16 where AVX512-BF16 is"
                         " native, 67 in float32, PrivateTest 0.7161, real clips 69%; docs/playtest.md, Fast or"
                         " accurate); or a SavedModel path, or a model server URL (http://host:8501,"
                         " grpc://host:8500: its fer_fast; or naming the model, http://host:8501/v1/models/fer_model,"
                         f" grpc://host:8500/fer_model). A name is looked for in ./{MODELS_IN_REPOSITORY}/, then in"
                         f" the repository's {PACKAGE_ROOT / MODELS_IN_REPOSITORY}; if neither holds it, fer"
                         " analyze stops and names both (default: fer_fast)".replace("%", "%%"))
    analyze.add_argument("--events", type=Path, help="events file (CSV or JSON Lines) of a single recording"
                         " (default: <name>.events.csv or .events.jsonl beside each recording, if there is one)")
    analyze.add_argument("--gameplay", type=Path, metavar="VIDEO",
                         help="the gameplay capture of a single recording, attached to its session (the dashboard"
                              " plays it beside the face-cam; fer report and fer clips use it) (default:"
                              " <name>.gameplay.mp4 (.webm, .mkv, ...) beside each recording, if there is one)")
    analyze.add_argument("--gameplay-offset", type=number_in(float, "any"), default=0.0, metavar="SECONDS",
                         help="seconds between the capture's clock and the recording's: gameplay time = recording"
                              " time + this")
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
    analyze.add_argument("--overwrite", action="store_true",
                         help="replace a session folder that holds another recording's session; without it that"
                              " recording's session goes to <name>-2 (-3, ...), said in the output")
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
    analyze.set_defaults(run=run)
