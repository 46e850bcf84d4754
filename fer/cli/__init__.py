"""The `fer` command; each command's arguments and body live in a module of their own (fer/cli/<command>.py).

fer serve      the TensorFlow-Serving-compatible server (tensorflow_model_server's flags and files)
fer analyze    playtest recordings -> per-frame emotions, timelines, summary and HTML report per session
fer aggregate  many session summaries -> statistics per segment and participant group, with intervals
fer compare    builds (or participant groups) -> differences per segment with effect sizes, charts, a trend
fer report     a comparison -> one self-contained HTML file for a producer, with charts and stills
fer clips      the strongest moments of sessions -> short WebM clips
fer dashboard  a local web page over those results: video with emotion lanes, annotations, charts

TensorFlow's start-up messages are left out unless --verbose is given (before or after the command).
"""
