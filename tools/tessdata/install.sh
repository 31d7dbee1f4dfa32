#!/usr/bin/env bash
# Builds the project's Tesseract data directory (default: .tessdata/ at the repository root) that
# dam/checks/ocr.py reads: Debian's tesseract-ocr-* packs, symlinked, plus Tesseract's
# tessdata_best_int model of each language this folder's package.json pins (npm packages
# @tesseract.js-data/<lang>, installed by scripts/bootstrap.sh with npm ci), unpacked as
# <lang>_best.traineddata beside Debian's <lang>.traineddata. How each language set uses them (instead
# of Debian's model, or with it) is dam/checks/ocr.py's WITH_BEST_INT, measured with
# bench/ocr_accuracy.py (docs/checks-accuracy.md). Nothing is downloaded here. The directory is built
# beside the target and renamed into place, so a reader never sees it half-built.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target=${1:-$here/../../.tessdata}
system=""
for candidate in /usr/share/tesseract-ocr/5/tessdata /usr/share/tesseract-ocr/4.00/tessdata; do
  if [ -e "$candidate/eng.traineddata" ]; then system=$candidate; break; fi
done
if [ -z "$system" ]; then
  echo "tools/tessdata/install.sh: no Debian tessdata (install tesseract-ocr-*)" >&2
  exit 1
fi
models="$here/node_modules/@tesseract.js-data"
if [ ! -d "$models" ]; then
  echo "tools/tessdata/install.sh: run npm ci --prefix tools/tessdata first" >&2
  exit 1
fi
target=$(realpath -m "$target")
building="$target.building.$$"
rm -rf "$building"
mkdir -p "$building"
for entry in "$system"/*; do
  ln -s "$entry" "$building/$(basename "$entry")"
done
count=0
for packed in "$models"/*/4.0.0_best_int/*.traineddata.gz; do
  lang=$(basename "$packed" .traineddata.gz)
  gunzip -c "$packed" > "$building/${lang}_best.traineddata"
  count=$((count + 1))
done
if [ "$count" -eq 0 ]; then
  echo "tools/tessdata/install.sh: no best_int model in $models" >&2
  rm -rf "$building"
  exit 1
fi
cat "$here/package-lock.json" "$here/apt-packages.txt" > "$building/.installed"
rm -rf "$target.old"
if [ -e "$target" ]; then mv "$target" "$target.old"; fi
mv "$building" "$target"
rm -rf "$target.old"
echo "tools/tessdata/install.sh: $target: $count best_int models, the rest linked from $system"
