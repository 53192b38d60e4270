#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""spf_pyspf.py [SECONDS]: the pyspf anchor of benchmarks/spf_bench.sh. pyspf (Debian
python3-spf, spf.check2) evaluates the 203 tests of the OpenSPF RFC 7208 suite, each against its
zone served from memory through pyspf's DNSLookup hook (tests/python/spf_zones.py: the same
zones and loading rules as mailkit's static resolver). Prints one line:
  pyspf_evals_per_s=N pyspf_checks=203
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import spf  # noqa: E402
import spf_zones  # noqa: E402


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    data, zones = spf_zones.load("rfc7208")
    checks = [(spf_zones.pyspf_lookup(zones[t["zone"]]), t) for t in data["tests"]]
    done = 0
    start = time.perf_counter()
    while True:
        for lookup, t in checks:
            spf.DNSLookup = lookup
            spf.check2(i=t["host"], s=t["mailfrom"], h=t["helo"], receiver="mx.example.com")
        done += len(checks)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    print("pyspf_evals_per_s=%.0f pyspf_checks=%d" % (done / elapsed, len(checks)))


if __name__ == "__main__":
    main()
