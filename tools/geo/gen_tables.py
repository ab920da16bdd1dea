#!/usr/bin/env python3
"""Generate src/domain/tables.rs from Unicode CLDR data (the npm package cldr-core).

Usage, from anywhere (standard library only; needs `npm` on PATH unless you
pass an already extracted package directory):

    python3 tools/geo/gen_tables.py                  # fetch cldr-core@PINNED with npm
    python3 tools/geo/gen_tables.py --version 49.0.0 # fetch another release
    python3 tools/geo/gen_tables.py --cldr-core DIR  # use an extracted package/ dir
    python3 tools/geo/gen_tables.py --check          # fail if tables.rs is stale

Fetching runs `npm pack cldr-core@VERSION` in a temporary directory and
unpacks the tarball there; nothing is installed into the repository. The
output is piped through `rustfmt --edition 2024` when rustfmt is on PATH so
that the committed file is rustfmt-clean.

After bumping the version, run `cargo test geo::` and read the diff: the
asserts below stop the script if CLDR changes shape (for example if a country
loses its currency or the ISO 3166-1 list is no longer 249 codes long).

What is generated, and the decisions behind it:

* Countries: the 249 assigned ISO 3166-1 alpha-2 codes, taken from CLDR's
  codeMappings (codes with both a numeric and an alpha-3 code), minus
  private-use codes, CLDR's deprecated territory aliases and the
  exceptionally reserved codes (EU, UK, AC, ...). Plus XK (Kosovo): a
  user-assigned code, but GeoIP databases and RIRs place Kosovo's addresses
  under XK and CLDR gives it a currency (EUR) and a locale (sq_XK), so
  dropping it would only make those customers unplaceable.
* currency_for: the first entry of CLDR's currencyData region list that has
  no `_to` and is not `_tender="false"`; CLDR lists a region's primary
  currency first, so for regions with two tenders (PA: PAB and USD) this is
  CLDR's primary one. See CURRENCY_FALLBACK for countries CLDR gives none.
* is_currency: every currency that is legal tender somewhere today by the same
  rule, i.e. no historic currencies and no funds codes (USN, CHE, BOV, ...).
* locale_for: CLDR's likely-subtags answer for `und-CC`, script dropped
  (und-CH -> de-Latn-CH -> de_CH). CLDR leaves out entries that follow from
  the `und` entry (und -> en-Latn-US), so a missing und-CC means `en_CC`,
  exactly as the CLDR algorithm would answer (GB, US, AQ, ...).
* is_known_locale: every locale_for value, plus every language and
  language_REGION locale in availableLocales (full) and defaultContent, with
  any script dropped (zh-Hant-TW -> zh_TW). Locales whose region is not in
  the country list (numeric regions such as es-419, and CLDR-only regions
  such as es-IC or en-DG) and locales with variants (ca-ES-valencia) are left
  out: Enroll's locale is language or language_COUNTRY.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

PINNED_VERSION = "48.2.0"

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "src" / "domain" / "tables.rs"

ISO_3166_1_COUNT = 249

# ISO 3166/MA "exceptionally reserved" codes: not countries, even where CLDR
# knows them as regions.
EXCEPTIONALLY_RESERVED = {
    "AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "FX", "IC", "SU", "TA", "UK", "UN",
}

# User-assigned codes we accept anyway; see the module docstring.
EXTRA_COUNTRIES = {"XK"}

# Countries for which CLDR names no legal tender. Antarctica's only CLDR entry
# is XXX ("no currency", not tender); a registration still needs a price
# currency, and the research stations' suppliers bill in USD.
CURRENCY_FALLBACK = {"AQ": "USD"}


def is_private_use(code: str) -> bool:
    return code in ("AA", "ZZ") or "QM" <= code <= "QZ" or "XA" <= code <= "XZ"


def load(root: pathlib.Path, rel: str):
    with open(root / rel, encoding="utf-8") as f:
        return json.load(f)


def countries(root: pathlib.Path) -> list[str]:
    mappings = load(root, "supplemental/codeMappings.json")["supplemental"]["codeMappings"]
    aliases = load(root, "supplemental/aliases.json")["supplemental"]["metadata"]["alias"]
    deprecated = set(aliases["territoryAlias"])
    iso = sorted(
        code
        for code, m in mappings.items()
        if re.fullmatch("[A-Z]{2}", code)
        and "_numeric" in m
        and "_alpha3" in m
        and not is_private_use(code)
        and code not in deprecated
        and code not in EXCEPTIONALLY_RESERVED
    )
    if len(iso) != ISO_3166_1_COUNT:
        sys.exit(f"expected {ISO_3166_1_COUNT} ISO 3166-1 codes, CLDR gives {len(iso)}: {iso}")
    return sorted(set(iso) | EXTRA_COUNTRIES)


def tender_now(entries: list[dict]) -> list[str]:
    """Currencies of one region that are legal tender today, primary first."""
    out = []
    for entry in entries:
        for code, attrs in entry.items():
            if "_to" not in attrs and attrs.get("_tender") != "false" and code not in out:
                out.append(code)
    return out


def currencies(root: pathlib.Path, country_list: list[str]) -> tuple[dict[str, str], list[str]]:
    regions = load(root, "supplemental/currencyData.json")["supplemental"]["currencyData"]["region"]
    by_country = {}
    for cc in country_list:
        current = tender_now(regions.get(cc, []))
        if current:
            by_country[cc] = current[0]
        elif cc in CURRENCY_FALLBACK:
            by_country[cc] = CURRENCY_FALLBACK[cc]
        else:
            sys.exit(f"CLDR gives {cc} no current legal tender; add it to CURRENCY_FALLBACK")
    for cc in CURRENCY_FALLBACK:
        if tender_now(regions.get(cc, [])):
            sys.exit(f"CLDR now gives {cc} a currency; drop it from CURRENCY_FALLBACK")
    active = {code for entries in regions.values() for code in tender_now(entries)}
    active |= set(by_country.values())
    for code in active:
        if not re.fullmatch("[A-Z]{3}", code):
            sys.exit(f"unexpected currency code {code!r}")
    return by_country, sorted(active)


def locales_for(root: pathlib.Path, country_list: list[str]) -> dict[str, str]:
    likely = load(root, "supplemental/likelySubtags.json")["supplemental"]["likelySubtags"]
    default_language = likely["und"].split("-")[0]
    out = {}
    for cc in country_list:
        tag = likely.get(f"und-{cc}")
        if tag is None:
            out[cc] = f"{default_language}_{cc}"
            continue
        parts = tag.split("-")
        if len(parts) != 3 or parts[2] != cc or parts[0] == "und":
            sys.exit(f"unexpected likely subtags for und-{cc}: {tag}")
        out[cc] = f"{parts[0]}_{cc}"
    return out


def known_locales(root: pathlib.Path, country_set: set[str], locale_values) -> list[str]:
    tags = list(load(root, "availableLocales.json")["availableLocales"]["full"])
    tags += load(root, "defaultContent.json")["defaultContent"]
    out = set(locale_values)
    for tag in tags:
        parts = tag.split("-")
        if not re.fullmatch("[a-z]{2,3}", parts[0]):
            continue  # root, und
        rest = parts[1:]
        if rest and re.fullmatch("[A-Z][a-z]{3}", rest[0]):
            rest = rest[1:]
        if not rest:
            out.add(parts[0])
        elif len(rest) == 1 and rest[0] in country_set:
            out.add(f"{parts[0]}_{rest[0]}")
    return sorted(out)


def str_array(name: str, doc: str, items: list[str]) -> str:
    body = ", ".join(f'"{s}"' for s in items)
    return f"/// {doc}\nstatic {name}: [&str; {len(items)}] = [{body}];\n"


TEMPLATE = """\
// @generated by tools/geo/gen_tables.py from cldr-core {version} (Unicode CLDR {cldr}).
// Do not edit by hand: change the script and run it again.
//
// Data derived from Unicode CLDR. Copyright (c) 1991-2026 Unicode, Inc.
// SPDX-License-Identifier: Unicode-3.0 (see tools/geo/UNICODE-LICENSE.txt)

//! Country, currency and locale facts from Unicode CLDR {cldr}.

{countries}
{currency_of}
{locale_of}
{currencies}
{locales}
fn index_of(table: &[&str], code: &str) -> Option<usize> {{
    table.binary_search(&code).ok()
}}

/// Whether `code` is an assigned ISO 3166-1 alpha-2 country code (uppercase),
/// or XK (Kosovo), which GeoIP databases use.
pub fn is_country(code: &str) -> bool {{
    index_of(&COUNTRIES, code).is_some()
}}

/// The table's own copy of a country code, so callers can hold it as `'static`.
pub fn static_country(code: &str) -> Option<&'static str> {{
    COUNTRIES.get(index_of(&COUNTRIES, code)?).copied()
}}

/// The ISO 4217 code of the country's current legal tender (CLDR's primary
/// currency), or `None` if `country` is not a known country code.
pub fn currency_for(country: &str) -> Option<&'static str> {{
    CURRENCY_OF.get(index_of(&COUNTRIES, country)?).copied()
}}

/// Whether `code` is an ISO 4217 currency that is legal tender somewhere today.
pub fn is_currency(code: &str) -> bool {{
    index_of(&CURRENCIES, code).is_some()
}}

/// The likely locale (`language_COUNTRY`) of a country, e.g. `CH` -> `de_CH`,
/// or `None` if `country` is not a known country code.
pub fn locale_for(country: &str) -> Option<&'static str> {{
    LOCALE_OF.get(index_of(&COUNTRIES, country)?).copied()
}}

/// Whether `code` is a locale Enroll accepts: `language` or `language_COUNTRY`
/// as CLDR spells them (`en`, `en_US`, `gsw_CH`); case-sensitive.
pub fn is_known_locale(code: &str) -> bool {{
    index_of(&LOCALES, code).is_some()
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn tables_are_sorted_and_aligned() {{
        for table in [&COUNTRIES[..], &CURRENCIES[..], &LOCALES[..]] {{
            assert!(table.windows(2).all(|w| w[0] < w[1]));
        }}
        assert_eq!(COUNTRIES.len(), CURRENCY_OF.len());
        assert_eq!(COUNTRIES.len(), LOCALE_OF.len());
    }}

    #[test]
    fn countries() {{
        assert_eq!(COUNTRIES.len(), {country_count});
        for code in ["GB", "US", "DE", "CH", "AQ", "XK", "BQ", "SS"] {{
            assert!(is_country(code), "{{code}}");
        }}
        for code in ["UK", "EU", "UN", "ZZ", "QO", "AN", "gb", "G", "GBR", ""] {{
            assert!(!is_country(code), "{{code}}");
        }}
        assert_eq!(static_country("GB"), Some("GB"));
        assert_eq!(static_country("UK"), None);
    }}

    #[test]
    fn currencies() {{
        let cases = [
            ("GB", "GBP"),
            ("US", "USD"),
            ("CH", "CHF"),
            ("DE", "EUR"),
            ("JP", "JPY"),
            ("BR", "BRL"),
            ("PA", "PAB"),
            ("AQ", "USD"),
            ("XK", "EUR"),
        ];
        for (country, currency) in cases {{
            assert_eq!(currency_for(country), Some(currency), "{{country}}");
        }}
        assert_eq!(currency_for("UK"), None);
        for code in ["EUR", "USD", "GBP", "CHF", "JPY"] {{
            assert!(is_currency(code), "{{code}}");
        }}
        for code in ["DEM", "FRF", "CHE", "USN", "XXX", "XAU", "eur", "EU", ""] {{
            assert!(!is_currency(code), "{{code}}");
        }}
    }}

    #[test]
    fn locales() {{
        let cases = [
            ("CH", "de_CH"),
            ("BE", "nl_BE"),
            ("CA", "en_CA"),
            ("JP", "ja_JP"),
            ("BR", "pt_BR"),
            ("GB", "en_GB"),
            ("US", "en_US"),
            ("NL", "nl_NL"),
            ("AQ", "en_AQ"),
        ];
        for (country, locale) in cases {{
            assert_eq!(locale_for(country), Some(locale), "{{country}}");
        }}
        assert_eq!(locale_for("UK"), None);
        for code in ["en", "en_US", "en_GB", "de_DE", "fr_CH", "zh_TW", "gsw_CH", "ca_ES"] {{
            assert!(is_known_locale(code), "{{code}}");
        }}
        for code in ["en_us", "EN_US", "en-US", "en_UK", "es_419", "zh_Hant_TW", "xx_XX", ""] {{
            assert!(!is_known_locale(code), "{{code}}");
        }}
    }}

    #[test]
    fn every_country_has_a_known_currency_and_locale() {{
        for country in COUNTRIES {{
            let currency = currency_for(country);
            assert!(currency.is_some_and(is_currency), "{{country}}: {{currency:?}}");
            let locale = locale_for(country);
            assert!(locale.is_some_and(is_known_locale), "{{country}}: {{locale:?}}");
            assert!(locale.is_some_and(|l| l.ends_with(country)), "{{country}}: {{locale:?}}");
        }}
    }}
}}
"""


def generate(root: pathlib.Path) -> str:
    package = load(root, "package.json")
    country_list = countries(root)
    currency_of, active = currencies(root, country_list)
    locale_of = locales_for(root, country_list)
    locales = known_locales(root, set(country_list), locale_of.values())
    return TEMPLATE.format(
        version=package["version"],
        cldr=package.get("cldrVersion", "?"),
        country_count=len(country_list),
        countries=str_array(
            "COUNTRIES", "ISO 3166-1 alpha-2 codes plus XK, sorted.", country_list
        ),
        currency_of=str_array(
            "CURRENCY_OF",
            "`CURRENCY_OF[i]` is the currency of `COUNTRIES[i]`.",
            [currency_of[c] for c in country_list],
        ),
        locale_of=str_array(
            "LOCALE_OF",
            "`LOCALE_OF[i]` is the likely locale of `COUNTRIES[i]`.",
            [locale_of[c] for c in country_list],
        ),
        currencies=str_array("CURRENCIES", "Active ISO 4217 codes, sorted.", active),
        locales=str_array("LOCALES", "Accepted locales, sorted.", locales),
    )


def rustfmt(source: str) -> str:
    exe = shutil.which("rustfmt")
    if exe is None:
        print("warning: rustfmt not on PATH; output is not formatted", file=sys.stderr)
        return source
    done = subprocess.run(
        [exe, "--edition", "2024", "--emit", "stdout"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def fetch(version: str, workdir: pathlib.Path) -> pathlib.Path:
    subprocess.run(
        ["npm", "pack", "--silent", f"cldr-core@{version}"],
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (tarball,) = workdir.glob("cldr-core-*.tgz")
    with tarfile.open(tarball) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cldr-core", type=pathlib.Path, help="extracted cldr-core package dir")
    parser.add_argument("--version", default=PINNED_VERSION, help="cldr-core version to fetch")
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="only check the output is current")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.cldr_core or fetch(args.version, pathlib.Path(tmp))
        source = rustfmt(generate(root))

    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != source:
            sys.exit(f"{args.output} is stale: run tools/geo/gen_tables.py")
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(source, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
