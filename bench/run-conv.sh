#!/bin/sh
# Conv benchmark driver: libmia (bench-conv, onednn backend) against PyTorch (conv_peer.py) on
# conv 3x3 64->64, N=64, 32x32, pad 1, forward + backward-data + backward-weights at 2 threads.
# Runs A B A B ... (PASSES pairs), reads /proc/stat around every run to flag passes where other
# processes took more than 10% of the machine, and prints a table of the combined (fwd + both
# bwd) GFLOP/s per pass plus medians over the clean passes. Installs python3-torch if missing.
#   bench/run-conv.sh [path/to/bench-conv]      (env: PASSES=5 THREADS=2 TRIALS=7)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-}
if [ -z "$bench" ]; then
  for b in "$here"/../build*/bench/bench-conv; do [ -x "$b" ] && bench=$b && break; done
fi
[ -n "$bench" ] && [ -x "$bench" ] || { echo "run-conv.sh: bench-conv not found (pass its path)" >&2; exit 2; }
PASSES=${PASSES:-5}
THREADS=${THREADS:-2}
TRIALS=${TRIALS:-7}
PY=/usr/bin/python3
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "run-conv.sh: installing python3-torch" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y python3-torch >&2; else sudo apt-get install -y python3-torch >&2; fi
fi
ncpu=$(getconf _NPROCESSORS_ONLN)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# busy and total jiffies of the whole machine
stat_now() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; print b, t}' /proc/stat; }

# run_one NAME CMD...: runs CMD, writes its output to $tmp/NAME.out and prints
# "<other-load fraction>" = (machine busy jiffies - this command's CPU jiffies) / total jiffies
run_one() {
  name=$1; shift
  set -- $(stat_now) "$@"; b0=$1; t0=$2; shift 2
  /usr/bin/env time -f '%U %S' -o "$tmp/$name.time" "$@" >"$tmp/$name.out"
  set -- $(stat_now); b1=$1; t1=$2
  hz=$(getconf CLK_TCK)
  awk -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
      '{own=($1+$2)*hz; tot=t1-t0; o=(b1-b0-own)/(tot>0?tot:1); if (o<0) o=0; printf "%.3f\n", o}' "$tmp/$name.time"
}

get() { sed -n "s/^$1=//p" "$2" | head -n1; }

printf '%-6s %14s %14s %8s  %s\n' pass "libmia GF/s" "PyTorch GF/s" ratio note
: >"$tmp/clean"
i=1
while [ "$i" -le "$PASSES" ]; do
  la=$(run_one a "$bench" --threads "$THREADS" --trials "$TRIALS")
  lb=$(run_one b "$PY" "$here/conv_peer.py" --threads "$THREADS" --trials "$TRIALS")
  ga=$(get total_gflops "$tmp/a.out"); gb=$(get best_total_gflops "$tmp/b.out")
  note=clean
  if awk -v a="$la" -v b="$lb" 'BEGIN{exit !(a>0.10 || b>0.10)}'; then note="contaminated (other load $la / $lb)"; fi
  ratio=$(awk -v a="$ga" -v b="$gb" 'BEGIN{printf "%.3f", a/b}')
  printf '%-6s %14s %14s %8s  %s\n' "$i" "$ga" "$gb" "$ratio" "$note"
  if [ "$note" = clean ]; then
    echo "$ga $gb $(get fwd_gflops "$tmp/a.out") $(get bwd_data_gflops "$tmp/a.out") $(get bwd_weights_gflops "$tmp/a.out") $(get best_fwd_gflops "$tmp/b.out") $(get best_bwd_data_gflops "$tmp/b.out") $(get best_bwd_weights_gflops "$tmp/b.out")" >>"$tmp/clean"
  fi
  i=$((i + 1))
done
grep -h '^torch_mode' "$tmp/b.out" | sed 's/^/# PyTorch last pass: /' || true
n=$(wc -l <"$tmp/clean")
if [ "$n" -eq 0 ]; then echo "no clean pass: rerun when the machine is quiet"; exit 1; fi
med() { sort -g | awk '{v[NR]=$1} END{if (NR%2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(cut -d' ' -f1 "$tmp/clean" | med); mb=$(cut -d' ' -f2 "$tmp/clean" | med)
printf '%-6s %14s %14s %8s  %s\n' median "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN{printf "%.3f", a/b}')" "$n clean pass(es)"
for k in 3:6:fwd 4:7:bwd_data 5:8:bwd_weights; do
  ca=${k%%:*}; r=${k#*:}; cb=${r%%:*}; nm=${r#*:}
  xa=$(cut -d' ' -f"$ca" "$tmp/clean" | med); xb=$(cut -d' ' -f"$cb" "$tmp/clean" | med)
  printf '  %-12s %14s %14s %8s\n' "$nm" "$xa" "$xb" "$(awk -v a="$xa" -v b="$xb" 'BEGIN{printf "%.3f", a/b}')"
done
