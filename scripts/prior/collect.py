#!/usr/bin/env python3
"""collect.py - gathers the training bytes for a prior from this Debian system.

Usage: collect.py OUT [--mb N]

Writes OUT (documents one after another) and OUT.idx (u64 LE start offset
of every document).  The sources are the files Debian packages install:
documentation and man pages (decompressed), C headers, Python and Perl
sources, HTML/XML/JSON/CSS/JS/SVG data files, logs, and some ELF shared
objects, each document cut to its first 128 KiB and each class to a share
of the total.  Files of the packages that the benchmark corpus was taken
from (shared/corpus/MANIFEST.md) are left out, so the prior never sees a
benchmark file.  The order is a hash of the path, so reruns on the same
system give the same bytes.
"""
import gzip
import hashlib
import os
import struct
import subprocess
import sys

CAP = 128 << 10
# packages the corpus came from: never train on them
EXCLUDE_PKGS = ["iso-codes", "linux-libc-dev", "dict-gcide", "alsa-utils",
                "python3-skimage", "python3-skimage-lib", "bash", "ferret-datasets",
                "bowtie2-examples", "asterisk-core-sounds-en-wav",
                "asterisk-moh-opsound-wav", "sound-icons"]
CLASSES = [  # name, share of the total, roots, predicate on the path
    ("doc", 0.20, ["/usr/share/doc"], lambda p: not p.endswith((".png", ".jpg", ".gif"))),
    ("man", 0.12, ["/usr/share/man"], lambda p: "/man" in p),
    ("c", 0.16, ["/usr/include", "/usr/share/gtk-doc"], lambda p: p.endswith((".h", ".c"))),
    ("py", 0.16, ["/usr/lib/python3", "/usr/lib/python3.11"], lambda p: p.endswith(".py")),
    ("perl", 0.06, ["/usr/share/perl", "/usr/share/perl5"], lambda p: p.endswith((".pm", ".pl", ".pod"))),
    ("markup", 0.14, ["/usr/share", "/usr/lib/python3"],
     lambda p: p.endswith((".html", ".htm", ".xml", ".json", ".css", ".js", ".svg", ".xsl", ".yaml", ".yml"))),
    ("log", 0.04, ["/var/log"], lambda p: ".log" in p or p.endswith("history")),
    ("elf", 0.12, ["/usr/lib/x86_64-linux-gnu"], lambda p: ".so" in p),
]


def excluded_files():
    out = set()
    for pkg in EXCLUDE_PKGS:
        r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
        if r.returncode == 0:
            out.update(l.strip() for l in r.stdout.splitlines() if l.strip())
    return out


def read_doc(path):
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.open(f) as g:
                    return g.read(CAP)
            return f.read(CAP)
    except (OSError, EOFError):
        return b""


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    total = int(sys.argv[sys.argv.index("--mb") + 1]) << 20 if "--mb" in sys.argv else 96 << 20
    skip = excluded_files()
    docs = []
    for name, share, roots, pred in CLASSES:
        paths = set()
        for root in roots:
            for d, _, files in os.walk(root):
                if "/corpus" in d or "iso-codes" in d:
                    continue
                for fn in files:
                    p = os.path.join(d, fn)
                    if p in skip or os.path.islink(p) or not pred(p):
                        continue
                    paths.add(p)
        paths = sorted(paths, key=lambda p: hashlib.sha256(p.encode()).digest())
        budget, got = int(total * share), 0
        for p in paths:
            if got >= budget:
                break
            b = read_doc(p)
            if len(b) < 64:
                continue
            docs.append((hashlib.sha256(p.encode()).digest(), b))
            got += len(b)
        print(f"{name}: {got} bytes", file=sys.stderr)
    docs.sort(key=lambda d: d[0])
    offs, o = [], 0
    with open(out, "wb") as f:
        for _, b in docs:
            offs.append(o)
            f.write(b)
            o += len(b)
    with open(out + ".idx", "wb") as f:
        f.write(struct.pack(f"<{len(offs)}Q", *offs))
    print(f"{out}: {o} bytes, {len(offs)} documents", file=sys.stderr)


if __name__ == "__main__":
    main()
