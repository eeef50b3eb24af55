#!/usr/bin/env python3
"""cross/size-report.py: who owns the bytes of each cross-built ferroftpd.

Reads the linker map that cross/zcc keeps next to every binary it links (the release binary is
stripped, so `nm` sees nothing) and attributes each input section that occupies file bytes to
a crate (from the demangled symbol it defines), to a C archive (musl libc.a, libunwind.a,
compiler_rt), or to the linker's merged constants. Prints one table row per target; with
--symbols N also the N largest symbols of each.

Usage: size-report.py [--symbols N] TARGET_DIR_ROOT TRIPLE...
"""

import argparse
import collections
import os
import re
import sys

# Sections that occupy no bytes in the file. The map describes the stripped output, so the
# non-allocated sections it lists (.comment, MIPS .pdr, ...) are in the file too.
NOBITS = {".bss", ".tbss", ".relro_padding"}
# lld map columns: VMA LMA Size Align, then Out / In / Symbol, indented by 1 / 9 / 17 spaces.
ROW = re.compile(r"^\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\s*)(.*)$")
ARCHIVE = re.compile(r"([^/()]+)\.a\(")
LEGACY_HASH = re.compile(r"::h[0-9a-f]{16}$")
PATH_START = re.compile(r"(?:<|&|mut |\*const |\*mut |dyn |\[|\()*([A-Za-z_][A-Za-z0-9_]*)(::)?")
# ARM/AArch64 mapping symbols ($a, $d.12, ...) and assembler-local labels name no code of their own.
NOT_A_NAME = re.compile(r"^(\$[adtx](\.\d+)?|\.L.*)$")
C_NAMES = {"musl libc": ("libc", "libzigc", "crt1"), "libunwind": ("libunwind",),
           "compiler-rt": ("libcompiler_rt",)}


def find_map(target_root, triple):
    """The map of the link that produced target/<triple>/release/ferroftpd, or None."""
    release = os.path.join(target_root, triple, "release")
    binary = os.path.join(release, "ferroftpd")
    if not os.path.exists(binary):
        return binary, None
    deps = os.path.join(release, "deps")
    st = os.stat(binary)
    candidates = [os.path.join(deps, n) for n in os.listdir(deps)
                  if n.startswith("ferroftpd-") and "." not in n]
    # cargo hard-links the final binary to its deps/ copy; fall back to comparing contents.
    for c in sorted(candidates, key=os.path.getmtime, reverse=True):
        cs = os.stat(c)
        same = (cs.st_ino, cs.st_dev) == (st.st_ino, st.st_dev)
        if not same and cs.st_size == st.st_size:
            with open(c, "rb") as a, open(binary, "rb") as b:
                same = a.read() == b.read()
        if same and os.path.exists(c + ".map"):
            return binary, c + ".map"
    return binary, None


def owner_of_rust_symbol(sym):
    sym = LEGACY_HASH.sub("", sym)
    # Drop glue belongs to the type being dropped, not to core.
    m = re.match(r"core::ptr::drop_in_place::<(.*)>$", sym)
    if m:
        sym = m.group(1)
    m = PATH_START.match(sym)
    if not m:
        return "(rust, unnamed)"
    # `<str>::trim`, `<[T]>::sort`, `<u64 as Display>::fmt`: methods on primitive types.
    return m.group(1) if m.group(2) else "core"


def owner_of_input(where):
    if where.startswith("<internal>"):
        return "(linker: merged constants, tables)"
    m = ARCHIVE.search(where)
    name = m.group(1) if m else os.path.basename(where.split(":(")[0])
    for label, prefixes in C_NAMES.items():
        if name.startswith(prefixes):
            return label
    return name


def parse(map_path):
    """Returns (bytes per owner, bytes per symbol)."""
    owners = collections.Counter()
    symbols = collections.Counter()
    out_section = None
    pending = None  # (size, where) of the input section whose symbol we still wait for

    def settle(sym=None):
        nonlocal pending
        if pending is None:
            return
        size, where = pending
        pending = None
        if ".rcgu.o:(" in where:
            owner = owner_of_rust_symbol(sym) if sym else f"(rust {out_section})"
        else:
            owner = owner_of_input(where)
        owners[owner] += size
        if sym:
            symbols[LEGACY_HASH.sub("", sym)] += size

    with open(map_path, encoding="utf-8", errors="replace") as f:
        next(f, None)  # header
        for line in f:
            m = ROW.match(line.rstrip("\n"))
            if not m:
                continue
            size, indent, rest = int(m.group(1), 16), len(m.group(2)), m.group(3)
            if indent == 0:  # output section
                settle()
                out_section = rest
            elif indent == 8:  # input section
                settle()
                if out_section not in NOBITS and size:
                    pending = (size, rest)
            elif not NOT_A_NAME.match(rest.strip()):  # a symbol of the pending input section
                settle(rest)
        settle()
    return owners, symbols


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", type=int, default=0, help="also list the N largest symbols")
    ap.add_argument("--top", type=int, default=5, help="contributors shown per target")
    ap.add_argument("target_root")
    ap.add_argument("triples", nargs="+")
    args = ap.parse_args()

    print(f"{'target':<32} {'bytes':>9} {'KiB':>7}  top contributors (share of mapped bytes)")
    details = []
    missing = 0
    for triple in args.triples:
        binary, map_path = find_map(args.target_root, triple)
        if not os.path.exists(binary):
            print(f"{triple:<32} {'-':>9} {'-':>7}  not built (make cross TARGET={triple})")
            missing += 1
            continue
        size = os.path.getsize(binary)
        if map_path is None:
            print(f"{triple:<32} {size:>9} {size / 1024:>7.1f}  no linker map: relink with "
                  f"cross/zcc (touch src/main.rs; make cross TARGET={triple})")
            continue
        owners, symbols = parse(map_path)
        total = sum(owners.values()) or 1
        top = ", ".join(f"{o} {100 * n / total:.0f}%" for o, n in owners.most_common(args.top))
        print(f"{triple:<32} {size:>9} {size / 1024:>7.1f}  {top}")
        if args.symbols:
            details.append((triple, symbols.most_common(args.symbols)))
    for triple, rows in details:
        print(f"\n{triple}: largest symbols")
        for sym, n in rows:
            print(f"  {n:>8}  {sym[:110]}")
    return 1 if missing == len(args.triples) else 0


if __name__ == "__main__":
    sys.exit(main())
