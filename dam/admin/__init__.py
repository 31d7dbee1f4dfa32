"""The asset library in the staff UI: `assets` (browser, asset page, collections), `uploads`, `review`
(the review board and decisions), `webhooks`; imported here so their model admins register."""

from dam.admin import assets, review  # noqa: F401
