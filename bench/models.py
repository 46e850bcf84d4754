"""Every model of the registry side by side: size, compute, speed here, and accuracy where trained.

Columns: parameters; MFLOPs per face (multiply-adds x2, one forward pass, counted from the layers);
training images/s on this machine (the params' batch size, augmentation and precision or --precision, after
warm-up); inference faces/s through the exported SavedModel at batch 1 and 64 (with evaluate's
test-time augmentation); FER-2013 PrivateTest and PublicTest accuracy recorded from pipeline runs in
bench/accuracy.json (`python bench/models.py --record NAME` after a `dvc exp run` of that model).

With --exported: every model serving/models.config serves (fer_model, and fer_fast, the four-view
export that analysis uses), each run in-process as `fer analyze` runs it, in float32, in bfloat16
(TensorFlow's oneDNN auto mixed precision, where the CPU has AVX512-BF16 or AMX) and, where the export
has one, its int8 TensorFlow Lite model (XNNPACK), each in a fresh process: faces/s at batch 64 over
FER-2013 PrivateTest and its accuracy there (goal for the analysis model: 600 faces/s, stretch 1,000,
at 0.70 or better, on an AVX2-only 2-core CPU). `ONEDNN_MAX_CPU_ISA=AVX2` before it makes TensorFlow
compute as on an AVX2-only CPU (bfloat16 is then skipped); XNNPACK has no such cap.

Usage: python bench/models.py [--steps 20] [--precision float32] | --record NAME | --exported
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fer.tf import import_tensorflow  # noqa: E402

import_tensorflow(verbose=False)  # without TensorFlow's start-up lines (oneDNN, CUDA); TF_CPP_MIN_LOG_LEVEL=0 shows them
import keras  # noqa: E402
from fer.learn.evaluation import headline  # noqa: E402
from fer.learn.models import MODELS, build_model  # noqa: E402
from fer.learn.tta import inference_model  # noqa: E402
from fer.params import load_params  # noqa: E402
from training_speed import training_rate  # noqa: E402  (bench/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]
ACCURACY = REPO / "bench" / "accuracy.json"


def mflops(model: keras.Model) -> float:
    """Forward-pass FLOPs per face of the convolution and dense layers (2 per multiply-add)."""
    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.SeparableConv2D):
            h, w, c_out = layer.output.shape[1:]
            c_in, k = layer.input.shape[-1], layer.kernel_size[0] * layer.kernel_size[1]
            total += 2 * h * w * (k * c_in + c_in * c_out)
        elif isinstance(layer, keras.layers.Conv2D):
            h, w, c_out = layer.output.shape[1:]
            total += 2 * h * w * layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1] * c_out
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total / 1e6


def inference_rates(name: str, params: dict) -> tuple[float, float]:
    import tensorflow as tf
    from fer.learn.export import load_signature, write_savedmodel
    evaluate = params["evaluate"]
    model = inference_model(build_model(name, None, **params["models"].get(name, {})), evaluate["tta_flip"],
                            evaluate["tta_rotation"])
    with tempfile.TemporaryDirectory() as folder:
        write_savedmodel(model, Path(folder) / "1")
        signature = load_signature(Path(folder) / "1")
        rates = []
        for batch, calls in ((1, 300), (64, 30)):
            faces = tf.constant(np.random.default_rng(1).integers(0, 256, (batch, 48, 48, 1)).astype(np.float32))
            signature(pixels=faces)
            started = time.perf_counter()
            for _ in range(calls):
                signature(pixels=faces)
            rates.append(batch * calls / (time.perf_counter() - started))
    return rates[0], rates[1]


def record(name: str) -> None:
    """Stores the FER-2013 scores of the workspace's last evaluate run under the model's name, with the
    datasets, epochs and test-time augmentation that produced them."""
    metrics = json.loads((REPO / "metrics/details/evaluate.json").read_text())
    params = load_params(REPO / "params.yaml")
    if params["train"]["model"] != name:
        sys.exit(f"params.yaml trains {params['train']['model']!r}, not {name!r}: run its experiment first")
    scores = headline(metrics)
    recorded = json.loads(ACCURACY.read_text()) if ACCURACY.is_file() else {}
    recorded[name] = {"private_test": scores["fer2013_private_test"]["accuracy"],
                      "public_test": scores["fer2013_public_test"]["accuracy"],
                      "datasets": params["fetch"]["datasets"], "epochs": params["train"]["epochs"],
                      "tta": {"flip": metrics["tta_flip"], "rotation": metrics["tta_rotation"]},
                      "recorded": date.today().isoformat()}
    ACCURACY.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    print(f"{name}: {recorded[name]}")


def describe(run: dict) -> str:
    """'fer2013, 45 ep, flip+rotation6' for a recorded run (older runs averaged shifted views)."""
    if not run:
        return "not trained yet"
    data = run["datasets"][0] if len(run["datasets"]) == 1 else f"{len(run['datasets'])} sets"
    tta = "+".join(["flip"] * bool(run["tta"]["flip"])
                   + [f"{view}{amount:g}" for view, amount in run["tta"].items() if view != "flip" and amount])
    return f"{data}, {run['epochs']} ep, {tta or 'no TTA'}"


EXPORTED_RUN = """
import json, sys, time
import numpy as np
from fer.arrays import load_arrays
from fer.serving.client import LocalModel
model = LocalModel(sys.argv[1], precision=sys.argv[2])
data = load_arrays(sys.argv[3])
ids = data["ids"].astype(str)
chosen = np.char.startswith(ids, "fer2013/PrivateTest")
faces, labels = data["images"][chosen][..., None].astype(np.float32), data["labels"][chosen]
model.predict(faces[:64])
started = time.perf_counter()
predictions = np.concatenate([model.predict(faces[i:i + 64]) for i in range(0, len(faces), 64)])
per_second = len(faces) / (time.perf_counter() - started)
others = {}
for source in ("natural-faces", "micro-expressions"):
    part = np.char.startswith(ids, source + "/")
    guessed = np.concatenate([model.predict(data["images"][part][i:i + 64][..., None].astype(np.float32))
                              for i in range(0, int(part.sum()), 64)]).argmax(1)
    others[source] = float((guessed == data["labels"][part]).mean())
print(json.dumps({"faces": len(faces), "per_second": per_second, "others": others,
                  "accuracy": float((predictions.argmax(1) == labels).mean())}))
"""


def exported() -> None:
    import subprocess

    from fer.cpu import describe_cpu, has_native_bfloat16
    from fer.serving.config import load_model_server_config
    from fer.serving.int8 import INT8_FILE
    names = [config.name for config in load_model_server_config(REPO / "serving/models.config").model_config_list.config]
    print(f"{'exported model (in-process, as fer analyze runs it)':52} {'precision':>9} {'faces/s b64':>11}"
          f" {'PrivateTest':>11} {'natural-faces test':>18} {'micro-expressions test':>22}")
    print(f"CPU: {describe_cpu()}")
    for name in names:
        for precision in ("float32", "bfloat16", "int8"):
            if precision == "bfloat16" and not has_native_bfloat16():
                print(f"{'serving/models/' + name:52} {precision:>9} (not native on this CPU: skipped)")
                continue
            if precision == "int8" and not any((REPO / "serving/models" / name).glob(f"*/{INT8_FILE}")):
                continue
            run = subprocess.run([sys.executable, "-c", EXPORTED_RUN, str(REPO / "serving/models" / name), precision,
                                  str(REPO / "data/split/test.npz")], capture_output=True, text=True, check=True,
                                 cwd=REPO)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{'serving/models/' + name:52} {precision:>9} {result['per_second']:11.0f}"
                  f" {result['accuracy']:11.4f} {result['others']['natural-faces']:18.4f}"
                  f" {result['others']['micro-expressions']:22.4f}", flush=True)
    print("goal for fer_fast, the model analysis uses: 600 faces/s (stretch 1,000) at batch 64 with PrivateTest"
          " 0.70 or better, on an AVX2-only 2-core CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="training batches timed per model")
    parser.add_argument("--record", metavar="NAME", help="store the accuracy of the last evaluate run")
    parser.add_argument("--precision", help="training precision to time (default: params' train.precision,"
                                            " auto: mixed_bfloat16 where native, else float32)")
    parser.add_argument("--exported", action="store_true", help="the committed exports in float32, bfloat16, int8")
    args = parser.parse_args()
    if args.record:
        return record(args.record)
    if args.exported:
        return exported()
    params = load_params(REPO / "params.yaml")
    recorded = json.loads(ACCURACY.read_text()) if ACCURACY.is_file() else {}
    from fer.cpu import training_precision
    precision = training_precision(args.precision or params["train"]["precision"])
    print(f"training in {precision}")
    print(f"{'model':15} {'params':>9} {'MFLOPs':>7} {'train img/s':>11} {'infer b1/s':>10} {'infer b64/s':>11}"
          f" {'PrivateTest':>11} {'PublicTest':>10}  trained on, epochs, test-time augmentation")
    for name in MODELS:
        model = build_model(name, None, **params["models"].get(name, {}))
        train_rate = training_rate(dict(params["train"], model=name, seed=params["seed"], precision=precision),
                                   params["models"].get(name, {}), args.steps)
        batch1, batch64 = inference_rates(name, params)
        accuracy = recorded.get(name, {})
        print(f"{name:15} {model.count_params():9,d} {mflops(model):7.1f} {train_rate:11.0f} {batch1:10.0f}"
              f" {batch64:11.0f} {accuracy.get('private_test', float('nan')):11.4f}"
              f" {accuracy.get('public_test', float('nan')):10.4f}  {describe(accuracy)}")
    print(f"accuracy: FER-2013 official protocol, from {ACCURACY.relative_to(REPO)}; nan = not trained yet;"
          f" inference averages views: flip {params['evaluate']['tta_flip']}, rotation {params['evaluate']['tta_rotation']} degrees")


if __name__ == "__main__":
    main()
