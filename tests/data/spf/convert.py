#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Convert the SPF conformance suites in this folder to the one JSON shape the C++ harness
(tests/unit/spf/conformance_test.cpp) and the pyspf differential test read:

  {"suite": str, "zones": [zonedata, ...],
   "tests": [{"scenario", "name", "zone": index, "spec", "helo", "host", "mailfrom",
              "domain" (optional), "helo_first" (optional), "result": [str, ...],
              "explanation" (optional)}]}

zonedata keeps the OpenSPF form: {name: [{"TYPE": value} | "TIMEOUT", ...]}; the zone-loading
rules of openspf/PROVENANCE.md are applied by the harness, not here.

  openspf/rfc7208-tests.yml, rfc4408-tests.yml: plain YAML (python3-yaml).
  stalwart/*.yml: not YAML; read line by line as stalwart/PROVENANCE.md describes.

Run from anywhere: /usr/bin/python3 tests/data/spf/convert.py  (rewrites the .json files;
tests/python/test_spf.py fails when they are stale).
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def openspf(path, suite):
    import yaml
    zones, tests = [], []
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            zones.append(doc.get("zonedata") or {})
            for name, t in doc["tests"].items():
                res = t["result"]
                item = {
                    "scenario": doc["description"], "name": name, "zone": len(zones) - 1,
                    "spec": str(t.get("spec", "")), "helo": t.get("helo", ""),
                    "host": t["host"], "mailfrom": t.get("mailfrom", "") or "",
                    "result": res if isinstance(res, list) else [res],
                }
                if "explanation" in t:
                    item["explanation"] = t["explanation"]
                tests.append(item)
    return {"suite": suite, "zones": zones, "tests": tests}


def reverse_name(ip):
    import ipaddress
    return ipaddress.ip_address(ip).reverse_pointer


def stalwart():
    """Each file is a program: record lines change one shared zone (per file, so records
    accumulate across its scenarios and a later line for the same name and type replaces the
    earlier one); domain/sender/ip lines set the current test values; every expect line is a
    test run against the zone as it is at that point."""
    zones, tests = [], []
    for fname in sorted(os.listdir(os.path.join(HERE, "stalwart"))):
        if not fname.endswith(".yml"):
            continue
        zone = {}  # name -> {type -> [values]}
        snapshot = None
        cur = {"domain": "", "sender": "", "ip": ""}
        scenario = ""
        text = open(os.path.join(HERE, "stalwart", fname), encoding="utf-8").read()

        def put(name, rtype, values):
            nonlocal snapshot
            zone.setdefault(name.lower().rstrip("."), {})[rtype] = values
            snapshot = None

        for raw in text.split("\n"):
            line = raw.strip()
            if line.startswith("#") or not line or line == "---":
                continue
            if line.startswith("-"):
                line = line[1:].strip()
            key, _, value = line.partition(":")
            value = value.strip()
            if key == "name":
                scenario = value
            elif key in ("spf", "exp"):
                name, _, rec = value.partition(" ")
                put(name, "TXT", [rec])
            elif key in ("a", "aaaa"):
                name, _, ips = value.partition(" ")
                put(name, key.upper(), [x.strip() for x in ips.split(",") if x.strip()])
            elif key == "ptr":
                ip, _, names = value.partition(" ")
                put(reverse_name(ip), "PTR", [x.strip() for x in names.split(",") if x.strip()])
            elif key == "mx":
                name, _, ips = value.partition(" ")
                mxs = []
                for pos, ip in enumerate(x.strip() for x in ips.split(",") if x.strip()):
                    host = "mx.%s.%d" % (ip, pos)
                    mxs.append([pos + 1, host])
                    put(host, "AAAA" if ":" in ip else "A", [ip])
                put(name, "MX", mxs)
            elif key in ("domain", "sender", "ip"):
                cur[key] = value
            elif key == "expect":
                if snapshot is None:
                    zd = {}
                    for name, types in zone.items():
                        zd[name] = [{t: v} for t, vals in types.items() for v in vals]
                    # Names whose first label is "_dns_error" answer with a DNS error (the
                    # convention of mail-auth's test resolver).
                    for m in re.findall(r"_dns_error(?:\.[A-Za-z0-9-]+)+", text):
                        zd[m.lower()] = ["TIMEOUT"]
                    zones.append(zd)
                    snapshot = len(zones) - 1
                word, _, expl = value.partition(" ")
                sender = cur["sender"]
                item = {
                    "scenario": "%s: %s" % (fname, scenario), "name": "%s#%d" % (fname, len(tests)),
                    "zone": snapshot, "spec": "", "helo": cur["domain"], "host": cur["ip"],
                    "mailfrom": sender, "domain": cur["domain"], "result": [word],
                }
                sdom = sender.rpartition("@")[2] if sender else ""
                if sender and sdom.lower() != cur["domain"].lower():
                    # domain names the HELO: its check is made first and a fail there is final.
                    item["helo_first"] = True
                if expl.strip():
                    item["explanation"] = expl.strip()
                tests.append(item)
    return {"suite": "mail-auth (Stalwart) SPF", "zones": zones, "tests": tests}


def outputs():
    return {
        os.path.join(HERE, "openspf", "rfc7208-tests.json"):
            openspf(os.path.join(HERE, "openspf", "rfc7208-tests.yml"), "OpenSPF RFC 7208"),
        os.path.join(HERE, "openspf", "rfc4408-tests.json"):
            openspf(os.path.join(HERE, "openspf", "rfc4408-tests.yml"), "OpenSPF RFC 4408"),
        os.path.join(HERE, "stalwart", "spf-tests.json"): stalwart(),
    }


def render(data):
    return json.dumps(data, indent=1, ensure_ascii=True, sort_keys=True) + "\n"


if __name__ == "__main__":
    for path, data in outputs().items():
        with open(path, "w", encoding="ascii") as f:
            f.write(render(data))
        print("%s: %d tests" % (os.path.relpath(path, HERE), len(data["tests"])), file=sys.stderr)
