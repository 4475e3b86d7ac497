#!/usr/bin/env bash
# Benchmark: drydock's wall time and peak memory on real images, against the
# time it takes merely to decompress the same layers to /dev/null, measured
# in the same run on the same machine.
#
#   scripts/bench.sh            debian12-app; a large image built with
#                               mmdebstrap (500+ packages, 1 GB+; needs root
#                               and Debian's package archive); and two
#                               generated images of many small files, node
#                               modules style: one layer of 1,000,000 files,
#                               and 3,000,000 files over four layers with
#                               whiteouts and overwrites (inventory only).
#                               Built images are cached.
#   scripts/bench.sh --quick    debian12-app only
#
# Environment: BENCH_CACHE (default ~/.cache/drydock-bench) keeps the built
# images; BENCH_RUNS (default 3) runs per measurement, the median is shown;
# BENCH_BASELINE, the path of another drydock binary, adds its rows (marked
# "base") measured in the same run, for before/after comparisons;
# CORPUS (default ../shared/corpus), VULNDATA (default ../shared/vulndata).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[ "${1:-}" = "--quick" ] && quick=true
runs=${BENCH_RUNS:-3}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/drydock-bench}
corpus=${CORPUS:-../shared/corpus}
vulndata=${VULNDATA:-../shared/vulndata}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

need() { command -v "$1" >/dev/null || { echo "bench: needs $1" >&2; exit 2; }; }
need jq; need gzip; need zstd; [ -x /usr/bin/time ] || { echo "bench: needs GNU time (Debian package time)" >&2; exit 2; }

echo "building drydock" >&2
go build -trimpath -o "$work/drydock" ./cmd/drydock
go build -o "$work/mkimage" ./scripts/bench/mkimage

db="$work/drydock.db"
echo "importing $vulndata into a fresh database" >&2
/usr/bin/time -o "$work/time" -f '%e' "$work/drydock" db import -q --db-path "$db" "$vulndata/osv-mirror" "$vulndata" >/dev/null
import_s=$(tail -1 "$work/time")

images=("debian12-app=$corpus/debian12-app/oci")
# Images measured for the inventory only (no vulnerability matching).
inv_only=" "
if ! $quick; then
  large="$cache/debian12-large/oci"
  if [ ! -f "$large/index.json" ]; then
    need mmdebstrap
    echo "building the large image with mmdebstrap (once; cached in $cache)" >&2
    mmdebstrap --mode=root --variant=standard \
      --include=build-essential,default-jdk-headless,python3-full,python3-numpy,git,golang-go,nodejs,npm,vim,curl,openssl \
      bookworm "$cache/large-rootfs.tar" http://deb.debian.org/debian >&2
    "$work/mkimage" -layers 4 "$cache/large-rootfs.tar" "$large"
    rm -f "$cache/large-rootfs.tar"
  fi
  images+=("debian12-large=$large")
  # Generated images: the directory name carries the generator's version
  # (bump it when scripts/bench/mkimage/generate.go changes what it writes).
  for spec in "files-1m=1000000:1" "files-3m=3000000:4"; do
    name=${spec%%=*}; n=${spec#*=}
    out="$cache/gen1-$name/oci"
    if [ ! -f "$out/index.json" ]; then
      echo "generating $name (${n%%:*} entries, ${n#*:} layers; once, cached in $cache)" >&2
      "$work/mkimage" -generate "${n%%:*}" -layers "${n#*:}" "$out"
    fi
    images+=("$name=$out")
    inv_only+="$name "
  done
fi
baseline=${BENCH_BASELINE:-}
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "bench: BENCH_BASELINE=$baseline is not an executable" >&2; exit 2; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# layers LAYOUT: print "mediaType blob-path" for each layer of the layout's
# first image (following one nested index, as multi-platform layouts have).
layers() {
  local layout=$1 digest doc
  digest=$(jq -r '.manifests[0].digest' "$layout/index.json")
  doc="$layout/blobs/sha256/${digest#sha256:}"
  if jq -e '.manifests' "$doc" >/dev/null; then
    digest=$(jq -r '.manifests[0].digest' "$doc")
    doc="$layout/blobs/sha256/${digest#sha256:}"
  fi
  jq -r '.layers[] | "\(.mediaType) \(.digest)"' "$doc" | while read -r media d; do
    echo "$media $layout/blobs/sha256/${d#sha256:}"
  done
}

# decompress LAYOUT: decompress every layer to stdout, one after another.
decompress() {
  local media blob
  layers "$1" | while read -r media blob; do
    case "$media" in
      *zstd) zstd -dc <"$blob" ;;
      *gzip) gzip -dc <"$blob" ;;
      *) cat <"$blob" ;;
    esac
  done
}

# measure NAME CMD...: run the command $runs times; print "median_wall median_peak_kib"
measure() {
  local walls=() peaks=() i out
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -o "$work/time" -f '%e %M' "$@" >/dev/null 2>"$work/stderr" || { echo "bench: $* failed:" >&2; cat "$work/stderr" >&2; exit 2; }
    out=$(tail -1 "$work/time")
    walls+=("${out% *}"); peaks+=("${out#* }")
  done
  echo "$(printf '%s\n' "${walls[@]}" | median) $(printf '%s\n' "${peaks[@]}" | median)"
}

# row NAME BINARY LAYOUT BYTES FLOOR: measure one binary on one image and
# print its row.
row() {
  local name=$1 bin=$2 layout=$3 bytes=$4 floor=$5 inv inv_kib vuln=- vuln_kib=-
  read -r inv inv_kib < <(measure "$bin" image "$layout" --scanners none -q -o json=/dev/null)
  if [[ $inv_only != *" ${name%% *} "* ]]; then
    read -r vuln vuln_kib < <(measure "$bin" image "$layout" --offline --db-path "$db" -q -o json=/dev/null)
  fi
  awk -v n="$name" -v b="$bytes" -v f="$floor" -v i="$inv" -v im="$inv_kib" -v v="$vuln" -v vm="$vuln_kib" 'BEGIN {
    printf "%-21s %9.0f %9.2f %8.2f %9.2fx %8.0f ", n, b/1e6, f, i, i/f, im/1024
    if (v == "-") printf "%8s %10s %8s %8s\n", "-", "-", "-", "-"
    else printf "%8.2f %9.2fx %8.0f %7.0f%%\n", v, v/f, vm/1024, (v-i)/i*100 }'
}

export -f decompress layers
printf '\n%-21s %9s %9s %8s %10s %8s %8s %10s %8s %8s\n' image uncomp_MB floor_s inv_s inv/floor inv_MB vuln_s vuln/floor vuln_MB match+
for entry in "${images[@]}"; do
  name=${entry%%=*}; layout=${entry#*=}
  [ -f "$layout/index.json" ] || { echo "bench: no OCI layout at $layout" >&2; exit 2; }
  bytes=$(decompress "$layout" | wc -c)
  read -r floor _ < <(measure bash -c "decompress '$layout' >/dev/null")
  row "$name" "$work/drydock" "$layout" "$bytes" "$floor"
  if [ -n "$baseline" ]; then
    row "$name (base)" "$baseline" "$layout" "$bytes" "$floor"
  fi
done
size=$(stat -c %s "$db")
echo
echo "vulnerability database: import of $vulndata ${import_s}s, file $(awk -v s="$size" 'BEGIN {printf "%.1f MiB", s/1048576}')"
echo "floor: gzip -dc/zstd -dc of every layer, one after another; inv: drydock --scanners none; vuln: drydock with matching (warm DB; - : inventory only)"
echo "goals: inv/floor <= 1.5, peak memory < 250 MB, match+ < 20%"
