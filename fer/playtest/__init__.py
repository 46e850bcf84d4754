"""Playtest analytics: recordings to per-frame emotions, timelines, summaries, reports and A/B comparisons."""
