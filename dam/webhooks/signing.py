"""The signature a receiver checks: `X-DAM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The HMAC key is the endpoint's secret (`whsec_…`, as given at registration), the message is
`<t>.<raw body>`. Signing the timestamp with the body lets receivers refuse replays older
than a few minutes. The verification snippet for receivers is in dam/webhooks/README.md.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-DAM-Signature"
EVENT_HEADER = "X-DAM-Event"
EVENT_ID_HEADER = "X-DAM-Event-Id"
DELIVERY_HEADER = "X-DAM-Delivery"


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
