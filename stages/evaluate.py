"""evaluate: the scores on every split (headline and details) of the average of the networks (train's MODEL, and
members in MEMBERS_DIR) and test-time views of the params section given by --views (evaluate for fer_model;
fast for fer_fast, the model analysis runs), and charts of FER-2013 PrivateTest. With --name, the headline metrics
are under that key, so that `dvc exp show` tells fer_fast's columns from fer_model's by name, not by file."""
import json
import sys
import time

from fer.arrays import load_arrays
from fer.learn.evaluation import (HEADLINE_DATASET, headline, plot_confusion_matrix, predict, split_scores,
                                  write_confusion_csv, write_per_class_csv)
from fer.learn.tta import load_views_model
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "model", "members_dir", "split_dir", "metrics", "details", "confusion", "per_class",
                        "confusion_png", options={"views": "evaluate", "name": ""})
    params = load_params()[paths.views]
    model = load_views_model(paths.model, paths.members_dir, params)
    details = {key: params[key] for key in ("networks", "tta_flip", "tta_rotation")}
    for split in ("test", "validation", "train"):
        data = load_arrays(paths.split_dir / f"{split}.npz")
        started = time.time()
        predicted = predict(model, data["images"]).argmax(axis=1)
        details[split] = split_scores(data["labels"], predicted, data["datasets"])
        print(f"{split}: accuracy {details[split]['accuracy']:.4f}, macro-F1 {details[split]['macro_f1']:.4f}"
              f" on {len(predicted)} images ({len(predicted) / (time.time() - started):.0f} faces/s)")
        if split == "test":  # the charts show FER-2013's PrivateTest, the test set papers report
            private = data["datasets"] == HEADLINE_DATASET
            labels, predicted = data["labels"][private], predicted[private]
            write_confusion_csv(labels, predicted, paths.confusion)
            write_per_class_csv(labels, predicted, paths.per_class)
            plot_confusion_matrix(labels, predicted, f"FER-2013 PrivateTest: accuracy {(labels == predicted).mean():.3f}"
                                  f" ({len(labels)} faces)", paths.confusion_png)
    scores = {paths.name: headline(details)} if paths.name else headline(details)
    for path, record in ((paths.metrics, scores), (paths.details, details)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
