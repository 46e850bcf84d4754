"""The data pipeline: fetch the Kaggle archives, unzip them, preprocess faces, remove duplicates, split."""
