"""train: fit the model named in params.yaml on data/split/train.npz, saving data/model/fer.keras."""
import time
from pathlib import Path

from fer.params import load_params
from fer.preprocess import load_arrays
from fer.training import train

params = load_params()
options = dict(params["train"], seed=params["seed"])
started = time.time()
model = train(load_arrays(Path("data/split/train.npz")), load_arrays(Path("data/split/validation.npz")), options,
              params["models"][options["model"]], params["split"]["balance"],
              log_path=Path("plots/training_log.csv"), backup_dir=Path("data/train_backup"))
Path("data/model").mkdir(parents=True, exist_ok=True)
model.save("data/model/fer.keras")
print(f"trained {options['model']} for {options['epochs']} epochs in {time.time() - started:.0f} s")
