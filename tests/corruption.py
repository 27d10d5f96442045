#!/usr/bin/python3
"""Corruption matrix through the tools (reliability.md B2), test 'corruption-tools'.

  corruption.py BUILD_DIR

Derives corrupted cases from valid per-sample score files and runs `mia-attack` on them:
truncation at 0, 1, 7, 8, header end +-1, every 1/64 of the file and before the last byte;
64 seeded single-byte flips; the first row's index/label/score fields set to 0, 1, 2^31-1,
2^32-1, 2^64-1; one appended byte. The corrupted file is the shadow members' scores in one pass
and a non-member set's in the other. Every case must exit 0 (the file still parses), 1 (bad
input) or 3 (out of memory) - never a signal, never >= 128 - and on failure print
`mia-attack: FILE: what` lines only (regex ^mia[a-z-]*: .+: .+$), with no sanitizer report.
Exit 0 when every case passes; prints the number of cases. Skips (77) without mia-attack."""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

LINE = re.compile(r"^mia[a-z-]*: .+: .+$")
SANITIZER = re.compile(r"(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:)")


def scores(n, k, seed, member):
    rng = random.Random(seed)
    out = ["# written by tests/corruption.py", "index,label," + ",".join("score_%d" % i for i in range(k))]
    for i in range(n):
        lab = rng.randrange(k)
        top = rng.uniform(0.6, 0.99) if member else rng.uniform(0.3, 0.9)
        rest = [rng.random() for _ in range(k - 1)]
        s = sum(rest) or 1.0
        row = [(1 - top) * r / s for r in rest]
        row.insert(lab, top)
        out.append("%d,%d,%s" % (i, lab, ",".join("%.6g" % v for v in row)))
    return ("\n".join(out) + "\n").encode()


def cases(data):
    n = len(data)
    hend = data.index(b"\n", data.index(b"index,")) + 1
    cuts = sorted({c for c in [0, 1, 7, 8, hend - 1, hend, hend + 1, n - 1] + [n * i // 64 for i in range(1, 64)] if 0 <= c < n})
    for c in cuts:
        yield "truncate@%d" % c, data[:c]
    rng = random.Random(0x6d6961)
    for _ in range(64):
        at = rng.randrange(n)
        b = bytearray(data)
        b[at] ^= rng.randrange(1, 256)
        yield "flip@%d" % at, bytes(b)
    row_end = data.index(b"\n", hend)
    fields = data[hend:row_end].split(b",")
    for f in range(min(len(fields), 4)):
        for v in (b"0", b"1", b"2147483647", b"4294967295", b"18446744073709551615"):
            fl = list(fields)
            fl[f] = v
            yield "field%d=%s" % (f, v.decode()), data[:hend] + b",".join(fl) + data[row_end:]
    yield "append", data + b"\x00"


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = os.path.join(sys.argv[1], "tools", "mia-attack")
    if not os.access(tool, os.X_OK):
        print("corruption.py: %s not built: skipped" % tool)
        return 77
    tmp = tempfile.mkdtemp(prefix="mia-corrupt-")
    try:
        files = {
            "tm": scores(40, 4, 1, True), "sm": scores(40, 4, 2, True),
            "sn": scores(40, 4, 3, False), "nm": scores(40, 4, 4, False)}
        paths = {}
        for k, v in files.items():
            paths[k] = os.path.join(tmp, k + ".csv")
            open(paths[k], "wb").write(v)
        bad = os.path.join(tmp, "corrupt.csv")
        total = failures = 0
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        for slot in ("sm", "nm"):
            for name, data in cases(files[slot]):
                open(bad, "wb").write(data)
                p = dict(paths)
                p[slot] = bad
                out = os.path.join(tmp, "out")
                shutil.rmtree(out, ignore_errors=True)
                cmd = [tool, "-q", "--attacks", "threshold,entropy", "--target-member-scores", p["tm"],
                       "--shadow-member-scores", p["sm"], "--shadow-non-member-scores", p["sn"],
                       "--non-member-scores", "Set=" + p["nm"], "-o", out]
                r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", env=env,
                                   timeout=120)
                total += 1
                err = [l for l in r.stderr.splitlines() if l.strip()]
                why = None
                if r.returncode < 0 or r.returncode >= 128:
                    why = "signal / exit %d" % r.returncode
                elif r.returncode not in (0, 1, 3):
                    why = "undocumented exit code %d" % r.returncode
                elif SANITIZER.search(r.stderr):
                    why = "sanitizer report"
                elif r.returncode != 0 and not err:
                    why = "failed without a message"
                elif r.returncode != 0 and not all(LINE.match(l) for l in err):
                    why = "stderr line not 'mia-attack: FILE: what': %r" % next(l for l in err if not LINE.match(l))
                if why:
                    failures += 1
                    print("corruption.py: %s %s: %s\n%s" % (slot, name, why, r.stderr[-2000:]))
        print("corruption.py: mia-attack score files: %d cases, %d failures" % (total, failures))
        return 1 if failures else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
