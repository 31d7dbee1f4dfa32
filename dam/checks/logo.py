"""Logo check: is the brand's logo in the picture, and is it drawn large enough?

Matching (OpenCV): ORB keypoints and binary descriptors on the logo and on the picture (both grey), each logo
descriptor's two nearest picture descriptors by Hamming distance, Lowe's ratio test to keep the distinctive
matches, then a RANSAC homography from logo to picture. The logo counts as found when enough matches agree with
one homography (``MIN_INLIERS``) and the logo's outline under it is a plausible picture of the logo: convex,
not folded, and not stretched beyond ``MAX_DISTORTION`` in aspect ratio. ORB is rotation-invariant and its
image pyramid covers scale; the logo is normalised to ``LOGO_EDGE`` pixels and the picture to ``SEARCH_EDGE``
(measured: about 0.05-0.13 s CPU for a 2048x2048 picture). A logo without texture (a plain disc) has no
keypoints to match and is reported as not found.

width_share = the found outline's horizontal extent / the picture's width; passed = found and
width_share >= min_width_share.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

LOGO_EDGE = 320  # the logo's longer side for matching, px
# The picture is matched with its longer side at this size, shrunk or enlarged to it: the smallest logo found is
# then a share of the picture (about 4 % of its width, ~80 px here), whatever the picture's own resolution.
SEARCH_EDGE = 2048
FEATURES_LOGO = 1000
FEATURES_PICTURE = 6000
LOGO_LEVELS = 12  # ORB pyramid, scale 1.2 a level: 1.2 ** 11 ~ 7.4, the 320 px logo down to ~43 px
PICTURE_LEVELS = 8
# A 19 px patch (ORB's default is 31) leaves more keypoints on a small logo; measured on emulator renders it
# finds logos at 4 % of a 2048 px picture's width where 31 px patches stop at about 6 %.
PATCH = 19
BORDER = 10
RATIO = 0.8  # Lowe's ratio test
# 20 agreeing matches: text and other logos in a picture gave up to 12 chance inliers in trials; real sightings
# at 4 % width gave 26 or more.
MIN_INLIERS = 20
RANSAC_PX = 5.0
MAX_DISTORTION = 1.5
EVIDENCE_EDGE = 1024
OUTLINE = (255, 0, 170)


@dataclass(frozen=True)
class LogoResult:
    passed: bool
    found: bool
    width_share: float  # 0.0 when not found
    min_width_share: float
    corners: tuple[tuple[int, int], ...]  # the logo's outline in picture pixels (4 corners), () when not found
    matches: int  # matches that agree with the homography (RANSAC inliers); 0 when there were too few to try

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "found": self.found,
            "width_share": round(self.width_share, 4),
            "min_width_share": round(self.min_width_share, 4),
            "corners": [list(corner) for corner in self.corners],
            "matches": self.matches,
        }


def _grey(image: Image.Image, *, edge: int, upscale: bool) -> tuple[np.ndarray, float, np.ndarray | None]:
    """8-bit grey array with its longer side at most ``edge`` (exactly ``edge`` when ``upscale``), the factor
    applied, and a mask of the opaque pixels when the image has transparency."""
    scale = edge / max(image.size)
    if scale < 1 or upscale:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX)
    else:
        scale = 1.0
    mask = None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        alpha = rgba.getchannel("A")
        # Transparent parts read as white (a logo is usually drawn on light): features stay on the drawn shape.
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=alpha)
        image = flat
        # Keypoints just outside the drawn shape still describe its edge: grow the mask a little.
        opaque = (np.asarray(alpha) >= 128).astype(np.uint8) * 255
        mask = cv2.dilate(opaque, np.ones((9, 9), np.uint8))
    return np.asarray(image.convert("L")), scale, mask


def _orb(features: int, levels: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=features, scaleFactor=1.2, nlevels=levels, edgeThreshold=BORDER, patchSize=PATCH)


def _plausible(corners: np.ndarray, logo_size: tuple[int, int]) -> bool:
    """A homography from a few lucky matches folds or smears the outline; a real sighting keeps its shape."""
    quad = corners.reshape(4, 2).astype(np.float64)
    if not cv2.isContourConvex(quad.astype(np.float32)):
        return False
    edges = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    if edges.min() < 4:
        return False
    width = (edges[0] + edges[2]) / 2
    height = (edges[1] + edges[3]) / 2
    found_aspect = width / height
    logo_aspect = logo_size[0] / logo_size[1]
    distortion = max(found_aspect / logo_aspect, logo_aspect / found_aspect)
    # Opposite sides of a logo seen nearly flat-on are about equally long.
    sides = max(edges[0] / edges[2], edges[2] / edges[0], edges[1] / edges[3], edges[3] / edges[1])
    return distortion <= MAX_DISTORTION and sides <= MAX_DISTORTION


def logo_check(image: Image.Image, *, logo: Image.Image, min_width_share: float) -> LogoResult:
    """Find ``logo`` in ``image``; passed when found with its width at least ``min_width_share`` of the picture's."""
    not_found = LogoResult(
        passed=False, found=False, width_share=0.0, min_width_share=float(min_width_share), corners=(), matches=0
    )
    logo_grey, _, logo_mask = _grey(logo, edge=LOGO_EDGE, upscale=True)
    picture_grey, picture_scale, _ = _grey(image, edge=SEARCH_EDGE, upscale=True)

    logo_points, logo_descriptors = _orb(FEATURES_LOGO, LOGO_LEVELS).detectAndCompute(logo_grey, logo_mask)
    picture_points, picture_descriptors = _orb(FEATURES_PICTURE, PICTURE_LEVELS).detectAndCompute(picture_grey, None)
    if logo_descriptors is None or picture_descriptors is None or len(picture_points) < 2:
        return not_found

    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = [
        pair[0]
        for pair in matcher.knnMatch(logo_descriptors, picture_descriptors, k=2)
        if len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance
    ]
    if len(good) < MIN_INLIERS:
        return not_found
    source = np.float32([logo_points[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    target = np.float32([picture_points[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    homography, inlier_mask = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PX)
    inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
    if homography is None or inliers < MIN_INLIERS:
        return replace(not_found, matches=inliers)
    h, w = logo_grey.shape
    outline = cv2.perspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]).reshape(-1, 1, 2), homography)
    if not _plausible(outline, (w, h)):
        return replace(not_found, matches=inliers)
    outline = outline.reshape(4, 2) / picture_scale  # back to the picture's own pixels
    xs = np.clip(outline[:, 0], 0, image.width)
    width_share = float((xs.max() - xs.min()) / image.width)
    corners = tuple((round(float(x)), round(float(y))) for x, y in outline)
    return LogoResult(
        passed=width_share >= min_width_share,
        found=True,
        width_share=width_share,
        min_width_share=float(min_width_share),
        corners=corners,
        matches=inliers,
    )


def logo_evidence_png(image: Image.Image, *, result: LogoResult) -> bytes:
    """The picture (longer side at most EVIDENCE_EDGE px) with the found logo's outline drawn on it."""
    picture = image.convert("RGB")
    scale = min(1.0, EVIDENCE_EDGE / max(picture.size))
    if scale < 1:
        picture = picture.resize(
            (max(1, round(picture.width * scale)), max(1, round(picture.height * scale))), Image.Resampling.BOX
        )
    if result.found and result.corners:
        draw = ImageDraw.Draw(picture)
        points = [(x * scale, y * scale) for x, y in result.corners]
        width = max(3, round(max(picture.size) / 200))
        draw.line([*points, points[0]], fill=(255, 255, 255), width=width + 4, joint="curve")
        draw.line([*points, points[0]], fill=OUTLINE, width=width, joint="curve")
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=6)
    return out.getvalue()
