#!/bin/sh
# Model throughput driver (issue 3): libmia (bench-models, onednn) against the identical PyTorch
# model (models_peer.py, torch.set_num_threads(THREADS)), interleaved A B B' per pass (B = PyTorch
# default NCHW, B' = PyTorch channels_last; the faster of the two is the peer figure, as
# benchmarking.md asks for PyTorch's best setting). /proc/stat is read around every run: a pass
# where other processes took more than MAXLOAD of the machine is marked contaminated and left out
# of the medians. Prints per pass and median images/s, ratio libmia/PyTorch and peak RSS (MiB).
#   bench/run-models.sh [path/to/bench-models]
#   env: METRIC=images_per_s PASSES=3 THREADS=2 SECONDS_PER_RUN=3 MAXLOAD=0.10 CONFIGS="resnet18_cifar:train:64 ..."
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bench=${1:-}
if [ -z "$bench" ]; then
  for b in "$here"/../build*/bench/bench-models; do [ -x "$b" ] && bench=$b && break; done
fi
[ -n "$bench" ] && [ -x "$bench" ] || { echo "run-models.sh: bench-models not found (pass its path)" >&2; exit 2; }
PASSES=${PASSES:-3}
THREADS=${THREADS:-2}
SECS=${SECONDS_PER_RUN:-3}
MAXLOAD=${MAXLOAD:-0.10}
# METRIC=images_per_s (wall clock, the goal's figure) or images_per_cpu_s (images per CPU-second
# of the process: far less sensitive to other tenants; meaningful at THREADS=1)
METRIC=${METRIC:-images_per_s}
CONFIGS=${CONFIGS:-"resnet18_cifar:train:64 resnet18_cifar:infer:256 salem_cnn:train:64 salem_cnn:infer:256 efficientnet_b0_cifar:train:64 efficientnet_b0_cifar:infer:256 resnet50:train:16 resnet50:infer:16"}
PY=/usr/bin/python3
"$PY" -c 'import torch' 2>/dev/null || { echo "run-models.sh: python3-torch missing (apt-get install python3-torch)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stat_now() { awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; print b, t}' /proc/stat; }
# run_one NAME CMD...: output in $tmp/NAME.out; prints the other processes' share of the machine
run_one() {
  name=$1; shift
  set -- $(stat_now) "$@"; b0=$1; t0=$2; shift 2
  /usr/bin/env time -f '%U %S' -o "$tmp/$name.time" "$@" >"$tmp/$name.out"
  set -- $(stat_now); b1=$1; t1=$2
  awk -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
      '{own=($1+$2)*hz; tot=t1-t0; o=(b1-b0-own)/(tot>0?tot:1); if (o<0) o=0; printf "%.3f\n", o}' "$tmp/$name.time"
}
get() { sed -n "s/^$1=//p" "$2" | head -n1; }
med() { sort -g | awk '{v[NR]=$1} END{if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else printf "%.2f\n", (v[NR/2]+v[NR/2+1])/2}'; }
printf '# metric=%s %s threads=%s passes=%s seconds/run=%s maxload=%s loadavg: %s\n' "$METRIC" "$(date -u +%FT%TZ)" "$THREADS" "$PASSES" "$SECS" "$MAXLOAD" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %-5s %5s %4s %10s %10s %10s %7s %8s %8s  %s\n' arch mode batch pass "libmia" "torch" "torch_cl" ratio "rss_mia" "rss_pt" note
for cfg in $CONFIGS; do
  arch=${cfg%%:*}; r=${cfg#*:}; mode=${r%%:*}; batch=${r#*:}
  extra=""; [ "$arch" = resnet50 ] && extra="--size 224"
  : >"$tmp/clean"
  p=1
  while [ "$p" -le "$PASSES" ]; do
    common="--arch $arch --mode $mode --batch $batch --threads $THREADS --seconds $SECS $extra"
    la=$(run_one a "$bench" $common)
    lb=$(run_one b "$PY" "$here/models_peer.py" $common)
    lc=$(run_one c "$PY" "$here/models_peer.py" $common --channels-last)
    ia=$(get $METRIC "$tmp/a.out"); ib=$(get $METRIC "$tmp/b.out"); ic=$(get $METRIC "$tmp/c.out")
    best=$(awk -v b="$ib" -v c="$ic" 'BEGIN{print (c>b)?c:b}')
    rb=$(awk -v b="$ib" -v c="$ic" -v rb="$(get peak_rss_mib "$tmp/b.out")" -v rc="$(get peak_rss_mib "$tmp/c.out")" 'BEGIN{print (c>b)?rc:rb}')
    ra=$(get peak_rss_mib "$tmp/a.out")
    ratio=$(awk -v a="$ia" -v b="$best" 'BEGIN{printf "%.3f", a/b}')
    note="clean (other load $la/$lb/$lc)"
    if awk -v a="$la" -v b="$lb" -v c="$lc" -v m="$MAXLOAD" 'BEGIN{exit !(a>m || b>m || c>m)}'; then
      note="contaminated (other load $la/$lb/$lc)"
    else
      echo "$ia $best $ratio $ra $rb $ib $ic" >>"$tmp/clean"
    fi
    printf '%-22s %-5s %5s %4s %10s %10s %10s %7s %8s %8s  %s\n' "$arch" "$mode" "$batch" "$p" "$ia" "$ib" "$ic" "$ratio" "$ra" "$rb" "$note"
    p=$((p + 1))
  done
  n=$(wc -l <"$tmp/clean")
  if [ "$n" -eq 0 ]; then
    echo "MEDIAN $arch $mode $batch: no clean pass (machine busy); rerun or raise MAXLOAD"
  else
    printf 'MEDIAN %-15s %-5s %5s  libmia %s img/s  torch(best of nchw %s, channels_last %s) %s img/s  ratio %s  rss libmia %s MiB torch %s MiB  (%s clean)\n' \
      "$arch" "$mode" "$batch" "$(cut -d' ' -f1 "$tmp/clean" | med)" "$(cut -d' ' -f6 "$tmp/clean" | med)" \
      "$(cut -d' ' -f7 "$tmp/clean" | med)" "$(cut -d' ' -f2 "$tmp/clean" | med)" "$(cut -d' ' -f3 "$tmp/clean" | med)" \
      "$(cut -d' ' -f4 "$tmp/clean" | med)" "$(cut -d' ' -f5 "$tmp/clean" | med)" "$n"
  fi
done
