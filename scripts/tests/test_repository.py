"""The repository stands on its own: no file points outside it.

- No tracked file names the team's shared folder (outside the repository) or the team
  documents kept there: a clone does not have them. The deployer's Kustomize conformance
  corpus is exempt: its relative paths to a `shared` directory point between its own test
  directories, copied from kustomize with their provenance.
- Every relative link in a Markdown file resolves to a file or directory inside the
  repository.
"""

import re
import subprocess
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXEMPT = "deployer/tests/conformance/"
# Spelled in pieces so that this file does not match itself (or a plain `git grep`).
SHARED = "shared"
DOCS = ["DESIGN", "MACHINE" + "-NOTES", "STYLE"]
OUTSIDE = re.compile(
    "|".join(
        [re.escape("/work/" + SHARED), re.escape("../" + SHARED + "/")]
        + [r"\b" + re.escape(d + ".md") for d in DOCS]
        + [re.escape(DOCS[1])]
    )
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked():
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def text(path):
    try:
        return (REPO / path).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None


class RepositoryStandsAlone(unittest.TestCase):
    def test_no_file_names_the_shared_folder_or_its_documents(self):
        found = []
        for path in tracked():
            if path.startswith(EXEMPT):
                continue
            body = text(path)
            if body is None:
                continue
            for n, line in enumerate(body.splitlines(), 1):
                if OUTSIDE.search(line):
                    found.append(f"{path}:{n}: {line.strip()}")
        self.assertEqual(found, [], "\n".join(found))

    def test_markdown_links_stay_inside_the_repository(self):
        bad = []
        for path in tracked():
            if not path.endswith(".md") or path.startswith(EXEMPT):
                continue
            for target in LINK.findall(text(path) or ""):
                if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                    continue  # a URL or an anchor in the same file
                resolved = ((REPO / path).parent / target.split("#")[0]).resolve()
                inside = resolved == REPO or REPO in resolved.parents
                if not inside or not resolved.exists():
                    bad.append(f"{path}: ({target})")
        self.assertEqual(bad, [], "\n".join(bad))

    def test_the_checks_find_what_they_look_for(self):
        self.assertTrue(OUTSIDE.search(f"see [x](../{SHARED}/x.md)"))
        self.assertTrue(OUTSIDE.search(f"cat /work/{SHARED}/notes"))
        self.assertTrue(OUTSIDE.search(f"as {DOCS[0]}.md says"))
        self.assertTrue(OUTSIDE.search(f"the {DOCS[1]} file"))
        self.assertFalse(OUTSIDE.search("service-kit: plumbing shared by both servers"))
        self.assertEqual(LINK.findall("[a](b/c.md#x) and [d](https://e)"), ["b/c.md#x", "https://e"])


if __name__ == "__main__":
    unittest.main()
