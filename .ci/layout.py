#!/usr/bin/env python3
"""The house rules that a compiler does not check, for every crate of the workspace:

- no source file over 600 lines;
- no import circle between the files of a crate.

A file imports another when it names an item defined there: in a `use` (braces, globs and `self` included) or
as an inline path (`super::x::f()`, `crate::a::B`, `child::f()` from a parent). Re-exports are followed to the
file that defines the item, so `pub use config::*` in a `mod.rs` makes `crate::spec::ContainerConfig` an import
of `spec/config.rs`, not of `spec/mod.rs`. Declaring a child (`mod x;`) is not an import. `#[cfg(test)]` code
counts like any other: a circle through a test module is still a circle.

usage: .ci/layout.py [--table] [--graph CRATE]   (exit 1 when a rule is broken)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 600
ITEM = re.compile(
    r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:async\s+)?(?:const\s+)?(?:extern\s+\"C\"\s+)?"
    r"(?:fn|struct|enum|trait|type|const|static|union|macro_rules!)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)
MACRO_EXPORT = re.compile(r"macro_rules!\s+([A-Za-z_][A-Za-z0-9_]*)")
USE = re.compile(r"^\s*(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.M | re.S)
MOD_DECL = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", re.M)
INLINE_MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", re.M)
PATH = re.compile(r"(?<![A-Za-z0-9_:])((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def strip(text):
    """Comments and string/char literals out, so a path in a doc comment or a message is not an import."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            out.append('""')
            i = n if j < 0 else j + len(end)
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Crate:
    def __init__(self, name, src, root_file):
        self.name, self.src = name, src
        self.files = {}  # module path (tuple) -> file
        self.text = {}  # file -> stripped text
        self.defs = {}  # file -> set of item names
        self.mods_of = {}  # file -> module path
        self.inline = {}  # (module path) -> file, for inline `mod x { }` blocks
        self.load(root_file, ())

    def load(self, path, modpath):
        self.files[modpath] = path
        self.mods_of[path] = modpath
        with open(path, encoding="utf-8") as f:
            t = strip(f.read())
        self.text[path] = t
        self.defs[path] = set(ITEM.findall(t)) | set(MACRO_EXPORT.findall(t))
        base = os.path.dirname(path)
        stem = os.path.basename(path)[:-3]
        child_dir = base if stem in ("mod", "lib", "main") else os.path.join(base, stem)
        for m in re.finditer(r"(#\[path\s*=\s*\"([^\"]+)\"\]\s*)?" + MOD_DECL.pattern.lstrip("^"), t, re.M):
            pass
        raw = open(path, encoding="utf-8").read()
        for m in re.finditer(r"^\s*(?:#\[path\s*=\s*\"([^\"]+)\"\]\s*)?(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*;", raw, re.M):
            explicit, name = m.group(1), m.group(2)
            if explicit:
                f = os.path.join(base, explicit)
            else:
                f = os.path.join(child_dir, name + ".rs")
                if not os.path.exists(f):
                    f = os.path.join(child_dir, name, "mod.rs")
            if os.path.exists(f):
                self.load(f, modpath + (name,))
        for m in INLINE_MOD.finditer(t):
            self.inline[modpath + (m.group(1),)] = path

    def children(self, modpath):
        return {p[-1] for p in list(self.files) + list(self.inline) if len(p) == len(modpath) + 1 and p[:-1] == modpath}

    def absolute(self, segs, here):
        """Resolve the leading `crate`/`super`/`self`/child-module segments of a path seen in module `here`."""
        if not segs:
            return None
        first = segs[0]
        if first == "crate":
            return (), segs[1:]
        if first in ("super", "self"):
            cur = here
            rest = segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    if not cur:
                        return None
                    cur = cur[:-1]
                rest = rest[1:]
            return cur, rest
        if first in self.children(here):
            return here, segs
        return None

    def target(self, mod, rest, seen=None):
        """The file defining `rest` (module names then an item) starting in module `mod`."""
        seen = seen or set()
        key = (mod, tuple(rest))
        if key in seen:
            return None
        seen.add(key)
        while rest and (mod + (rest[0],)) in self.files:
            mod, rest = mod + (rest[0],), rest[1:]
        if mod + tuple(rest[:1]) in self.inline:
            return self.inline[mod + tuple(rest[:1])]
        f = self.files.get(mod)
        if f is None:
            return None
        if not rest:
            return f
        name = rest[0]
        if name in self.defs[f] or name[0].isupper() is False and name in self.defs[f]:
            return f
        # A re-export in this module: follow it to the defining file.
        for m in USE.finditer(self.text[f]):
            if not m.group(1):
                continue
            for path in expand(m.group(2)):
                alias = path[-1]
                if " as " in alias:
                    orig, alias = [s.strip() for s in alias.split(" as ")]
                    path = path[:-1] + [orig]
                if alias == name or alias == "*":
                    base = self.absolute(path if alias == name else path[:-1], mod)
                    if base is None:
                        continue
                    tgt = self.target(base[0], list(base[1]) + ([] if alias == name else [name]), seen)
                    if tgt and (alias == name or name in self.defs.get(tgt, ())):
                        return tgt
        return f

    def edges(self):
        out = {}
        for f, t in self.text.items():
            deps = set()
            paths = []
            for here, part in scopes(t, self.mods_of[f]):
                aliases = {}
                for m in USE.finditer(part):
                    for p in expand(m.group(2)):
                        paths.append((here, p, {}))
                        # A module brought in by name (`use crate::cgroups;`, `use super::x::{self, Y}`): later
                        # inline paths through that name (`cgroups::cpu::Cpu`) are imports too.
                        q = [s.split(" as ")[0].strip() for s in p]
                        alias = p[-1].split(" as ")[-1].strip()
                        if q and q[-1] == "self":
                            q = q[:-1]
                            alias = q[-1] if q else alias
                        base = self.absolute(q, here)
                        if base and (base[0] + tuple(base[1])) in self.files:
                            aliases[alias] = ["crate"] + list(base[0] + tuple(base[1]))
                body = USE.sub("", part)
                paths.extend((here, p.split("::"), aliases) for p in PATH.findall(body))
            for here, segs, aliases in paths:
                if segs and segs[0] in aliases:
                    segs = aliases[segs[0]] + segs[1:]
                segs = [s.split(" as ")[0].strip() for s in segs]
                if segs and segs[-1] == "*":
                    segs = segs[:-1]
                if segs and segs[-1] == "self":
                    segs = segs[:-1]
                base = self.absolute(segs, here)
                if base is None:
                    continue
                tgt = self.target(base[0], list(base[1]))
                if tgt and tgt != f:
                    deps.add(tgt)
            out[f] = deps
        return out


def scopes(text, modpath):
    """The text of a file split by inline modules (`mod tests { ... }`): (module path, text) pairs, so `super`
    inside an inline module names the file's own module."""
    out, rest, pos = [], [], 0
    for m in INLINE_MOD.finditer(text):
        if m.start() < pos:
            continue
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        rest.append(text[pos : m.start()])
        out.extend(scopes(text[m.end() : i], modpath + (m.group(1),)))
        pos = i + 1
    rest.append(text[pos:])
    return [(modpath, "".join(rest))] + out


def expand(tree):
    """`a::{b, c::{d, e as f}}` -> [[a,b],[a,c,d],[a,c,e as f]]."""
    tree = re.sub(r"\s+", " ", tree.strip())
    if tree.startswith("::"):
        tree = tree[2:]
    depth, i = 0, 0
    brace = tree.find("{")
    if brace < 0:
        return [[s.strip() for s in tree.split("::")]]
    prefix = [s for s in tree[:brace].rstrip(":").split("::") if s]
    inner = tree[brace + 1 : tree.rfind("}")]
    parts, cur = [], ""
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        for sub in expand(p):
            out.append(prefix + sub)
    return out


def sccs(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def crates():
    out = []
    for d in sorted(os.listdir(ROOT)):
        toml = os.path.join(ROOT, d, "Cargo.toml")
        if not os.path.isfile(toml) or d == "target":
            continue
        for root in ("src/lib.rs", "src/main.rs"):
            p = os.path.join(ROOT, d, root)
            if os.path.exists(p):
                out.append(Crate(f"{d}:{root}", os.path.join(ROOT, d, "src"), p))
    return out


def rel(p):
    return os.path.relpath(p, ROOT)


def main():
    bad = False
    table = "--table" in sys.argv
    rows = []
    for c in crates():
        g = c.edges()
        if "--loose" in sys.argv:
            # The count without the edges between a mod.rs and its own children (for comparison only).
            def parent(f):
                d = os.path.dirname(f)
                return os.path.join(d, "mod.rs") if not f.endswith("mod.rs") else None
            g = {f: {x for x in ds if parent(x) != f and parent(f) != x} for f, ds in g.items()}
        circles = sccs(g)
        for comp in circles:
            bad = True
            print(f"import circle in {c.name}: " + " <-> ".join(rel(f) for f in comp))
            for f in comp:
                print(f"    {rel(f)} -> " + ", ".join(rel(x) for x in sorted(g[f]) if x in comp))
        lines = 0
        for f in c.text:
            n = sum(1 for _ in open(f, encoding="utf-8"))
            lines += n
            if n > MAX_LINES:
                bad = True
                print(f"{rel(f)}: {n} lines (limit {MAX_LINES})")
        rows.append((c.name, len(c.text), lines, len(circles)))
        if "--graph" in sys.argv and c.name.startswith(sys.argv[sys.argv.index("--graph") + 1]):
            for f in sorted(g):
                print(f"{rel(f)} -> " + ", ".join(rel(x) for x in sorted(g[f])))
    if table:
        print(f"{'crate':<28} {'files':>6} {'lines':>7} {'circles':>8}")
        for r in rows:
            print(f"{r[0]:<28} {r[1]:>6} {r[2]:>7} {r[3]:>8}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
