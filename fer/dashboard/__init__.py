"""`fer dashboard`: a local web application over `fer analyze`, `fer aggregate` and `fer compare` results.

address  where the dashboard listens by default (this machine only), and which hosts are loopback
catalog  what the result folders given hold: sessions (finished, live, broken), aggregates, comparisons
lanes    a session's tables as the columns the page's charts draw
server   the aiohttp application: pages, static files, the JSON API, the video, live rows as server-sent events
static/  the page: plain JavaScript modules, CSS and the vendored uPlot chart library (MIT, see uPlot.LICENSE)

Nothing here imports TensorFlow (tests/test_dashboard_server.py checks it).
"""
