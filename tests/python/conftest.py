# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures for the Python binding tests.

Run from the repository root after building the ``_mailkit`` target::

    PYTHONPATH=<build>/bindings/python /usr/bin/python3 -m pytest -q tests/python

Nothing here is skipped: a missing extension or a missing CPython email test corpus is a broken
setup, and fails with the command that fixes it.
"""

import os
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# CPython's own email test messages (Debian package libpython3.11-testsuite).
EMAIL_TEST_DATA = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"

try:
    import mailkit  # noqa: F401  (imported to fail early with a useful message)
except ImportError as exc:  # pragma: no cover - a setup error, reported to the user
    raise pytest.UsageError(
        f"cannot import mailkit ({exc}). Build the extension "
        "(cmake --build <build> --target _mailkit) and run with "
        "PYTHONPATH=<build>/bindings/python"
    ) from exc


def email_test_files():
    """The msg_*.txt files of CPython's email test suite, sorted by name."""
    return sorted(EMAIL_TEST_DATA.glob("msg_*.txt"))


def require_email_test_data():
    """Fail (never skip) when the CPython email test corpus is not installed."""
    if not EMAIL_TEST_DATA.is_dir() or not email_test_files():
        pytest.fail(
            f"CPython's email test messages are missing ({EMAIL_TEST_DATA}/msg_*.txt). "
            "Install them with: bash scripts/bootstrap.sh "
            "(Debian package libpython3.11-testsuite)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def repo_root():
    return REPO_ROOT


@pytest.fixture(scope="session")
def email_data_dir():
    require_email_test_data()
    return EMAIL_TEST_DATA


@pytest.fixture(scope="session")
def sample_eml():
    """A multipart/mixed message with alternative text/HTML, QP latin-1 and an RFC 2231 file."""
    return REPO_ROOT / "examples" / "data" / "sample.eml"


@pytest.fixture(scope="session")
def python_env():
    """The environment for running example scripts: this interpreter's mailkit on PYTHONPATH."""
    env = dict(os.environ)
    package_dir = str(Path(mailkit.__file__).resolve().parent.parent)
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = package_dir + (os.pathsep + inherited if inherited else "")
    return env
