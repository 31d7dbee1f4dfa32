"""Renditions: the filter-spec language, crop geometry and the imaging engines.

`spec` parses specs, `geometry` decides the pixels, `engines`/`pipeline` render (Pillow or
libvips per operation, chosen by `bench/renditions.py`), `presets` names what every version
gets up front. Creating each rendition once is `dam.services.renditions`; the task that runs it on the
`renditions` queue is in `dam.tasks`.
"""
