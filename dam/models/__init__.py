from dam.models.bulk import BulkOperation
from dam.models.checks import CheckKind, CheckOutcome, ChecksState, VersionCheck
from dam.models.credentials import SigningKey
from dam.models.delivery import PublishWindow, TenantDelivery
from dam.models.exports import Export
from dam.models.library import Asset, AssetVersion, Collection, ImageFormat, Rendition
from dam.models.review import ReviewDecision
from dam.models.settings import LibrarySettings
from dam.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "Asset",
    "AssetVersion",
    "BulkOperation",
    "CheckKind",
    "CheckOutcome",
    "ChecksState",
    "Collection",
    "Export",
    "ImageFormat",
    "LibrarySettings",
    "PublishWindow",
    "Rendition",
    "ReviewDecision",
    "SigningKey",
    "TenantDelivery",
    "VersionCheck",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
