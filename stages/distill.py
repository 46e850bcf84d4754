"""distill: fit distill.model on TRAIN_SET towards the teacher's probabilities (TEACHER) mixed with the
labels, with train's recipe, resumably (BACKUP_DIR); the student and its log. As train, the outputs are
replaced only once training has finished."""
import sys
import time

from fer.arrays import load_arrays
from fer.learn.distill import soft_targets
from fer.learn.training import publish_log, train
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "train_set", "teacher", "validation_set", "backup_dir", "model", "metrics",
                        "curves")
    params = load_params()
    options = dict(params["train"], model=params["distill"]["model"], seed=params["seed"])
    train_set = load_arrays(paths.train_set)
    targets = soft_targets(load_arrays(paths.teacher)["probabilities"], train_set["labels"],
                           params["distill"]["teacher_weight"])
    started = time.time()
    model, live_dir = train(train_set, load_arrays(paths.validation_set), options, params["models"][options["model"]],
                            "none", paths.backup_dir, targets)
    paths.model.parent.mkdir(parents=True, exist_ok=True)
    unfinished = paths.model.with_name(f"unfinished-{paths.model.name}")
    model.save(unfinished)
    unfinished.replace(paths.model)
    publish_log(live_dir, paths.metrics, paths.curves)
    print(f"distilled {options['model']} for {options['epochs']} epochs in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
