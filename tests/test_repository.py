"""What the repository's own files may not say: no tracker issue numbers, no design
handbook (it is not part of the project), no path of one machine."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    # the project's tracker ("issues 3 and 5"); upstream threads are cited as
    # owner/repo#N, which stays allowed.
    "a tracker issue number": re.compile(r"\bissues? \d+\b", re.IGNORECASE),
    "the design handbook": re.compile(r"DESIGN(\.md| ?§)|design handbook", re.IGNORECASE),
    # (split so that this file does not match itself)
    "a machine path": re.compile(r"/wor" r"k/|/root/|/home/[a-z]"),
}
THIS_FILE = Path(__file__).relative_to(ROOT).as_posix()


def tracked_text_files():
    try:
        names = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in names:
        path = ROOT / name
        if not name or name == THIS_FILE or not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: weights, images, protocol buffers


def test_no_file_cites_the_tracker_the_handbook_or_a_machine_path():
    found = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {what}: {match.group(0)!r}"
        for name, text in tracked_text_files()
        for what, pattern in FORBIDDEN.items()
        for match in pattern.finditer(text)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        (f"Targets (issue {3}): met", True),
        ("see DESIGN" + " §5", True),
        ("S2S_DATA_DIR=/" + "work/shared/data", True),
        ("keras-team/keras#20585 reports it", False),
        ("tensorflow/serving#2064", False),
        ("the design of the cache", False),
    ],
)
def test_the_patterns_catch_what_they_should(text, flagged):
    assert any(p.search(text) for p in FORBIDDEN.values()) is flagged
