"""Webhooks: tenants register endpoints for events; deliveries are signed, retried and logged.

`webhook_emit(tenant=, event=, payload=)` (dam.services.webhooks) writes one delivery row per
subscribed endpoint in the caller's transaction and enqueues the sending after commit on the
`webhooks` queue, so a slow or dead receiver never holds up the caller or the job workers.
"""
