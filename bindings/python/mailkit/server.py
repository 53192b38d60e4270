# SPDX-License-Identifier: Apache-2.0
"""The reference mail server (what ``mailkitd`` runs) inside a Python process.

>>> import mailkit
>>> srv = mailkit.Server({"hostname": "mail.example.test", "data_dir": "/tmp/mk",
...                       "domains": ["example.test"],
...                       "smtp": {"listen_mx": ["127.0.0.1:0"], "listen_submission": [],
...                                "listen_submissions": []},
...                       "imap": {"listen_imap": [], "listen_imaps": ["127.0.0.1:0"]}})
>>> srv.start()
>>> srv.ports
{'smtp': 41234, 'imaps': 39871}
>>> srv.store.add_user("bob@example.test", "pw")
>>> srv.stop()

``config`` is a dict with the keys of mailkitd's TOML file (docs/configuration.md), a path to
such a file, or None for mailkitd's embedded default (``data_dir``, loopback ports, a
self-signed certificate, ``example.test`` with one user: ``srv.example_account``). A dict is
written as TOML and read by mailkitd's own loader, so unknown keys are errors here too.
Configuration errors raise :class:`mailkit.Error` at construction; a port that cannot be bound
raises it from :meth:`start`.

- ``start()`` binds every listener and serves from background threads; returns once bound.
- ``ports``: ``{service: port}`` for the first listener of each service as bound ("smtp",
  "submission", "submissions", "imap", "imaps", "https"); ``listeners`` lists them all.
- ``stop(grace=10.0)``: stop accepting, let sessions finish within ``grace`` seconds, close the
  rest; the queue stays consistent. Also called on ``with`` exit.
- ``store``: the server's :class:`mailkit.store.Store` (accounts, aliases, messages).
- ``stats``: connection, message and delivery counters; ``reload_tls()`` rereads the
  certificate files (what SIGHUP does to mailkitd).
"""

from __future__ import annotations

import datetime
import os
import tempfile

from mailkit._mailkit import Error

try:
    from mailkit._mailkit import server as _native
except ImportError:  # the extension was built without the apps (MAILKIT_BUILD_APPS=OFF)
    _native = None

__all__ = ["Server", "to_toml"]


def _key(k: str) -> str:
    if not isinstance(k, str) or not k:
        raise TypeError(f"configuration keys are non-empty strings, not {k!r}")
    if all(c.isalnum() or c in "-_" for c in k) and k.isascii():
        return k
    return _string(k)


def _string(s: str) -> str:
    out = ['"']
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, os.PathLike):
        return _string(os.fspath(v))
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} into the configuration")


def _is_table_array(v: object) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(isinstance(x, dict) for x in v)


def _table(path: list[str], d: dict, lines: list[str]) -> None:
    # Scalars and inline values first, then sub-tables and arrays of tables (TOML's order).
    for k, v in d.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append("")
            lines.append("[" + ".".join(_key(p) for p in path + [k]) + "]")
            _table(path + [k], v, lines)
        elif _is_table_array(v):
            for item in v:
                lines.append("")
                lines.append("[[" + ".".join(_key(p) for p in path + [k]) + "]]")
                _table(path + [k], item, lines)


def to_toml(config: dict) -> str:
    """The TOML text of a configuration dict (what :class:`Server` hands mailkitd's loader)."""
    if not isinstance(config, dict):
        raise TypeError("the configuration is a dict")
    lines: list[str] = []
    _table([], config, lines)
    return "\n".join(lines).lstrip("\n") + "\n"


class Server:
    """The mail server of mailkitd, run from Python (see the module documentation)."""

    def __init__(self, config: dict | str | os.PathLike | None = None, *,
                 data_dir: str | os.PathLike = "var") -> None:
        if _native is None:
            raise Error("mailkit.Server needs the extension built with the apps "
                        "(MAILKIT_BUILD_APPS=ON): mailkitd's configuration loader is part of them")
        self._tmp: str | None = None
        if config is None:
            path = ""
        elif isinstance(config, dict):
            fd, self._tmp = tempfile.mkstemp(prefix="mailkit-", suffix=".toml")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(to_toml(config))
            path = self._tmp
        else:
            path = os.fspath(config)
        try:
            self._native = _native.Server(path, os.fspath(data_dir))
        finally:
            if self._tmp is not None:
                os.unlink(self._tmp)
                self._tmp = None

    def start(self) -> None:
        self._native.start()

    def stop(self, grace: float = 10.0) -> None:
        self._native.stop(grace)

    def reload_tls(self) -> None:
        self._native.reload_tls()

    @property
    def ports(self) -> dict[str, int]:
        return self._native.ports

    @property
    def listeners(self) -> list[tuple[str, str, int]]:
        return self._native.listeners

    @property
    def store(self):  # -> mailkit.store.Store
        return self._native.store

    @property
    def stats(self) -> dict[str, int]:
        return self._native.stats

    @property
    def example_account(self) -> tuple[str, str] | None:
        return self._native.example_account

    @property
    def hostname(self) -> str:
        return self._native.hostname

    @property
    def data_dir(self) -> str:
        return self._native.data_dir

    @property
    def running(self) -> bool:
        return self._native.running

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
