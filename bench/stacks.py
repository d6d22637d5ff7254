"""Short text summaries of profiles, saved under bench/profiles/.

py-spy writes collapsed stacks (``frame;frame;frame count`` per line); the
summary lists where the samples were, by the function on top of the stack
(self time) and by every function on the stack (inclusive time).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

PROFILES = Path(__file__).resolve().parent / "profiles"


def _short(frame: str) -> str:
    # py-spy frames read "function (path/to/module.py:line)": keep the
    # function and the last two path parts, without the line.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = path.replace("\\", "/").split("/")
    return f"{name} ({'/'.join(parts[-2:])})" if path else name


def _package(frame: str) -> str:
    # py-spy names frames "name (faust/streams.py:12)", relative to the
    # sys.path entry: the first part is the package or stdlib module.
    path = frame.partition(" (")[2].rsplit(":", 1)[0]
    return path.split("/", 1)[0].removesuffix(".py") if path else frame


def summarise_collapsed(collapsed: Path, title: str, top: int = 25) -> str:
    """Top packages and functions by self and inclusive share of the samples."""
    own: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        packages[_package(stack.split(";")[-1])] += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return f"{title}\nno samples\n"
    lines = [title, f"samples: {total}", "", "self time by package:"]
    lines += [
        f"  {100 * n / total:5.1f} %  {name}" for name, n in packages.most_common(12)
    ]
    lines += ["", "self time (function on top of stack):"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time (function anywhere on the stack):"]
    lines += [
        f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)
    ]
    return "\n".join(lines) + "\n"


def save(name: str, text: str) -> Path:
    """Write a summary to bench/profiles/<name>.txt and return its path."""
    PROFILES.mkdir(exist_ok=True)
    path = PROFILES / f"{name}.txt"
    path.write_text(text)
    return path
