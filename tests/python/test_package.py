#SPDX - License - Identifier : Apache - 2.0
"""The package layout of ../shared/PYTHON_API.md: `import mailkit` alone gives every submodule
(they are imported eagerly), each name in __all__ exists, and the errors share mailkit.Error."""
import subprocess
import sys

import mailkit

SUBMODULES = ["dkim", "dmarc", "dns", "mime", "mtasts", "smtp", "spf", "store"]


def test_submodules_are_reachable_after_import_mailkit_alone():
#A fresh interpreter, so that no other test's `import mailkit.x` hides a missing eager import.
    code = ("import mailkit\n"
            "print(mailkit.smtp.send.__name__, mailkit.store.open.__name__,"
            " mailkit.dns.Resolver.__name__, mailkit.dkim.sign.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["send", "open", "Resolver", "sign"]


def test_all_lists_existing_names():
    for name in mailkit.__all__:
        assert hasattr(mailkit, name), name
    for name in SUBMODULES:
        assert name in mailkit.__all__


def test_errors_share_the_base_class():
    for cls in (mailkit.ParseError, mailkit.DnsError, mailkit.SmtpError, mailkit.StoreError):
        assert issubclass(cls, mailkit.Error)
