"""The docs stand on their own: no citations of files outside the repository, no broken links.

- Nothing a user gets (the library, flows, tasks, benchmarks, config, docs, README) cites a file
  that is not in this repository (``DOMAIN.md``, ``ARCHITECTURE.md``, ``STYLE.md``, the
  ``../shared`` folder beside a development checkout) or a path of one machine (``/work/...``). Facts are written in docs/ and cited there,
  or cited from their primary sources. tests/ may read ``../shared/realdata`` for the real-data
  conformance tests, which skip when it is absent.
- Every relative link in docs/*.md and README.md points at a file that exists, and every
  ``#anchor`` at a heading of the target page (GitHub's heading ids).
- Every ``docs/<page>.md#anchor`` cited in code or tests names a page and heading that exist.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


#: Folders and files whose text must not cite outside files (relative to the repository root).
CHECKED_ROOTS = ("rovercam", "flows", "tasks", "benchmarks", "config", "docs", "README.md")

#: Suffixes of text files to read; everything else (images, fonts, binary data) is skipped.
TEXT_SUFFIXES = {
    ".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".json", ".js", ".mjs",
    ".css", ".html", ".j2", ".sql", ".mako", ".rst", ".sh", "",
}

#: What must not be cited, with why.
FORBIDDEN = (
    (re.compile(r"DOMAIN\.md"), "a primer that is not part of this repository"),
    (re.compile(r"\.\./shared\b"), "a folder beside a development checkout"),
    (re.compile(r"[\"']shared[\"']\s*/\s*[\"']realdata[\"']"), "a folder beside a development checkout"),
    (re.compile(r"(?<![\w.:/])/(?:work|home|Users)/"), "an absolute path of one machine"),
    (re.compile(r"(?<![\w/.-])(?:ARCHITECTURE|STYLE|MANIFEST)\.md"),
     "a note of the development folder, not of this repository (cite docs/)"),
)

_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~)")
_DOC_CITATION = re.compile(r"(?<![\w/.])docs/(?P<page>[\w.-]+\.md)(?:#(?P<anchor>[\w-]+))?")


def _checked_files() -> list[Path]:
    files: list[Path] = []
    for root in CHECKED_ROOTS:
        path = REPO / root
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and "__pycache__" not in p.parts and p.suffix in TEXT_SUFFIXES
            )
    return files


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary data


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def slug(heading: str) -> str:
    """GitHub's id for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Heading ids of a Markdown page, with GitHub's -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if in_fence or not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _links(page: Path) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link and image outside code blocks and spans."""
    found: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        outside_code = re.sub(r"`[^`]*`", "", line)
        found.extend((number, m.group("target")) for m in _LINK.finditer(outside_code))
    return found


def _markdown_pages() -> list[Path]:
    return sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]


def test_no_citations_of_files_outside_the_repository() -> None:
    problems: list[str] = []
    for path in _checked_files():
        text = _read_text(path)
        if text is None:
            continue
        name = _rel(path)
        hits = [
            f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r} ({why})"
            for pattern, why in FORBIDDEN
            for m in pattern.finditer(text)
        ]
        problems.extend(hits)
    assert not problems, "cite docs/ or a primary source instead:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", _markdown_pages(), ids=lambda p: _rel(p))
def test_relative_links_resolve(page: Path) -> None:
    broken: list[str] = []
    for number, target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http:, https:, mailto:, ...
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        where = f"{_rel(page)}:{number}: {target}"
        if not dest.exists():
            broken.append(f"{where} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{where} (no heading #{anchor} in {dest.name})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_docs_citations_in_code_resolve() -> None:
    # docstrings and comments cite docs/<page>.md#<heading>; both must exist
    roots = ("rovercam", "flows", "tasks", "benchmarks", "tests", "config")
    pages: dict[str, set[str]] = {}
    broken: list[str] = []
    for root in roots:
        for path in sorted((REPO / root).rglob("*.py")) + sorted((REPO / root).rglob("*.toml")):
            if "__pycache__" in path.parts or path == Path(__file__).resolve():
                continue
            text = _read_text(path)
            if text is None or "docs/" not in text:
                continue
            for m in _DOC_CITATION.finditer(text):
                page = REPO / "docs" / m.group("page")
                where = f"{_rel(path)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                if not page.is_file():
                    broken.append(f"{where} (no such page)")
                    continue
                known = pages.setdefault(page.name, anchors(page))
                if m.group("anchor") and m.group("anchor") not in known:
                    broken.append(f"{where} (no such heading)")
    assert not broken, "docs citations that do not resolve:\n" + "\n".join(broken)


@pytest.mark.parametrize("heading, expected", [
    ("Decompanding", "decompanding"),
    ("Mars 2020 engineering cameras (ECAM)", "mars-2020-engineering-cameras-ecam"),
    ("Derived products: MIPL's steps are never applied twice",
     "derived-products-mipls-steps-are-never-applied-twice"),
    ("Product sources (`rovercam.sources`)", "product-sources-rovercamsources"),
    ("Subframes, binning and frames", "subframes-binning-and-frames"),
])
def test_slug_matches_github(heading: str, expected: str) -> None:
    # truth: the ids GitHub gives these headings when it renders the pages
    assert slug(heading) == expected
