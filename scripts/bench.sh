#!/usr/bin/env bash
# Benchmark: drydock's wall time and peak memory on real images, against the
# time it takes merely to decompress the same layers to /dev/null, measured
# in the same run on the same machine; warm rescans from the layer cache,
# each run in turn with its cold scan; and an image that shares the large
# image's base layers scanned with only the base in the cache.
#
#   scripts/bench.sh            debian12-app; a large image built with
#                               mmdebstrap (500+ packages, 1 GB+; needs root
#                               and Debian's package archive); the
#                               shared-base image built from it; and two
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
# Decimal points in $EPOCHREALTIME and awk, whatever the locale.
export LC_NUMERIC=C

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
# As README builds it: static (a cgo build starts through the dynamic
# loader and libc, ~15 ms more of every warm rescan).
CGO_ENABLED=0 go build -trimpath -o "$work/drydock" ./cmd/drydock
go build -o "$work/mkimage" ./scripts/bench/mkimage
# A new executable's first command reads it again into huge pages of the
# page cache (internal/hugetext), as an installed drydock's first run does;
# every figure below is of the commands after that one.
"$work/drydock" version >/dev/null

db="$work/drydock.db"
echo "importing $vulndata into a fresh database" >&2
/usr/bin/time -o "$work/time" -f '%e' "$work/drydock" db import -q --db-path "$db" "$vulndata/osv-mirror" "$vulndata" >/dev/null
import_s=$(tail -1 "$work/time")

images=("debian12-app=$corpus/debian12-app/oci")
# Images measured for the inventory only (no vulnerability matching, no
# other scanners, no warm rescan).
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
  # The large image plus one new top layer (an application: a lock file and
  # 16 MiB of data), its base layers' blobs unchanged, as a rebuild is.
  derived="$cache/debian12-large-app/oci"
  if [ ! -f "$derived/index.json" ]; then
    echo "building the shared-base image from the large one (once; cached in $cache)" >&2
    mkdir -p "$work/app/app"
    cp internal/analyze/npm/testdata/lock/npm-v3/package-lock.json "$work/app/app/"
    head -c 16777216 /dev/urandom >"$work/app/app/data.bin"
    tar -C "$work/app" -cf "$work/app.tar" app
    "$work/mkimage" -base "$large" "$work/app.tar" "$derived"
  fi
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
[ -z "$baseline" ] || "$baseline" version >/dev/null

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

# once CMD...: run the command once bare, timed to the microsecond by the
# shell (GNU time's %e counts in 10 ms steps, a fifth of a warm rescan, and
# starting GNU time itself adds ~5 ms), then once under GNU time for its
# peak memory and CPU (user + system seconds, which other load on the
# machine disturbs far less than wall time); print "wall peak_kib cpu".
once() {
  local p u sy t0 t1
  t0=$EPOCHREALTIME
  "$@" >/dev/null 2>"$work/stderr" || { echo "bench: $* failed:" >&2; cat "$work/stderr" >&2; exit 2; }
  t1=$EPOCHREALTIME
  /usr/bin/time -o "$work/time" -f '%M %U %S' "$@" >/dev/null 2>"$work/stderr" || { echo "bench: $* failed:" >&2; cat "$work/stderr" >&2; exit 2; }
  read -r p u sy < <(tail -1 "$work/time")
  awk -v a="$t0" -v b="$t1" -v p="$p" -v u="$u" -v s="$sy" 'BEGIN {printf "%.3f %s %s\n", b - a, p, u + s}'
}

# medians: read "wall peak cpu" lines, print the median of each column.
medians() {
  local lines
  lines=$(cat)
  echo "$(cut -d' ' -f1 <<<"$lines" | median) $(cut -d' ' -f2 <<<"$lines" | median) $(cut -d' ' -f3 <<<"$lines" | median)"
}

# measure CMD...: run the command $runs times; print "median_wall
# median_peak_kib median_cpu".
measure() {
  local i
  for ((i = 0; i < runs; i++)); do once "$@"; done | medians
}

# measure_pair CMD_A... -- CMD_B...: measure two commands as measure does,
# alternating them run by run, so that both medians come from the same
# stretch of time (this machine's speed drifts by tens of percent within
# minutes, which would otherwise move a warm/cold ratio by itself); print
# "median_wall median_peak_kib median_cpu" of A, then of B.
# Its callers read it through a process substitution, which the shell does
# not wait for: the next call may start before this one has ended, so each
# call has files of its own and removes them before it prints.
measure_pair() {
  local a=() b=() x i seen=false fa fb out
  for x in "$@"; do
    if ! $seen && [ "$x" = "--" ]; then seen=true; continue; fi
    if $seen; then b+=("$x"); else a+=("$x"); fi
  done
  fa=$(mktemp -p "$work" pair-a.XXXXXX)
  fb=$(mktemp -p "$work" pair-b.XXXXXX)
  for ((i = 0; i < runs; i++)); do
    once "${a[@]}" >>"$fa"
    once "${b[@]}" >>"$fb"
  done
  out="$(medians <"$fa") $(medians <"$fb")"
  rm -f "$fa" "$fb"
  echo "$out"
}

# row NAME BINARY LAYOUT BYTES FLOOR: measure one binary on one image and
# print its row; for the main binary also the warm rescans (kept in $warm),
# each measured alternately with its cold scan.
row() {
  local name=$1 bin=$2 layout=$3 bytes=$4 floor=$5 inv inv_kib inv_cpu vuln=- vuln_kib=- vuln_cpu all=- all_kib=- all_cpu
  local cold_inv=("$bin" image "$layout" --no-cache --scanners none -q -o json=/dev/null)
  local cold_vuln=("$bin" image "$layout" --no-cache --scanners vuln --offline --db-path "$db" -q -o json=/dev/null)
  if [[ $inv_only == *" ${name%% *} "* ]]; then
    read -r inv inv_kib inv_cpu < <(measure "${cold_inv[@]}")
  elif [ "$bin" = "$work/drydock" ]; then
    # Warm: the layer cache holds every layer (filled by one scan first).
    local lc="$work/cache-$name" winv winv_cpu wvuln wvuln_cpu
    "$bin" image "$layout" --cache-dir "$lc" --scanners none -q -o json=/dev/null
    read -r inv inv_kib inv_cpu winv _ winv_cpu < <(measure_pair "${cold_inv[@]}" -- "$bin" image "$layout" --cache-dir "$lc" --scanners none -q -o json=/dev/null)
    read -r vuln vuln_kib vuln_cpu wvuln _ wvuln_cpu < <(measure_pair "${cold_vuln[@]}" -- "$bin" image "$layout" --cache-dir "$lc" --scanners vuln --offline --db-path "$db" -q -o json=/dev/null)
    read -r all all_kib all_cpu < <(measure "$bin" image "$layout" --no-cache --scanners vuln,secret,config --offline --db-path "$db" -q -o json=/dev/null)
    warm+=("$name $inv $winv $vuln $wvuln $inv_cpu $winv_cpu $vuln_cpu $wvuln_cpu")
  else
    read -r inv inv_kib inv_cpu < <(measure "${cold_inv[@]}")
    read -r vuln vuln_kib vuln_cpu < <(measure "${cold_vuln[@]}")
    read -r all all_kib all_cpu < <(measure "$bin" image "$layout" --no-cache --scanners vuln,secret,config --offline --db-path "$db" -q -o json=/dev/null)
  fi
  awk -v n="$name" -v b="$bytes" -v f="$floor" -v i="$inv" -v im="$inv_kib" -v v="$vuln" -v vm="$vuln_kib" -v a="$all" -v am="$all_kib" 'BEGIN {
    printf "%-21s %9.0f %9.2f %8.2f %9.2fx %8.0f ", n, b/1e6, f, i, i/f, im/1024
    if (v == "-") printf "%8s %10s %8s %8s %8s %8s %8s\n", "-", "-", "-", "-", "-", "-", "-"
    else printf "%8.2f %9.2fx %8.0f %7.0f%% %8.2f %8.0f %7.0f%%\n", v, v/f, vm/1024, (v-i)/i*100, a, am/1024, (a-v)/v*100 }'
}

export -f decompress layers
warm=()
printf '\n%-21s %9s %9s %8s %10s %8s %8s %10s %8s %8s %8s %8s %8s\n' image uncomp_MB floor_s inv_s inv/floor inv_MB vuln_s vuln/floor vuln_MB match+ all_s all_MB kinds+
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
echo "floor: gzip -dc/zstd -dc of every layer, one after another; inv: drydock --scanners none; vuln: --scanners vuln (warm DB; - : inventory only);"
echo "all: --scanners vuln,secret,config (secrets in every file of every layer, config, history and file checks); kinds+: all over vuln"
echo "goals: inv/floor <= 1.5, peak memory < 250 MB, match+ < 20%, kinds+ <= 25%"

echo
echo "warm rescans: every layer in the layer cache (--cache-dir), against the cold scans above (--no-cache), run alternately with them"
printf '%-16s %8s %10s %9s %8s %11s %9s   %-22s %-22s\n' image inv_s warm_inv_s warm/cold vuln_s warm_vuln_s warm/cold "cpu_s inv: warm/cold" "cpu_s vuln: warm/cold"
for w in "${warm[@]}"; do
  read -r name inv winv vuln wvuln ic wic vc wvc <<<"$w"
  awk -v n="$name" -v i="$inv" -v wi="$winv" -v v="$vuln" -v wv="$wvuln" -v ic="$ic" -v wic="$wic" -v vc="$vc" -v wvc="$wvc" 'BEGIN {
    printf "%-16s %8.3f %10.3f %8.3fx %8.3f %11.3f %8.3fx   %5.2f/%-5.2f %8.3fx   %5.2f/%-5.2f %8.3fx\n",
      n, i, wi, wi/i, v, wv, wv/v, wic, ic, wic/ic, wvc, vc, wvc/vc }'
done
echo "goal: warm/cold <= 0.1 (wall time; the cpu columns are user+system seconds)"

if ! $quick; then
  # The shared-base image: cold, then with only the large image's layers
  # in the cache (a copy of that cache for every run, so the new layer is
  # always a miss).
  echo
  base_cache="$work/cache-debian12-large"
  read -r dcold _ dcold_cpu < <(measure "$work/drydock" image "$derived" --no-cache --scanners none -q -o json=/dev/null)
  read -r dbase _ dbase_cpu < <(measure bash -c "rm -rf '$work/cache-run' && cp -r '$base_cache' '$work/cache-run' && exec '$work/drydock' image '$derived' --cache-dir '$work/cache-run' --scanners none -q -o json=/dev/null")
  rm -rf "$work/cache-run" && cp -r "$base_cache" "$work/cache-run"
  "$work/drydock" image "$derived" --cache-dir "$work/cache-run" --scanners none -q -o json="$work/derived.json"
  read -r hits misses < <(jq -r '"\(.scan.cache.hits) \(.scan.cache.misses)"' "$work/derived.json")
  echo "shared base: debian12-large-app (debian12-large + one new layer) with only debian12-large's layers cached"
  awk -v h="$hits" -v m="$misses" -v c="$dcold" -v b="$dbase" -v cc="$dcold_cpu" -v bc="$dbase_cpu" 'BEGIN {
    printf "  layers analysed %d, reused %d; cold %.2f s, base cached %.2f s (%.3fx its cold time); cpu %.2f s vs %.2f s (%.3fx)\n",
      m, h, c, b, b/c, cc, bc, bc/cc }'
fi
