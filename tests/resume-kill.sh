#!/bin/sh
# B11: kill -9 at >= 20 seeded random moments (some inside checkpoint writes, widened by
# MIA_TEST_CKPT_DELAY_MS) and resume each time; the final weights must hash like an
# uninterrupted run. Usage: resume-kill.sh MIA_TRAIN_BINARY   (suite 'slow')
set -eu
BIN=${1:?usage: resume-kill.sh path/to/mia-train}
if ! "$BIN" --help >/dev/null 2>&1; then echo "mia-train not runnable"; exit 1; fi
if [ ! -d "${MIA_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" ]; then
    echo "skipped: dataset-fashion-mnist absent"; exit 77
fi
W=$(mktemp -d /tmp/mia-resume-kill-XXXXXX)
trap 'rm -rf "$W"' EXIT
ARGS="train --arch mlp --data fashion-mnist:train --subset 3000 --subset-seed 1 --epochs 6
      --batch-size 32 --lr 0.01 --seed 5 --backend ref --threads 1 -q"
# reference
"$BIN" $ARGS -o "$W/ref.safetensors"
REF=$(sha256sum "$W/ref.safetensors" | cut -d' ' -f1)
# killed and resumed: sleeps from a seeded list (awk's srand), 0.2 s .. 3 s
kills=0
i=0
export MIA_TEST_CKPT_DELAY_MS=150
while :; do
    i=$((i + 1))
    d=$(awk -v s="$i" 'BEGIN { srand(s * 7919); printf "%.2f", 0.2 + rand() * 2.8 }')
    "$BIN" $ARGS --checkpoint-dir "$W/ck" --checkpoint-every 20 --resume \
        -o "$W/out.safetensors" 2>>"$W/log" &
    pid=$!
    sleep "$d"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || true
        kills=$((kills + 1))
        [ "$kills" -ge 20 ] && break
    else
        # Finished within the sleep (fast machines): its resumed result must already be the
        # reference; then start a fresh run, keeping the kill count.
        wait "$pid" || { echo "run failed"; cat "$W/log"; exit 1; }
        got=$(sha256sum "$W/out.safetensors" | cut -d' ' -f1)
        [ "$got" = "$REF" ] || { echo "run resumed $kills times finished with $got, reference $REF"; exit 1; }
        rm -rf "$W/ck" "$W/out.safetensors"
        echo "run finished after $kills kills, identical to the reference; starting a fresh one"
    fi
done
# finish without interruption
"$BIN" $ARGS --checkpoint-dir "$W/ck" --checkpoint-every 20 --resume -o "$W/out.safetensors"
GOT=$(sha256sum "$W/out.safetensors" | cut -d' ' -f1)
tmp=$(ls "$W/ck" | grep -c '\.tmp' || true)
echo "kills: $kills; reference $REF; resumed $GOT; stale temp files: $tmp"
[ "$REF" = "$GOT" ] && [ "$tmp" -eq 0 ]
