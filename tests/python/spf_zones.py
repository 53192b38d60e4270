# SPDX-License-Identifier: Apache-2.0
"""The SPF suite zones (tests/data/spf/*/*.json, made by tests/data/spf/convert.py) as one
in-memory zone model, served both to mailkit (through a resolver object with the
``query(name, rtype) -> list`` shape of mailkit.dns) and to pyspf (through its ``DNSLookup``
hook), so that a differential test compares the two checkers on exactly the same data.

Zone-loading rules: tests/data/spf/openspf/PROVENANCE.md (the same as the C++ harness,
tests/unit/spf/suite_zone.hpp):
  1. SPF-typed records are also TXT unless the name has an explicit TXT entry;
  2. TXT/SPF "NONE": the type is present with no record;
  3. a bare TIMEOUT times out the types the name has no records for (every type when alone);
  4. absent names are NXDOMAIN, except names beginning "error." (timeout);
  5. case-insensitive names; CNAMEs are followed.
"""

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SPF_DATA = REPO_ROOT / "tests" / "data" / "spf"
SUITES = {
    "rfc7208": SPF_DATA / "openspf" / "rfc7208-tests.json",
    "rfc4408": SPF_DATA / "openspf" / "rfc4408-tests.json",
    "stalwart": SPF_DATA / "stalwart" / "spf-tests.json",
}
TYPES = ("A", "AAAA", "MX", "TXT", "PTR", "CNAME")


class Timeout(Exception):
    """A query that times out."""


class Answer(list):
    """A query's records; ``nxdomain`` tells NXDOMAIN (True) from NODATA (False)."""

    nxdomain = False


class Zone:
    def __init__(self, zonedata):
        self.records = {}  # name -> {type -> [values]}
        self.timeouts = {}  # name -> set of types
        for name, entries in zonedata.items():
            name = name.lower().rstrip(".")
            explicit_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
            recs = self.records.setdefault(name, {})
            for e in entries:
                if not isinstance(e, dict):
                    continue
                for t, v in e.items():
                    if t == "SPF":
                        if explicit_txt:
                            continue
                        t = "TXT"
                    if v == "NONE":
                        continue
                    if t == "TXT":
                        v = [v] if isinstance(v, str) else list(v)
                    elif t in ("PTR", "CNAME"):
                        v = v.rstrip(".")
                    elif t == "MX":
                        v = (int(v[0]), v[1].rstrip("."))
                    recs.setdefault(t, []).append(v)
            if any(e == "TIMEOUT" for e in entries):
                self.timeouts[name] = {t for t in TYPES if t not in recs} if recs else set(TYPES)

    def lookup(self, name, rtype, depth=0):
        """(records, nxdomain) following CNAMEs; raises Timeout."""
        name = name.lower().rstrip(".")
        if rtype in self.timeouts.get(name, ()):
            raise Timeout(name)
        if name not in self.records:
            if name.startswith("error.") and name not in self.records:
                raise Timeout(name)
            return [], True
        recs = self.records[name]
        if rtype in recs:
            return list(recs[rtype]), False
        if "CNAME" in recs and rtype != "CNAME":
            if depth >= 8:
                raise Timeout(name)  # a loop: SERVFAIL
            return self.lookup(recs["CNAME"][0], rtype, depth + 1)
        return [], False


class MailkitResolver:
    """The ``query(name, rtype) -> list`` shape of mailkit.dns, over a Zone."""

    def __init__(self, zone, error_class):
        self.zone = zone
        self.error_class = error_class
        self.queries = 0

    def query(self, name, rtype):
        self.queries += 1
        try:
            recs, nx = self.zone.lookup(name, rtype)
        except Timeout:
            raise self.error_class("timeout: %s %s" % (name, rtype))
        out = Answer()
        out.nxdomain = nx
        for v in recs:
            out.append("".join(v) if rtype == "TXT" else v)
        return out


def pyspf_lookup(zone):
    """A replacement for pyspf's spf.DNSLookup(name, qtype, strict, timeout) over a Zone."""
    import spf

    def lookup(name, qtype, strict=True, timeout=None):
        if qtype == "SPF":  # RFC 7208: pyspf no longer asks, but answer NODATA if it does
            return []
        name = name.rstrip(".")
        try:
            recs = zone.records.get(name.lower(), {})
            if qtype in zone.timeouts.get(name.lower(), ()):
                raise Timeout(name)
            if name.lower() not in zone.records and name.lower().startswith("error."):
                raise Timeout(name)
        except Timeout as exc:
            raise spf.TempError("DNS timeout: %s" % exc)
        if qtype not in recs and "CNAME" in recs:
            # pyspf follows CNAMEs itself (and detects loops).
            return [((name, "CNAME"), recs["CNAME"][0])]
        out = []
        for v in recs.get(qtype, []):
            if qtype == "TXT":
                v = [s.encode("utf-8", "surrogateescape") for s in v]
            out.append(((name, qtype), v))
        return out

    return lookup


def load(suite):
    data = json.loads(SUITES[suite].read_text())
    zones = [Zone(z) for z in data["zones"]]
    return data, zones
