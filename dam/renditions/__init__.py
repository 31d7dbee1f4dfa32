"""Renditions: the filter-spec language, crop geometry, the imaging engines, and the services that make them.

`spec` parses specs, `geometry` decides the pixels, `engines`/`pipeline` render (Pillow or
libvips per operation, chosen by `bench/renditions.py`), `presets` names what every version
gets up front, `services` creates each rendition once, `tasks` runs it on the `renditions` queue.
"""
