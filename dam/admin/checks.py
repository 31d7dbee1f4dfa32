"""The asset page's "Copy and brand checks" panel: a version's checks (dam.models.checks) in a reviewer's words,
each with the evidence that decided it and a link to its picture (served by `views.check_evidence_view`).

The rows are read once per page (`dam.selectors.checks.version_checks`); the evidence is what the checks stored
(`dam.checks.*.to_dict()`), read defensively: a key a check did not write is left out, never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from dam.lifecycle import VersionStatus
from dam.models import AssetVersion, CheckKind, VersionCheck
from dam.selectors.checks import checks_overview, version_checks

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
SHOWN_LINES = 6  # legibility: the lowest-contrast lines first, this many at most
SHOWN_DIFFERENCES = 12

VERDICT_WORDS = {
    (CheckKind.COPY, "exact"): "copy exact",
    (CheckKind.COPY, "near"): "copy near",
    (CheckKind.COPY, "mismatch"): "copy mismatch",
    (CheckKind.CROP, "ok"): "keeps the copy whole",
    (CheckKind.CROP, "adjusted"): "window moved to keep the copy whole",
    (CheckKind.CROP, "cut"): "cuts the copy",
    (CheckKind.CROP, "too_small"): "copy too small",
    (CheckKind.PALETTE, "passed"): "on palette",
    (CheckKind.PALETTE, "failed"): "off palette",
    (CheckKind.LEGIBILITY, "passed"): "legible",
    (CheckKind.LEGIBILITY, "failed"): "low contrast",
    (CheckKind.LOGO, "found"): "logo found",
    (CheckKind.LOGO, "too_small"): "logo too small",
    (CheckKind.LOGO, "missing"): "logo missing",
}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    is_text: bool = False  # text read or expected: drawn as typed, in a monospace box


@dataclass(frozen=True)
class Swatch:
    hex: str
    words: str
    background: str = ""  # legibility: the text colour on this background


@dataclass
class CheckRow:
    check: VersionCheck
    title: str
    verdict_words: str
    score_words: str = ""
    facts: list[Fact] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    swatches: list[Swatch] = field(default_factory=list)
    swatches_label: str = ""
    evidence_url: str | None = None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _percent(value: Any, digits: int = 0) -> str:
    number = _number(value)
    return "—" if number is None else f"{number * 100:.{digits}f}%"


def _quoted(text: Any) -> str:
    return f"“{text}”" if text not in (None, "") else "nothing"


def _difference(diff: dict[str, Any], unreadable: frozenset[str] = frozenset()) -> str:
    # `at` counts from 0 in the expected copy; a reviewer counts characters from 1.
    at = f" (character {diff['at'] + 1})" if isinstance(diff.get("at"), int) else ""
    expected, read = diff.get("expected", ""), diff.get("read", "")
    if unreadable and any(char in unreadable for char in str(expected)):
        # Not evidence of a wrong render: the models write the nearest character they have.
        at += " — the OCR models cannot write it: check by eye"
    if diff.get("op") == "substitute":
        return f"{_quoted(expected)} read as {_quoted(read)}{at}"
    if diff.get("op") == "delete":
        return f"{_quoted(expected)} missing{at}"
    if diff.get("op") == "insert":
        return f"extra {_quoted(read)}{at}"
    return f"{_quoted(expected)} → {_quoted(read)}{at}"


def _copy(row: CheckRow, evidence: dict[str, Any]) -> None:
    cer = _number(evidence.get("cer", row.check.score))
    row.score_words = "" if cer is None else f"character error rate {cer:.2f}"
    row.facts += [
        Fact("Expected", str(evidence.get("expected", "")), is_text=True),
        Fact("Read back", str(evidence.get("read", "")) or "nothing read", is_text=bool(evidence.get("read"))),
    ]
    if cer is not None:
        row.facts.append(Fact("Error rate", f"{cer:.3f} ({_percent(cer, 1)} of the characters differ)"))
    languages = (evidence.get("reading") or {}).get("languages")
    if languages:
        row.facts.append(Fact("Read as", str(languages)))
    unreadable = [str(char) for char in evidence.get("unreadable") or [] if isinstance(char, str)]
    if unreadable:
        row.facts.append(
            Fact(
                "Cannot be read back",
                f"{' '.join(unreadable)}: not among the characters the OCR models can write, so this copy cannot read"
                " back exact; a person checks these characters",
            )
        )
    differences = [d for d in evidence.get("differences") or [] if isinstance(d, dict)]
    row.differences = [_difference(d, frozenset(unreadable)) for d in differences[:SHOWN_DIFFERENCES]]
    if len(differences) > SHOWN_DIFFERENCES:
        row.differences.append(f"and {len(differences) - SHOWN_DIFFERENCES} more")


def _crop(row: CheckRow, evidence: dict[str, Any]) -> None:
    height, minimum = evidence.get("text_height"), evidence.get("min_text_height")
    if height is not None:
        row.score_words = f"copy {height} px high"
    if evidence.get("adjusted"):
        kept = {True: " (focal point kept)", False: " (focal point no longer inside)"}.get(evidence.get("focal_kept"))
        window = "moved" + (kept or "")
    else:
        window = "as planned"
    row.facts.append(Fact("Window", window))
    if height is not None:
        row.facts.append(Fact("Copy height", f"{height} px in the placement (minimum {minimum} px)"))
    cut = [box for box in evidence.get("cut_boxes") or [] if isinstance(box, dict)]
    if cut:
        kept = ", ".join(_percent(box.get("kept_share")) for box in cut)
        words = "line" if len(cut) == 1 else "lines"
        row.facts.append(Fact("Cut by the planned window", f"{len(cut)} {words} (kept {kept})"))


def _palette(row: CheckRow, evidence: dict[str, Any]) -> None:
    row.score_words = f"{_percent(evidence.get('score', row.check.score))} on palette"
    row.facts.append(
        Fact(
            "Within the palette",
            f"{_percent(evidence.get('score', row.check.score))} of the picture (needs "
            f"{_percent(evidence.get('threshold'))}, colour difference ΔE ≤ {evidence.get('max_delta_e', '—')})",
        )
    )
    row.swatches_label = "Colours found"
    for colour in evidence.get("colours") or []:
        if isinstance(colour, dict) and HEX.match(str(colour.get("hex", ""))):
            nearest = colour.get("nearest") or "—"
            delta = _number(colour.get("delta_e"))
            row.swatches.append(
                Swatch(
                    colour["hex"],
                    f"{colour['hex']} · {_percent(colour.get('share'))} · nearest {nearest}"
                    + (f" (ΔE {delta:.1f})" if delta is not None else ""),
                )
            )


def _legibility(row: CheckRow, evidence: dict[str, Any]) -> None:
    ratio, minimum = _number(evidence.get("ratio", row.check.score)), _number(evidence.get("minimum"))
    if ratio is not None:
        row.score_words = f"contrast {ratio:.1f}:1"
        row.facts.append(
            Fact("Lowest contrast", f"{ratio:.2f}:1" + (f" (needs {minimum:.1f}:1)" if minimum is not None else ""))
        )
    lines = [line for line in evidence.get("lines") or [] if isinstance(line, dict)]
    lines.sort(key=lambda line: _number(line.get("ratio")) or 0.0)
    row.facts.append(Fact("Lines measured", str(len(lines))))
    row.swatches_label = "Text / background"
    for line in lines[:SHOWN_LINES]:
        text, back = str(line.get("text_colour", "")), str(line.get("background", ""))
        if HEX.match(text) and HEX.match(back):
            words = f"{_quoted(line.get('text', ''))}: {text} on {back}, {_number(line.get('ratio')) or 0:.1f}:1"
            row.swatches.append(Swatch(text, words, background=back))


def _logo(row: CheckRow, evidence: dict[str, Any]) -> None:
    share = evidence.get("width_share", row.check.score)
    row.score_words = f"{_percent(share, 1)} of the width"
    row.facts.append(Fact("Found", "yes" if evidence.get("found") else "no"))
    if evidence.get("found"):
        needs = _percent(evidence.get("min_width_share"), 1)
        row.facts.append(Fact("Size", f"{_percent(share, 1)} of the picture's width (needs {needs})"))
    if evidence.get("matches") is not None:
        row.facts.append(Fact("Matched features", str(evidence["matches"])))


DESCRIBE = {
    CheckKind.COPY: _copy,
    CheckKind.CROP: _crop,
    CheckKind.PALETTE: _palette,
    CheckKind.LEGIBILITY: _legibility,
    CheckKind.LOGO: _logo,
}


def check_row(check: VersionCheck, *, servable: bool) -> CheckRow:
    kind_label = CheckKind(check.kind).label if check.kind in CheckKind.values else check.kind
    row = CheckRow(
        check=check,
        title=f"{kind_label} · {check.placement}" if check.placement else kind_label,
        verdict_words=VERDICT_WORDS.get((check.kind, check.verdict), check.verdict.replace("_", " ")),
    )
    describe = DESCRIBE.get(check.kind)
    if describe is not None:
        describe(row, check.evidence if isinstance(check.evidence, dict) else {})
    if check.evidence_key and servable:
        row.evidence_url = reverse("admin:dam_version_check_evidence", args=[check.pk])
    return row


def checks_panel(version: AssetVersion) -> dict[str, Any] | None:
    """The panel of one version: its overview (from the row) and its checks (one query); None when the version
    was never checked. A blocked version's evidence pictures are not linked (they show what was blocked)."""
    overview = checks_overview(version)
    if overview["state"] == "none":
        return None
    servable = version.status != VersionStatus.BLOCKED
    order = {kind: index for index, kind in enumerate(CheckKind.values)}  # the copy first, the brand checks after
    checks = sorted(version_checks(version=version), key=lambda c: (order.get(c.kind, len(order)), c.placement))
    rows = [check_row(check, servable=servable) for check in checks]
    return {**overview, "rows": rows, "state_label": version.get_checks_state_display()}
