"""Sort ThreadSanitizer's reports into known races (.ci/tsan_known_races.txt) and new ones.

    python .ci/tsan_reports.py KNOWN_FILE LOG_FILE...

Prints every new report in full, a line per known race with how often it was seen, and a note
for each known entry whose statement is no longer in its source file (fixed: delete the entry).
Exits 1 when there is a new report, else 0.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^\s+#\d+ (?P<function>.+?) (?P<file>/\S+?):(?P<line>\d+)(?::\d+)? \(")
# Frames of TSan's own interceptors (memcpy, memset, ...): the statement is in the caller.
RUNTIME = ("/libsanitizer/", "/compiler-rt/", "sanitizer_common", "tsan_interceptors")


def read_known(path: Path) -> list[tuple[str, str, str]]:
    entries = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3 or not all(parts):
            sys.exit(f"{path}:{number}: expected 'file | statement | why', got {raw!r}")
        entries.append((parts[0], parts[1], parts[2]))
    return entries


def split_reports(text: str) -> list[str]:
    reports = []
    for chunk in text.split("==================\n"):
        if chunk.startswith("WARNING: ThreadSanitizer:"):
            reports.append(chunk)
    return reports


def access_blocks(report: str) -> list[str]:
    """The stack blocks of the two accesses (current first), in the order TSan prints them."""
    blocks = re.split(r"\n\s*\n", report.split("\n", 1)[-1])
    return [b for b in blocks if re.match(r"\s*(Previous )?(atomic )?(Atomic )?(read|write|Read|Write)", b)]


def top_statement(block: str) -> tuple[str, str] | None:
    """(file, source line text) of the block's first frame outside TSan's runtime."""
    for line in block.splitlines():
        m = FRAME.match(line)
        if not m or any(part in m["file"] for part in RUNTIME):
            continue
        try:
            source = Path(m["file"]).read_text(errors="replace").splitlines()[int(m["line"]) - 1]
        except (OSError, IndexError):
            return (m["file"], "")
        return (m["file"], source.strip())
    return None


def classify(report: str, known: list[tuple[str, str, str]]) -> int | None:
    """Index of the known entry the report is, or None for a new report."""
    if not report.startswith("WARNING: ThreadSanitizer: data race"):
        return None
    blocks = access_blocks(report)
    if not blocks:
        return None
    current = top_statement(blocks[0])
    previous = top_statement(blocks[1]) if len(blocks) > 1 else None
    lost = len(blocks) < 2 or "[failed to restore the stack]" in blocks[1]
    for index, (file, statement, _) in enumerate(known):
        def matches(place):
            return place is not None and place[0].endswith("/" + file) and statement in place[1]
        if matches(current) and (matches(previous) or (previous is None and lost)):
            return index
    return None


def main() -> int:
    known_path, logs = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    known = read_known(known_path)
    seen: Counter[int] = Counter()
    new = []
    for log in logs:
        for report in split_reports(log.read_text(errors="replace")):
            index = classify(report, known)
            if index is None:
                new.append((log, report))
            else:
                seen[index] += 1
    for log, report in new:
        print(f"----- new ThreadSanitizer report ({log.name}) -----\n{report}", file=sys.stderr)
    for index, (file, statement, why) in enumerate(known):
        if seen[index]:
            print(f"known race x{seen[index]}: {file}: `{statement}` ({why})")
    # Entries whose statement is gone from the sources are stale.
    sources = {}
    for index, (file, statement, _) in enumerate(known):
        if file not in sources:
            sources[file] = [p for p in Path("cpp").rglob(Path(file).name) if str(p).endswith(file)]
        if not any(statement in p.read_text(errors="replace") for p in sources[file]):
            print(f"stale entry in {known_path}: `{statement}` is no longer in {file}: delete it")
    total = sum(seen.values()) + len(new)
    print(f"{total} reports: {total - len(new)} known, {len(new)} new")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
