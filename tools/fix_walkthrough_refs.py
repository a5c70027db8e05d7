#!/usr/bin/env python3
"""Moves the line numbers of the walkthroughs' code references to where their snippets are now.

Run by hand after changing a binary, when `cargo test --test walkthrough` says a
reference moved: `python3 tools/fix_walkthrough_refs.py`. A snippet found on no
line, or on several, is left for a person to decide (the test names it). The
page's own example of the syntax, in a fenced block, is moved like the others
(the test checks it too). Transcripts whose output changed are rewritten by
`WALKTHROUGH_UPDATE=1 cargo test --test walkthrough`, not by this script.
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
# `- [path:N](../path#LN) `snippet``, or with double backticks and spaces when the snippet holds a backtick.
REF = re.compile(r"^(\s*- )\[([^\]:]+):(\d+)\]\(\.\./([^)#]+)#L(\d+)\) (?:`` (.*) ``|`([^`]*)`)\s*$")

for doc in ["docs/WALKTHROUGH.md", "docs/WALKTHROUGH.zh-CN.md"]:
    path = ROOT / doc
    out, moved, unsure = [], 0, []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        m = REF.match(line.rstrip("\n"))
        if not m:
            out.append(line)
            continue
        prefix, file, num, _, _, double, single = m.groups()
        snippet = double if double is not None else single
        quoted = f"`` {snippet} ``" if double is not None else f"`{snippet}`"
        lines = (ROOT / file).read_text(encoding="utf-8").splitlines()
        num = int(num)
        if 0 < num <= len(lines) and lines[num - 1].strip() == snippet:
            out.append(line)
            continue
        hits = [i + 1 for i, l in enumerate(lines) if l.strip() == snippet]
        # Several hits: keep the one nearest the old line, which is what moved code usually is.
        if hits:
            new = min(hits, key=lambda h: abs(h - num))
            if len(hits) > 1:
                unsure.append(f"{file}:{new} (one of {len(hits)})")
            out.append(f"{prefix}[{file}:{new}](../{file}#L{new}) {quoted}\n")
            moved += 1
        else:
            unsure.append(f"{file}:{num} not found: {snippet}")
            out.append(line)
    path.write_text("".join(out), encoding="utf-8")
    print(f"{doc}: {moved} references moved")
    for u in unsure:
        print(f"  check by hand: {u}")
