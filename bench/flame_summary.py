"""Top frames of a py-spy collapsed-stack file (`py-spy record -f raw`), as a Markdown table.

py-spy samples every thread (pyinstrument sees only the event loop's, and the SQLite store's
transaction runs on its writer thread), so the signing-path profile is taken with it:

    py-spy record -r 500 -f raw -o /tmp/stacks.txt -- .venv/bin/python bench/signing_path.py
    .venv/bin/python bench/flame_summary.py /tmp/stacks.txt --within _measure,_run_transaction

Each row is a function with the share of the kept samples in which it is on the stack
(inclusive) and at its top (self). `--within` keeps only stacks that pass through one of the
named functions, which drops start-up (imports, migrations, key generation).
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<name>[^ ]+) \((?P<file>[^:]+)(?::\d+)?\)$")


def _name(frame: str) -> str:
    """`function (path:line)` -> `function (file.py)`: lines merged, long paths cut."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    return f"{match['name']} ({Path(match['file']).name})"


def _function(frame: str) -> str:
    """`SqliteStore._run_transaction (_sqlite.py)` -> `_run_transaction`."""
    return frame.split(" ")[0].rsplit(".", 1)[-1]


def summarise(path: Path, within: list[str], top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        parsed = _LINE.match(line)
        if parsed is None:
            continue
        frames = [_name(f) for f in parsed["stack"].split(";")]
        if within and not any(_function(f) in within for f in frames):
            continue
        count = int(parsed["count"])
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    rows = ["| frame | inclusive | self |", "|---|---|---|"]
    for frame, count in inclusive.most_common(top):
        rows.append(f"| `{frame}` | {100 * count / total:.1f}% | "
                    f"{100 * own[frame] / total:.1f}% |")
    rows.append(f"\n{total} samples kept. Top self time:\n")
    rows += ["| frame | self |", "|---|---|"]
    for frame, count in own.most_common(top):
        rows.append(f"| `{frame}` | {100 * count / total:.1f}% |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stacks", type=Path)
    parser.add_argument("--within", default="", help="comma-separated function names")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(summarise(args.stacks, [w for w in args.within.split(",") if w], args.top))


if __name__ == "__main__":
    main()
