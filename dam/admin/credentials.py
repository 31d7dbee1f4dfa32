"""The asset page's Content Credentials panel: who signed each stored file, what it says was done, its chain
of ingredients and whether it all validates.

The selected version's original is read while the page renders (one file); each rendition's row loads its own
report afterwards (htmx, `rendition_credentials_view`) so that a version with many renditions does not read all
of their bytes before the page shows. Every file is read once per view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404, HttpRequest
from django.template.response import TemplateResponse

from dam.credentials.verify import (
    ABSENT,
    INVALID,
    TRUSTED,
    UNREADABLE,
    VALID,
    ChainLink,
    CredentialsReport,
    flat_chain,
    stored_credentials,
)
from dam.models import AssetVersion, Rendition

if TYPE_CHECKING:
    from dam.admin.assets import AssetAdmin

STATE_WORDS = {
    TRUSTED: (
        "Valid · trusted signer",
        "The signature and every hash check out; the signer's certificate chains to a CA this platform trusts.",
    ),
    VALID: (
        "Valid · signer not trusted",
        "The signature and every hash check out, but the signer's certificate "
        "does not chain to a CA this platform trusts.",
    ),
    INVALID: (
        "Invalid",
        "The manifest does not match the file: it was changed after signing, or the signature does not check out.",
    ),
    ABSENT: ("No Content Credentials", "The file carries no C2PA manifest."),
    UNREADABLE: ("Unreadable", "The file or its manifest could not be parsed."),
}
ACTION_WORDS = {
    "c2pa.created": "created",
    "c2pa.opened": "opened",
    "c2pa.edited": "edited",
    "c2pa.resized": "resized",
    "c2pa.cropped": "cropped",
    "c2pa.transcoded": "transcoded",
    "c2pa.converted": "converted",
    "c2pa.placed": "placed",
    "c2pa.color_adjustments": "colour adjusted",
    "c2pa.published": "published",
}
SOURCE_WORDS = {
    "trainedAlgorithmicMedia": "AI-generated",
    "compositeWithTrainedAlgorithmicMedia": "composite with AI-generated media",
    "algorithmicMedia": "algorithmic",
    "digitalCapture": "camera capture",
    "composite": "composite",
}


def _action_words(action: dict[str, Any]) -> str:
    name = action.get("action", "")
    words = ACTION_WORDS.get(name, name.removeprefix("c2pa."))
    source = str(action.get("digitalSourceType", "")).rsplit("/", 1)[-1]
    return f"{words} ({SOURCE_WORDS[source]})" if source in SOURCE_WORDS else words


def _link_state(link: ChainLink) -> str:
    if link.valid is None:
        return ABSENT
    return TRUSTED if link.trusted else (VALID if link.valid else INVALID)


def credentials_view_model(report: CredentialsReport) -> dict[str, Any]:
    """What the template shows of one report, in words."""
    label, explanation = STATE_WORDS[report.state]
    chain = flat_chain(report)[1:] if report.present else []
    return {
        "state": report.state,
        "label": label,
        "explanation": explanation,
        "present": report.present,
        "signer": report.signer,
        "signer_name": report.signer_name if report.signer_name != report.signer else None,
        "issuer": report.issuer,
        "claim_generator": report.claim_generator,
        "actions": [_action_words(action) for action in report.actions],
        "chain": [
            {
                "depth": min(link.depth, 4),
                "title": link.title or "untitled",
                "signer": link.signer,
                "actions": [ACTION_WORDS.get(a, a.removeprefix("c2pa.")) for a in link.actions],
                "state": _link_state(link),
            }
            for link in chain
        ],
        "failures": [f for f in report.failures if f["code"] != "signingCredential.untrusted" or report.state != VALID],
        "checks_passed": sum(1 for s in report.validation if s["kind"] == "success"),
        "error": report.error,
    }


def rendition_label(rendition: Rendition) -> str:
    name = rendition.placement_slug or rendition.spec
    return f"{name} · {rendition.width}\u00d7{rendition.height} {rendition.format.upper()}"


def credentials_panel(version: AssetVersion, renditions: list[Rendition]) -> dict[str, Any]:
    """The original's report (read now); each rendition's row loads its own (rendition_credentials_view)."""
    return {
        "original": credentials_view_model(stored_credentials(version)),
        "original_label": f"Original · {version.width}\u00d7{version.height} {version.format.upper()}",
        "renditions": [{"rendition": r, "label": rendition_label(r)} for r in renditions],
    }


def rendition_credentials_view(model_admin: AssetAdmin, request: HttpRequest, rendition_id: int) -> TemplateResponse:
    """One rendition's credentials, as the fragment that replaces its placeholder row on the asset page."""
    if not model_admin.has_view_permission(request):
        raise Http404("no such rendition")
    assets = model_admin.get_queryset(request).values("pk")
    rendition = Rendition.unscoped.filter(pk=rendition_id, version__asset__in=assets).select_related("version").first()
    if rendition is None:
        raise Http404("no such rendition")
    context = {
        "rendition": rendition,
        "label": rendition_label(rendition),
        "report": credentials_view_model(stored_credentials(rendition)),
    }
    return TemplateResponse(request, "admin/dam/asset/credentials_rendition.html", context)
