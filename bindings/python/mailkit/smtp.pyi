# SPDX-License-Identifier: Apache-2.0
from typing import Iterable, Literal

def send(
    message: bytes | str,
    *,
    host: str,
    port: int = 587,
    tls: Literal["starttls", "implicit", "none"] = "starttls",
    username: str | None = None,
    password: str | None = None,
    auth: Literal["auto", "plain", "login"] = "auto",
    mail_from: str | bytes | None = None,
    rcpt_to: str | bytes | Iterable[str | bytes] | None = None,
    cafile: str | None = None,
    verify: bool = True,
    timeout: float = 60,
    helo: str | None = None,
    pipelining: bool = True,
    chunking: bool = True,
) -> dict[str, tuple[int, str]]: ...

__all__ = ["send"]
