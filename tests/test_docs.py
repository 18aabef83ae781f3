"""The documentation: a short README for newcomers whose first screen gives the two commands,
and a reference manual under docs/ whose every relative link (and anchor) resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _outside_fences(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as '-', repeats -1, -2."""
    seen: dict[str, int] = {}
    for line in _outside_fences(path.read_text(encoding="utf-8")):
        match = re.match(r"#{1,6} (.+)", line)
        if match is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def broken_links(page: Path) -> list[str]:
    """Every relative link of ``page`` whose file or anchor does not exist."""
    broken = []
    for line in _outside_fences(page.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            name, _, anchor = target.partition("#")
            dest = (page.parent / name).resolve() if name else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_at_most_260_lines() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 260


def test_readme_gives_make_demo_and_make_test_on_its_first_screen() -> None:
    first = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:40]
    commands = [line.split("#")[0].strip() for line in first]
    assert "make demo" in commands
    assert "make test" in commands


def test_every_relative_link_in_readme_and_docs_resolves() -> None:
    problems = [problem for page in _pages() for problem in broken_links(page)]
    assert problems == []


def test_the_link_check_sees_the_links_of_readme_and_docs() -> None:
    def links(page: Path) -> list[str]:
        text = page.read_text(encoding="utf-8")
        return [target for line in _outside_fences(text) for target in LINK.findall(line)]

    assert len(links(ROOT / "README.md")) >= 30
    assert len(links(ROOT / "docs" / "README.md")) >= 13
    assert sum(len(links(page)) for page in _pages()) >= 70


def test_the_link_check_reports_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Real heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#real-heading) [gone](nowhere.md) [bad](other.md#nope) [self](#page)\n"
        "# Page\n```\n[in a fence](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "page.md: nowhere.md (no such file)",
        "page.md: other.md#nope (no such heading)",
    ]


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"(docs/{page.name}" in readme, page.name
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"({page.name})" in index, page.name
