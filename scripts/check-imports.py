#!/usr/bin/env python3
"""Fails when two modules with the same parent import each other, directly or
through siblings, at any level of any crate (`server::routes::a` and
`server::routes::b` as much as `domain::services` and `domain::ports`): each
crate's modules must form layers (handler -> service -> port -> adapter), so
a newcomer can read one without the rest. An import through a parent's
re-export (`use super::SagaDriver`, re-exported from `saga`) counts as an
import of the module that defines it. Run from the repository root."""
import glob
import os
import re


def modules_of(src):
    """Each file's module path: lib.rs [], a/mod.rs [a], a/b.rs [a, b]."""
    files = {}
    for path in glob.glob(src + "/**/*.rs", recursive=True):
        parts = os.path.relpath(path, src)[:-3].split("/")
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        if "bin" in parts:
            continue
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", open(path).read(), flags=re.S)
        files[tuple(parts)] = text
    return files


def items(group):
    """The paths in a `use` brace group, nested groups expanded."""
    out, depth, current = [], 0, ""
    for char in group + ",":
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char == "," and depth == 0:
            current = current.strip()
            if current:
                head, _, rest = current.partition("::{")
                out += [head + "::" + inner for inner in items(rest[:-1])] if rest else [current]
            current = ""
        else:
            current += char
    return out


def references(text):
    """(kind, segments): kind is crate, super (with its count) or self."""
    found = []
    for kind, group in re.findall(r"\b((?:super::)+|crate::|self::)\{((?:[^{}]|\{[^{}]*\})*)\}", text):
        found += [(kind, item.split("::")) for item in items(group)]
    for kind, path in re.findall(r"\b((?:super::)+|crate::|self::)(\w+(?:::\w+)*)", text):
        found.append((kind, path.split("::")))
    return found


def check(src):
    files = modules_of(src)
    known = set(files)
    reexports = {}
    for module, text in files.items():
        for child, names in re.findall(r"pub(?:\(crate\))? use (\w+)::\{?([\w\s,]*)\}?;", text):
            for name in re.findall(r"\w+", names):
                reexports.setdefault(module, {})[name] = child
    edges = {}
    for module, text in files.items():
        for kind, segments in references(text):
            if kind == "crate::":
                base = ()
            elif kind == "self::":
                base = module
            else:
                base = module[: len(module) - kind.count("super")]
            cur = base
            for segment in segments:
                if cur + (segment,) in known:
                    cur += (segment,)
                else:
                    child = reexports.get(cur, {}).get(segment)
                    if child and cur + (child,) in known:
                        cur += (child,)
                    break
            common = 0
            while common < min(len(module), len(cur)) and module[common] == cur[common]:
                common += 1
            if common < len(module) and common < len(cur):
                parent = module[:common]
                edges.setdefault(parent, set()).add((module[common], cur[common]))
    circles = []
    for parent, pairs in edges.items():
        graph = {}
        for a, b in pairs:
            graph.setdefault(a, set()).add(b)

        def reaches(a, b, seen):
            for d in graph.get(a, ()):
                if d == b or (d not in seen and (seen.add(d) or reaches(d, b, seen))):
                    return True
            return False

        circles += sorted({("::".join(parent + (min(a, b),)), "::".join(parent + (max(a, b),)))
                           for a, b in pairs if reaches(b, a, set())})
    return circles


bad = False
for src in sorted(glob.glob("crates/*/src") + glob.glob("examples/*/src")):
    circles = check(src)
    if circles:
        print(src, circles)
        bad = True
if bad:
    raise SystemExit("import circles between sibling modules (above): move the shared part into a module of its own")
print("no import circles between modules, at any level")
