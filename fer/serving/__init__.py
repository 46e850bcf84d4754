"""Serving: a TensorFlow-Serving-compatible server, its model repository and config files, and clients."""
