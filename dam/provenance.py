"""Provenance embedded in every stored file as XMP: how the image was made, by which AI system, whose it is.

- IPTC Digital Source Type (`Iptc4xmpExt:DigitalSourceType`): `trainedAlgorithmicMedia` for a
  generated image, `compositeWithTrainedAlgorithmicMedia` for an AI edit of an uploaded photo;
  an uploaded original keeps the type its uploader declared (or the one its own XMP declared).
- The AI system (IPTC 2025.1 `AISystemUsed` / `AISystemVersionUsed`): the model and the Foundry
  deployment that produced it.
- The tenant's credit line (`photoshop:Credit`) and copyright notice (`dc:rights`).
- The compiled prompt (`AIPromptInformation`) only if the tenant's library settings allow it:
  prompts can hold unreleased campaign copy.

Renditions carry the same record as their version. The packet is built here; `dam.xmp` puts it
into the container.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from django.db import models

from dam.models import AssetVersion, LibrarySettings
from dam.xmp import embed_xmp, read_xmp

IPTC_SOURCE_TYPE_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MAX_PROMPT_CHARS = 16_000  # an XMP packet must fit one JPEG APP1 segment (64 KB)
NAMESPACES = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
}


class DigitalSourceType(models.TextChoices):
    """IPTC NewsCodes 'Digital Source Type' (cv.iptc.org/newscodes/digitalsourcetype)."""

    TRAINED_ALGORITHMIC_MEDIA = "trainedAlgorithmicMedia", "Created by generative AI"
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = "compositeWithTrainedAlgorithmicMedia", "Edited with generative AI"
    ALGORITHMIC_MEDIA = "algorithmicMedia", "Created by an algorithm without training data"
    ALGORITHMICALLY_ENHANCED = "algorithmicallyEnhanced", "Algorithmically enhanced"
    DIGITAL_CAPTURE = "digitalCapture", "Original digital capture (a photo)"
    COMPUTATIONAL_CAPTURE = "computationalCapture", "Computational capture (a phone photo)"
    NEGATIVE_FILM = "negativeFilm", "Digitised from a negative"
    POSITIVE_FILM = "positiveFilm", "Digitised from a transparency"
    PRINT = "print", "Digitised from a print"
    HUMAN_EDITS = "humanEdits", "Edited by a person"
    COMPOSITE_CAPTURE = "compositeCapture", "Composite of captures"
    COMPOSITE_SYNTHETIC = "compositeSynthetic", "Composite including synthetic elements"
    COMPOSITE = "composite", "Composite"
    DIGITAL_CREATION = "digitalCreation", "Created by a person with software"
    SCREEN_CAPTURE = "screenCapture", "Screen capture"
    DATA_DRIVEN_MEDIA = "dataDrivenMedia", "Data-driven media"
    VIRTUAL_RECORDING = "virtualRecording", "Virtual recording"


@dataclass(frozen=True)
class ProvenanceRecord:
    source_type: str = ""  # a DigitalSourceType term; blank: nothing is claimed
    ai_system: str = ""
    ai_system_version: str = ""
    credit_line: str = ""
    copyright_notice: str = ""
    prompt: str = ""


def source_type_for(version: AssetVersion) -> str:
    """The declared type if there is one; else generated, or an AI edit when the lineage starts from an upload."""
    if version.digital_source_type:
        return version.digital_source_type
    if version.job_id is None:
        return ""
    if version.asset.source == "uploaded":
        return DigitalSourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    return DigitalSourceType.TRAINED_ALGORITHMIC_MEDIA


def provenance_for_version(version: AssetVersion, settings: LibrarySettings) -> ProvenanceRecord:
    generated = version.job_id is not None
    return ProvenanceRecord(
        source_type=source_type_for(version),
        ai_system=version.model if generated else "",
        ai_system_version=version.deployment if generated else "",
        credit_line=settings.credit_line,
        copyright_notice=settings.copyright_notice,
        prompt=version.compiled_prompt if generated and settings.include_prompt_in_provenance else "",
    )


def provenance_for_generated_output(
    *, settings: LibrarySettings, model: str, deployment: str, prompt: str, edit_of_upload: bool
) -> ProvenanceRecord:
    """The record of a provider output before its version row exists (for stamping the original)."""
    return ProvenanceRecord(
        source_type=DigitalSourceType.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
        if edit_of_upload
        else DigitalSourceType.TRAINED_ALGORITHMIC_MEDIA,
        ai_system=model,
        ai_system_version=deployment,
        credit_line=settings.credit_line,
        copyright_notice=settings.copyright_notice,
        prompt=prompt if settings.include_prompt_in_provenance else "",
    )


def _alt(value: str) -> str:
    return f'<rdf:Alt><rdf:li xml:lang="x-default">{escape(value)}</rdf:li></rdf:Alt>'


def xmp_packet(record: ProvenanceRecord) -> bytes:
    attributes = ""
    if record.source_type:
        attributes += f"\n   Iptc4xmpExt:DigitalSourceType={quoteattr(IPTC_SOURCE_TYPE_BASE + record.source_type)}"
    for name, value in (
        ("Iptc4xmpExt:AISystemUsed", record.ai_system),
        ("Iptc4xmpExt:AISystemVersionUsed", record.ai_system_version),
        ("photoshop:Credit", record.credit_line),
    ):
        if value:
            attributes += f"\n   {name}={quoteattr(value)}"
    elements = ""
    if record.copyright_notice:
        elements += f"\n   <dc:rights>{_alt(record.copyright_notice)}</dc:rights>"
    if record.prompt:
        prompt = record.prompt[:MAX_PROMPT_CHARS]
        elements += f"\n   <Iptc4xmpExt:AIPromptInformation>{escape(prompt)}</Iptc4xmpExt:AIPromptInformation>"
    declarations = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in NAMESPACES.items() if prefix != "x")
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f" <rdf:RDF {declarations}>\n"
        f'  <rdf:Description rdf:about=""{attributes}>{elements}\n'
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


def provenance_stamp(data: bytes, *, image_format: str, record: ProvenanceRecord) -> bytes:
    """`data` with the record's XMP embedded (PNG, JPEG, WebP; the pixels are not touched)."""
    return embed_xmp(data, image_format, xmp_packet(record))


_TERM = re.compile(r"digitalsourcetype/([A-Za-z]+)$")


def parse_xmp(packet: bytes) -> dict[str, str]:
    """The provenance fields of an XMP packet (ours or anyone's), by short name."""
    text = packet.decode("utf-8", errors="replace")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return {}  # XMP never needs a DTD; uploads are untrusted XML, so entity tricks are not even parsed
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start < 0 or end < 0:
        return {}
    try:
        root = ElementTree.fromstring(text[start : end + len("</x:xmpmeta>")])
    except ElementTree.ParseError:
        return {}
    wanted = {
        f"{{{NAMESPACES['Iptc4xmpExt']}}}DigitalSourceType": "DigitalSourceType",
        f"{{{NAMESPACES['Iptc4xmpExt']}}}AISystemUsed": "AISystemUsed",
        f"{{{NAMESPACES['Iptc4xmpExt']}}}AISystemVersionUsed": "AISystemVersionUsed",
        f"{{{NAMESPACES['Iptc4xmpExt']}}}AIPromptInformation": "AIPromptInformation",
        f"{{{NAMESPACES['photoshop']}}}Credit": "Credit",
        f"{{{NAMESPACES['dc']}}}rights": "rights",
    }
    found: dict[str, str] = {}
    for description in root.iter(f"{{{NAMESPACES['rdf']}}}Description"):
        for attribute, value in description.attrib.items():
            if attribute in wanted:
                found[wanted[attribute]] = value
        for child in description:
            if child.tag in wanted:
                found[wanted[child.tag]] = "".join(child.itertext()).strip()
            resource = child.attrib.get(f"{{{NAMESPACES['rdf']}}}resource")
            if child.tag in wanted and resource:
                found[wanted[child.tag]] = resource
    return found


def read_provenance(data: bytes) -> dict[str, str]:
    """The provenance fields embedded in stored bytes; `source_type` holds the bare term."""
    packet = read_xmp(data)
    fields = parse_xmp(packet) if packet else {}
    if match := _TERM.search(fields.get("DigitalSourceType", "")):
        fields["source_type"] = match.group(1)
    return fields


def declared_source_type(data: bytes) -> str:
    """The Digital Source Type an uploaded file declares about itself, if it is a known term."""
    try:
        term = read_provenance(data).get("source_type", "")
    except (ValueError, OSError, IndexError, struct.error):  # an unreadable declaration is no declaration
        return ""
    return term if term in DigitalSourceType.values else ""
