#!/usr/bin/env python3
"""Refresh data/geo-whois-asn-country.mmdb from the npm registry.

Usage (standard library only; needs `npm` on PATH):

    python3 tools/geo/fetch_mmdb.py                 # the pinned version
    python3 tools/geo/fetch_mmdb.py --version X.Y.Z # another release
    npm view @ip-location-db/geo-whois-asn-country-mmdb version   # latest

It runs `npm pack` in a temporary directory (npm checks the tarball's
integrity), copies the combined IPv4+IPv6 database into data/, and rewrites
data/geo-whois-asn-country.LICENSE.md with the version, build date and
SHA-256 of the new file. Afterwards run the geo unit tests: they check that
the test fixture's networks still agree with the real data.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import pathlib
import shutil
import subprocess
import tarfile
import tempfile

PACKAGE = "@ip-location-db/geo-whois-asn-country-mmdb"
PINNED_VERSION = "2.3.2026061719"
DB_NAME = "geo-whois-asn-country.mmdb"

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "data"

LICENSE_TEMPLATE = """\
# geo-whois-asn-country.mmdb

IP-address-to-country database used by Enroll's GeoIP lookup (`src/geo`).

| | |
|---|---|
| Package | [`{package}`](https://www.npmjs.com/package/{package}) version `{version}` (npm registry) |
| File | `{db_name}` from that package (IPv4 and IPv6 in one MaxMind DB) |
| Database type | `{database_type}`, built {built} (metadata `build_epoch` {epoch}) |
| SHA-256 | `{sha256}` |
| Schema | one top-level key per network: `country_code`, an ISO 3166-1 alpha-2 string, e.g. `{{"country_code": "GB"}}` |
| Project | ip-location-db by sapics, https://github.com/sapics/ip-location-db |

## Licence

The package is published under **CC0-1.0** (public domain dedication) by its
author. It is built by merging geofeed data with the regional internet
registries' WHOIS and ASN data; the package's README says the RIR data is
licensed **CC BY 4.0 by the NRO** and ships this notice (`NRO_LICENSE`):

> {nro_license}

Attribution: contains data from the Number Resource Organization (NRO),
https://www.nro.net/, licensed under CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/); database compiled by
ip-location-db (https://github.com/sapics/ip-location-db), CC0-1.0.

## Refreshing

    python3 tools/geo/fetch_mmdb.py --version NEW_VERSION

then run the geo unit tests and commit `data/` together.

Caveat from the package's README at `{version}`: it warns that the data
published to npm "contains bugs resulting in incorrect data", and that npm
publication is deprecated and will stop in favour of the project's GitHub
releases. If npm stops receiving fixed versions, a newer file has to come
from there (or use a GeoLite2/GeoIP2 Country or City file: `src/geo` reads
both schemas).
"""


def metadata(db: bytes) -> dict:
    """The few metadata strings and integers we report, read without a MaxMind library."""
    marker = db.rindex(b"\xab\xcd\xefMaxMind.com") + 14
    tail = db[marker:]
    out = {}
    for key in ("database_type", "build_epoch"):
        at = tail.index(key.encode()) + len(key)
        ctrl = tail[at]
        if ctrl >> 5 == 2:  # short UTF-8 string
            size = ctrl & 0x1F
            out[key] = tail[at + 1 : at + 1 + size].decode()
        elif ctrl >> 5 == 0 and tail[at + 1] == 2:  # uint64
            size = ctrl & 0x1F
            out[key] = int.from_bytes(tail[at + 2 : at + 2 + size], "big")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", default=PINNED_VERSION)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        subprocess.run(
            ["npm", "pack", "--silent", f"{PACKAGE}@{args.version}"],
            cwd=workdir,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = workdir.glob("*.tgz")
        with tarfile.open(tarball) as tar:
            tar.extractall(workdir, filter="data")
        package = workdir / "package"
        manifest = json.loads((package / "package.json").read_text(encoding="utf-8"))
        if manifest.get("license") != "CC0-1.0":
            raise SystemExit(f"licence changed to {manifest.get('license')!r}: review before use")
        nro_license = (package / "NRO_LICENSE").read_text(encoding="utf-8").strip()
        DATA.mkdir(exist_ok=True)
        shutil.copyfile(package / DB_NAME, DATA / DB_NAME)

    db = (DATA / DB_NAME).read_bytes()
    meta = metadata(db)
    epoch = meta.get("build_epoch", 0)
    built = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")
    license_text = LICENSE_TEMPLATE.format(
        package=PACKAGE,
        version=manifest["version"],
        db_name=DB_NAME,
        database_type=meta.get("database_type", "?"),
        built=built,
        epoch=epoch,
        sha256=hashlib.sha256(db).hexdigest(),
        nro_license=nro_license.replace("\n", "\n> "),
    )
    (DATA / "geo-whois-asn-country.LICENSE.md").write_text(license_text, encoding="utf-8")
    print(f"{DB_NAME}: {manifest['version']}, {len(db)} bytes, built {built}")


if __name__ == "__main__":
    main()
