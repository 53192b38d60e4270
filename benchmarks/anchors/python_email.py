#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# python_email: the Python anchor for mime_throughput. Same work on the same files, same output
# line, with one of two implementations:
#   --impl=email    CPython's email package: BytesParser(policy=email.policy.default), walk(),
#                   get_payload(decode=True) of every non-multipart part   (line name: python-email)
#   --impl=mailkit  the mailkit binding: mailkit.mime.parse(), Message.walk(), Part.content() of
#                   every leaf (neither multipart nor message/rfc822)     (line name: mailkit-python)
# so that the binding can be compared with the package it replaces. --mode=parse parses only.
# Files are read into memory first; the clock covers only the parsing. --peak parses one file
# (read whole into a bytes object, as a Python caller holds it) and reports the peak RSS.
# The mailkit binding is found through PYTHONPATH=<build>/bindings/python.
#
# Output, one line: "python-email mode=walk decode=copy files=200 repeat=1 bytes=... parts=...
# decoded=... seconds=... mb_per_s=..." (MB = 10^6 bytes). Exit status: 0 success, 1 unreadable
# file, parse failure or missing binding, 2 usage.
import argparse
import resource
import sys
import time


def make_email_impl():
    import email.parser
    import email.policy

    parser = email.parser.BytesParser(policy=email.policy.default)

    def run(data, walk, tally):
        msg = parser.parsebytes(data)
        for part in msg.walk():
            tally[0] += 1
            if walk and not part.is_multipart():
                payload = part.get_payload(decode=True)
                if payload is not None:
                    tally[1] += len(payload)

    return "python-email", run


def make_mailkit_impl():
    import mailkit.mime

    parse = mailkit.mime.parse

    def run(data, walk, tally):
        msg = parse(data)
        for part in msg.walk():
            tally[0] += 1
            if walk and not part.is_multipart and not part.is_message:
                tally[1] += len(part.content())

    return "mailkit-python", run


def main():
    ap = argparse.ArgumentParser(description="Python MIME throughput anchor")
    ap.add_argument("--impl", choices=["email", "mailkit"], default="email")
    ap.add_argument("--mode", choices=["walk", "parse"], default="walk")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--peak", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.repeat < 1 or (args.peak and len(args.files) != 1):
        ap.print_usage(sys.stderr)
        return 2
    try:
        name, run = make_email_impl() if args.impl == "email" else make_mailkit_impl()
    except ImportError as e:
        print(f"python_email: cannot import the {args.impl} implementation: {e}", file=sys.stderr)
        return 1
    walk = args.mode == "walk"
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tally = [0, 0]  # parts, decoded bytes

    start = time.perf_counter() if args.peak else None
    data = []
    for path in args.files:
        try:
            with open(path, "rb") as f:
                data.append(f.read())
        except OSError as e:
            print(f"python_email: {e}", file=sys.stderr)
            return 1
    total = sum(len(d) for d in data)

    if not args.peak:
        start = time.perf_counter()
    try:
        for _ in range(args.repeat):
            for d in data:
                run(d, walk, tally)
    except Exception as e:  # a benchmark reports, it does not debug
        print(f"python_email: {name}: parse failed: {e!r}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    nbytes = total * args.repeat
    mode = "peak" if args.peak else args.mode
    line = (f"{name} mode={mode} decode=copy files={len(data)} repeat={args.repeat} "
            f"bytes={nbytes} parts={tally[0]} decoded={tally[1]} seconds={seconds:.4f} "
            f"mb_per_s={nbytes / 1e6 / seconds:.1f}")
    if args.peak:
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        line += (f" peak_rss_kb={peak_kb} baseline_rss_kb={baseline_kb} "
                 f"ratio={peak_kb * 1024 / total:.3f}")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
