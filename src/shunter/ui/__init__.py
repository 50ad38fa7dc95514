"""The web UI: the pipeline graph, the Freight timeline, Stages and their Promotions, live.

``shunter ui`` serves it (:mod:`shunter.ui.command`); :func:`shunter.ui.app.create_app` builds
the aiohttp application. Every read and write goes to the API server with the identity of the
person using it (:mod:`shunter.ui.kubeapi`); pages are rendered on the server with jinja2
(autoescape on) and kept current with server-sent events fed by watches
(:mod:`shunter.ui.live`).
"""
