# SPDX-License-Identifier: Apache-2.0
"""nsd as a loopback test peer: authoritative for the zones given, restartable with new ones."""
import os
import subprocess
import time


class Nsd:
    """nsd on 127.0.0.1:<port> serving {zone name: zone text}; ready when `probe` has an SOA."""

    def __init__(self, d, port, nsd="/usr/sbin/nsd"):
        self.d = d
        self.port = port
        self.nsd = nsd
        self.proc = None

    def start(self, zones, probe=None):
        self.stop()
        with open(os.path.join(self.d, "nsd.conf"), "w") as f:
            f.write(f"""server:
  ip-address: 127.0.0.1@{self.port}
  do-ip6: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "{self.d}"
  pidfile: "{self.d}/nsd.pid"
  xfrdfile: "{self.d}/xfrd.state"
  zonelistfile: "{self.d}/zone.list"
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
""")
            for name, text in zones.items():
                path = os.path.join(self.d, name + ".zone")
                with open(path, "w") as z:
                    z.write(text)
                f.write(f'zone:\n  name: "{name}"\n  zonefile: "{path}"\n')
        for stale in ("zone.list", "xfrd.state"):
            p = os.path.join(self.d, stale)
            if os.path.exists(p):
                os.remove(p)
        log = open(os.path.join(self.d, "nsd.log"), "w")
        self.proc = subprocess.Popen([self.nsd, "-d", "-c", os.path.join(self.d, "nsd.conf")],
                                     stdout=log, stderr=subprocess.STDOUT)
        # Ready when it answers the SOA of the mail domain.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, open(os.path.join(self.d, "nsd.log")).read()
            r = subprocess.run(["drill", "-p", str(self.port), "@127.0.0.1", probe or next(iter(zones)), "SOA"],
                               capture_output=True, text=True, timeout=10)
            if "hostmaster" in r.stdout:
                return
            time.sleep(0.2)
        raise AssertionError("nsd did not start: " + open(os.path.join(self.d, "nsd.log")).read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None
