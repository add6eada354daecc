#!/usr/bin/env bash
# bench-ingest.sh: the Bitcoin ingest of two commits, measured side by side.
#
#   scripts/bench-ingest.sh [-r ROUNDS] [-n TRANSFERS] [-c] [-m] BASE [HEAD]
#
# Builds the ingest test binary and the spoor binary of BASE and HEAD (any
# git revision; HEAD defaults to the work tree as it is, uncommitted changes
# included), then runs ROUNDS rounds (default 3), alternating the two in
# every round (the machine is shared and noisy: interleaving spreads the
# noise over both), of
#   - BenchmarkIngestVsWire/synthetic -benchtime 2x (btcd's wire decoding the
#     blocks and spoor's whole ingest, the store's close included, in one
#     process: the ratios are against that process's own wire), and
#   - with -c, `spoor ingest btc --blocks` of the same chain under
#     /usr/bin/time (wall, user, system CPU, peak RSS, minor faults);
#   - with -m, the benchmark's mainnet set (blocks 0–14,131) too.
# It prints each metric's median per binary, all runs, and HEAD/BASE.
# The synthetic chain of TRANSFERS transfers (default 10^6) is built once
# into $TMPDIR (see internal/ingest/synth_test.go).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 transfers=1000000 cli=0 sets=synthetic
while getopts 'r:n:cm' o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) transfers=$OPTARG ;;
	c) cli=1 ;;
	m) sets='synthetic|mainnet' ;;
	*) sed -n '2,/^set/p' "$0" | sed 's/^# \{0,1\}//;/^set/d' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-r ROUNDS] [-n TRANSFERS] [-c] [-m] BASE [HEAD]" >&2; exit 2; }
base=$1 head=${2:-}
[ -x /usr/bin/time ] || [ "$cli" = 0 ] || { echo "bench-ingest: -c needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-ingest.XXXXXX")
trap 'for d in "$work"/src-*; do [ -d "$d" ] && git worktree remove --force "$d"; done; rm -rf "$work"' EXIT

# build NAME REV: binaries $work/NAME.test and $work/NAME.spoor from REV
# (the work tree when REV is empty).
build() {
	local name=$1 rev=$2 src=.
	if [ -n "$rev" ]; then
		src=$work/src-$name
		git worktree add --quiet --detach "$src" "$rev"
	fi
	(cd "$src" && go test -c -o "$work/$name.test" ./internal/ingest && go build -o "$work/$name.spoor" ./cmd/spoor)
	echo "built $name from ${rev:-the work tree} ($(git rev-parse --short "${rev:-HEAD}"))" >&2
}
build base "$base"
build head "$head"

chain=${TMPDIR:-/tmp}/spoor-synth-v2-$transfers.dat
if [ ! -s "$chain" ]; then
	(cd internal/ingest && SPOOR_SYNTH_BUILD=$transfers "$work/head.test" -test.run TestBuildSynthChain >&2)
fi

out=$work/runs
: >"$out"
for r in $(seq "$rounds"); do
	for name in base head; do
		(cd internal/ingest && SPOOR_BENCH_TRANSFERS=$transfers "$work/$name.test" -test.run '^$' \
			-test.bench "IngestVsWire/($sets)" -test.benchtime 2x) |
			awk -v n="$name" '/^BenchmarkIngestVsWire/ {
				set = $1; sub(/^BenchmarkIngestVsWire\//, "", set); sub(/-[0-9]+$/, "", set); sub(/-.*/, "", set)
				for (i = 3; i < NF; i += 2) print n, set ":" $(i+1), $i }' >>"$out"
		if [ "$cli" = 1 ]; then
			rm -rf "$work/data"
			/usr/bin/time -o "$work/time" -f '%e %U %S %M %R' "$work/$name.spoor" --data "$work/data" \
				ingest btc --blocks "$chain" >/dev/null 2>&1
			read -r e u s m f <"$work/time"
			printf '%s cli-wall-s %s\n%s cli-user-s %s\n%s cli-sys-s %s\n%s cli-peak-rss-MB %s\n%s cli-minor-faults %s\n' \
				"$name" "$e" "$name" "$u" "$name" "$s" "$name" "$((m / 1024))" "$name" "$f" >>"$out"
		fi
	done
	echo "round $r of $rounds done" >&2
done

# Medians per binary and metric, every run, and head/base.
sort -k2,2 -k1,1 -k3,3g "$out" | awk '
	function flush() {
		if (key == "") return
		m = (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
		med[key] = m; runs[key] = all
	}
	{ k = $2 " " $1; if (k != key) { flush(); key = k; cnt = 0; all = "" }
	  v[++cnt] = $3; all = all (all == "" ? "" : " ") $3 }
	END {
		flush()
		for (k in med) {
			split(k, p, " ")
			if (p[2] != "base") continue
			m = p[1]; b = med[m " base"]; h = med[m " head"]
			printf "%-28s %14.4g %14.4g %8.3f   %s | %s\n", m, b, h, (b != 0 ? h / b : 0), runs[m " base"], runs[m " head"]
		}
	}' | sort | { printf '%-28s %14s %14s %8s   %s\n' metric 'base median' 'head median' head/base 'runs (base | head)'; cat; }
