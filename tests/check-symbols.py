#!/usr/bin/python3
"""ABI hygiene of libmia.so (unit test 'check-symbols').

  check-symbols.py LIBMIA_SO INCLUDE_DIR LIST_FILE [--update]

Checks that
  1. every dynamic symbol libmia.so defines is prefixed mia_ (nothing unprefixed, no mia__
     internals: those are MIA_PRIVATE / hidden);
  2. every exported mia_* symbol is declared in a public header of INCLUDE_DIR/mia;
  3. the exported set equals LIST_FILE (tests/symbols-list.txt, one name a line, sorted): an added
     or removed symbol is an ABI change that has to be reviewed and recorded with --update.
Exit 0 when all hold, 1 otherwise (each problem printed on its own line)."""
import os
import re
import subprocess
import sys


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDBRVWiu" and parts[1] != "U":
            name = parts[2].split("@")[0]
            syms.add(name)
    return syms


def declared(include_dir):
    text = ""
    d = os.path.join(include_dir, "mia")
    for f in sorted(os.listdir(d)):
        if f.endswith(".h") or f.endswith(".h.in"):
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                text += fh.read() + "\n"
    return text


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv
    if len(args) != 3:
        print(__doc__)
        return 2
    lib, inc, listfile = args
    syms = exported(lib)
    problems = []
    for s in sorted(syms):
        if s in ("_init", "_fini", "_edata", "_end", "__bss_start"):
            continue
        if not s.startswith("mia_") or s.startswith("mia__"):
            problems.append("exported symbol without the public mia_ prefix: %s" % s)
    text = declared(inc)
    for s in sorted(x for x in syms if x.startswith("mia_") and not x.startswith("mia__")):
        if not re.search(r"\b%s\s*\(" % re.escape(s), text) and not re.search(
                r"\b%s\s*(\[|;)" % re.escape(s), text):
            problems.append("exported but not declared in include/mia: %s" % s)
    public = sorted(x for x in syms if x.startswith("mia_") and not x.startswith("mia__"))
    if update:
        with open(listfile, "w") as fh:
            fh.write("".join(s + "\n" for s in public))
        print("check-symbols: wrote %d symbols to %s" % (len(public), listfile))
    listed = set()
    if os.path.exists(listfile):
        with open(listfile) as fh:
            listed = {l.strip() for l in fh if l.strip() and not l.startswith("#")}
    for s in sorted(set(public) - listed):
        problems.append("exported but not in %s (new ABI? review, then --update): %s"
                        % (os.path.basename(listfile), s))
    for s in sorted(listed - set(public)):
        problems.append("listed in %s but no longer exported (ABI break): %s"
                        % (os.path.basename(listfile), s))
    for p in problems:
        print("check-symbols: " + p)
    print("check-symbols: %d exported symbols, %d problems" % (len(syms), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
