"""Learning: the model registry, training, test-time views, evaluation and export to a SavedModel."""
