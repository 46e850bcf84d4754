"""Facial-expression recognition for playtest analytics: data, learning, serving and playtest subsystems."""
