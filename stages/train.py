"""train: fit the model named in params.yaml on TRAIN_SET, resumably (BACKUP_DIR); the model and its log.
With --member NAME, an ensemble member: train's params with ensemble.members.NAME laid over them.

The outputs are replaced only once training has finished, so a run that is cut off leaves the committed
model, metrics and curves as they were. With train.warm_start, training starts from the weights of the MODEL it
replaces (the committed network): fine-tuning, e.g. on new crops with a short schedule.
"""
import sys
import time

from fer.arrays import load_arrays
from fer.learn.ensemble import member_params
from fer.learn.training import publish_log, train
from fer.params import load_params, stage_paths


def main(argv: list[str] | None = None) -> None:
    paths = stage_paths(argv, __doc__, "train_set", "validation_set", "backup_dir", "model", "metrics", "curves",
                        options={"member": None})
    params = load_params()
    options = dict(params["train"], seed=params["seed"])
    if paths.member:
        options = member_params(options, params["ensemble"]["members"][paths.member])
    start_from = paths.model if options["warm_start"] and paths.model.exists() else None
    started = time.time()
    model, live_dir = train(load_arrays(paths.train_set), load_arrays(paths.validation_set), options,
                            params["models"][options["model"]], params["split"]["balance"], paths.backup_dir,
                            start_from)
    paths.model.parent.mkdir(parents=True, exist_ok=True)
    unfinished = paths.model.with_name(f"unfinished-{paths.model.name}")
    model.save(unfinished)
    unfinished.replace(paths.model)
    publish_log(live_dir, paths.metrics, paths.curves)
    print(f"trained {options['model']} for {options['epochs']} epochs in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
