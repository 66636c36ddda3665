#!/usr/bin/env python3
"""Fails when two top-level modules of a crate import each other, directly or
through others: each crate's modules must form layers (handler -> service ->
port -> adapter inside the server too), so a newcomer can read one without
the rest. Run from the repository root."""
import re,glob,os
bad=False
for crate in sorted(glob.glob('crates/*/src')):
    mods={}
    for p in glob.glob(crate+'/**/*.rs',recursive=True):
        rel=os.path.relpath(p,crate)[:-3]
        parts=rel.split('/')
        name=parts[0] if parts[0] not in ('lib','main') else None
        if not name: continue
        s=open(p).read()
        s=re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*","",s,flags=re.S)
        deps=set(re.findall(r"crate::(\w+)",s))
        if len(parts)==1: deps|=set(re.findall(r"super::(\w+)",s))
        # brace imports: use crate::{a, b}
        for grp in re.findall(r"crate::\{([^}]*)\}",s):
            deps|=set(re.findall(r"^\s*(\w+)",x)[0] for x in grp.split(',') if x.strip())
        mods.setdefault(name,set()).update(d for d in deps if d!=name)
    def reach(a,b,seen):
        for d in mods.get(a,()):
            if d==b: return True
            if d not in seen:
                seen.add(d)
                if reach(d,b,seen): return True
        return False
    cyc=sorted({tuple(sorted((a,b))) for a in mods for b in mods.get(a,()) if b in mods and reach(b,a,set())})
    if cyc:
        print(crate, cyc)
        bad = True
if bad:
    raise SystemExit("import circles between modules (above): move the shared part into a module of its own")
print("no import circles between modules")
