"""Hand-off export of N stored files (originals and placement renditions): time and peak memory, flat in N.

    .venv/bin/python bench/exports.py              # 48 and 192 files (12 and 48 versions, 1 original + 3 placements)
    .venv/bin/python bench/exports.py --smoke      # 8 and 32 small files: the path, not a figure

A database of its own (the bench stack), local storage. Blobs are incompressible bytes of realistic sizes (an
original of 2 MB, placement cuts of 300 KB: what JPEG/WebP/PNG files are to a zip), stored through the library's
services. For each size the same files are packed three ways, in this process:

- baseline: a plain streaming copy of the files into a zip (read in 1 MiB chunks, written stored): the I/O any
  export must do, no database, no checks, no manifest;
- export: `export_create` + `export_build`, the task's work (selection, per-file sha256 check, progress row
  per file, manifest, upload of the zip to storage);
- in memory: every blob read whole into a zip in a BytesIO, the approach streaming avoids (memory only).

Time is the best of `--repeat` runs without tracing; peak memory is tracemalloc's peak of Python allocations
over one more traced run, and the process's peak RSS growth (VmHWM, reset before each run). The target: the
export's traced peak at the largest size is under 1.5x the smallest's (flat in the number of files).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/exports.py`

from bench.figures import MISSED_TARGET, header, table, verdict  # noqa: E402
from bench.stack import Stack, run_main  # noqa: E402

PLACEMENTS = ("pdp-square", "hero-wide", "story-tall")
FLAT_TARGET = 1.5  # largest size's export peak / smallest size's
CHUNK = 1024 * 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", default="48,192", help="comma-separated file counts (multiples of 4)")
    parser.add_argument("--original-kb", type=int, default=2048)
    parser.add_argument("--rendition-kb", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per measurement (the best is shown)")
    parser.add_argument("--smoke", action="store_true", help="8 and 32 small files, one run each")
    args = parser.parse_args()
    if args.smoke:
        args.files, args.original_kb, args.rendition_kb, args.repeat = "8,32", 64, 16, 1
    args.sizes = sorted(int(n) for n in args.files.split(","))
    if any(n % 4 for n in args.sizes):
        parser.error("--files: multiples of 4 (each version is an original and 3 placement cuts)")
    return args


def seed(tenant, *, versions: int, original_kb: int, rendition_kb: int) -> list[int]:
    """`versions` approved versions in 4 markets, each with an original and one rendition per placement."""
    from dam.blobs import blob_put
    from dam.lifecycle import VersionStatus
    from dam.models import AssetVersion
    from dam.services.assets import asset_create, asset_version_create, rendition_create

    ids = []
    markets = ("de-DE", "fr-FR", "ja-JP", "en-GB")
    # Stored through the services, without queueing the rendition task (no worker runs here).
    with mock.patch("dam.services.assets.renditions_up_front_enqueue"):
        for index in range(versions):
            market = markets[index % len(markets)]
            asset = asset_create(
                tenant=tenant,
                title=f"Summer / creative {index} / {market}",
                source="generated",
                locale=market,
                campaign_id=1,
                creative=f"creative-{index}",
                placements=PLACEMENTS,
            )
            data = os.urandom(original_kb * 1024)
            blob = blob_put(tenant_id=tenant.pk, kind="originals", data=data, image_format="png")
            version = asset_version_create(
                asset=asset, blob=blob, width=2048, height=2048, image_format="png", new_asset=True
            )
            for slug in PLACEMENTS:
                cut = blob_put(
                    tenant_id=tenant.pk, kind="renditions", data=os.urandom(rendition_kb * 1024), image_format="jpeg"
                )
                rendition_create(
                    version=version,
                    spec=f"placement:{slug}",
                    blob=cut,
                    width=1200,
                    height=1200,
                    image_format="jpeg",
                    placement_slug=slug,
                )
            ids.append(version.pk)
    AssetVersion.objects.for_tenant(tenant).filter(pk__in=ids).update(status=VersionStatus.APPROVED)
    return ids


def stored_keys(tenant, version_ids: list[int]) -> list[str]:
    from dam.models import AssetVersion, Rendition

    versions = AssetVersion.objects.for_tenant(tenant).filter(pk__in=version_ids)
    renditions = Rendition.objects.for_tenant(tenant).filter(version_id__in=version_ids)
    return [*versions.values_list("storage_key", flat=True), *renditions.values_list("storage_key", flat=True)]


def baseline_copy(keys: list[str]) -> None:
    import tempfile

    from django.core.files.storage import default_storage

    with tempfile.TemporaryFile() as spool, zipfile.ZipFile(spool, "w") as archive:
        for number, key in enumerate(keys):
            with default_storage.open(key, "rb") as handle, archive.open(f"{number}.bin", "w", force_zip64=True) as out:
                while chunk := handle.read(CHUNK):
                    out.write(chunk)


def in_memory_zip(keys: list[str]) -> None:
    from dam.blobs import blob_read

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number, key in enumerate(keys):
            archive.writestr(f"{number}.bin", blob_read(key))


def export_run(tenant, version_ids: list[int]) -> Callable[[], None]:
    from dam.services import exports

    def run() -> None:
        with mock.patch.object(exports, "export_build_enqueue"):
            export = exports.export_create(tenant=tenant, selection={"version_ids": version_ids})
        state = exports.export_build(export_id=export.pk)
        if state != "done":
            raise RuntimeError(f"export {export.pk} ended {state}")

    return run


def _rss_reset() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux 4.0+)


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(action: Callable[[], None], repeat: int, *, timed: bool = True) -> tuple[float, float, float]:
    """(best seconds, traced peak MB, peak RSS growth MB)."""
    best = float("nan")
    if timed:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            action()
            timings.append(time.perf_counter() - started)
        best = min(timings)
    _rss_reset()
    rss_before = _rss_kb("VmRSS")
    tracemalloc.start()
    try:
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = max(0, _rss_kb("VmHWM") - rss_before)
    return best, peak / 1e6, rss_growth / 1024


def main() -> int:
    args = parse_args()
    with Stack("exports") as stack:
        stack.prepare_data_stores()
        stack.setup_django()
        from tenants.services import tenant_create

        header(
            "hand-off export: time and peak memory by number of files",
            {
                "files": ", ".join(map(str, args.sizes)) + " (per version: 1 original + 3 placement cuts)",
                "file sizes": f"original {args.original_kb} KB, placement cut {args.rendition_kb} KB",
                "storage": "local (FileSystemStorage), a temporary zip, then storage",
                "timing": f"best of {args.repeat}; memory: one more run under tracemalloc",
            },
        )
        rows, peaks = [], {}
        for files in args.sizes:
            tenant = tenant_create(slug=f"bench-export-{files}", name=f"Bench {files}")
            version_ids = seed(
                tenant, versions=files // 4, original_kb=args.original_kb, rendition_kb=args.rendition_kb
            )
            keys = stored_keys(tenant, version_ids)
            total_mb = sum(args.original_kb + 3 * args.rendition_kb for _ in version_ids) / 1024
            base_s, base_peak, base_rss = measure(lambda keys=keys: baseline_copy(keys), args.repeat)
            export_s, export_peak, export_rss = measure(export_run(tenant, version_ids), args.repeat)
            _, memory_peak, memory_rss = measure(lambda keys=keys: in_memory_zip(keys), 1, timed=False)
            peaks[files] = export_peak
            rows.append(
                (
                    files,
                    f"{total_mb:.1f} MB",
                    f"{base_s:.2f} s",
                    f"{export_s:.2f} s",
                    f"{export_s / base_s:.2f}x",
                    f"{base_peak:.1f} / {base_rss:.0f} MB",
                    f"{export_peak:.1f} / {export_rss:.0f} MB",
                    f"{memory_peak:.1f} / {memory_rss:.0f} MB",
                )
            )
        print()
        table(
            rows,
            heading=(
                "files",
                "bytes",
                "baseline: copy",
                "export",
                "export/copy",
                "copy peak (traced / RSS)",
                "export peak (traced / RSS)",
                "zip in memory peak",
            ),
        )
        smallest, largest = args.sizes[0], args.sizes[-1]
        ratio = peaks[largest] / peaks[smallest]
        print(
            f"\n   export peak memory at {largest} files is {ratio:.2f}x the peak at {smallest} files "
            f"({peaks[largest]:.1f} MB vs {peaks[smallest]:.1f} MB traced)"
        )
        met = verdict(
            f"peak ratio {largest}/{smallest} files", ratio, target=FLAT_TARGET, higher_is_better=False, unit="x"
        )
    # A smoke run's figures mean nothing (tiny files): it shows the path works and judges no target.
    return 0 if met or args.smoke else MISSED_TARGET


if __name__ == "__main__":
    run_main(main)
