"""Facial-expression recognition for playtest analytics: data, models, training, export."""
