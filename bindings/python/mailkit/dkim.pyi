# SPDX-License-Identifier: Apache-2.0
from datetime import datetime
from typing import Any, Iterable, Literal, Mapping, Protocol, Sequence

from mailkit.dns import BaseResolver

class _TxtResolver(Protocol):
    def query(self, name: str, rtype: str) -> list[Any]: ...

_Resolver = BaseResolver | _TxtResolver | Mapping[str | bytes, Sequence[str | bytes] | str]
_Time = int | float | datetime

class Result:
    """The outcome of one DKIM-Signature."""
    @property
    def result(self) -> Literal["pass", "fail", "neutral", "policy", "temperror", "permerror", "none"]: ...
    @property
    def reason(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def selector(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def key_bits(self) -> int: ...
    @property
    def weak(self) -> bool: ...
    @property
    def testing(self) -> bool: ...
    @property
    def body_length(self) -> int | None: ...
    @property
    def unsigned_body_octets(self) -> int: ...
    @property
    def resinfo(self) -> str: ...
    def __bool__(self) -> bool: ...

def sign(
    message: bytes,
    selector: str | bytes,
    domain: str | bytes,
    privkey: bytes,
    *,
    algorithm: Literal["rsa-sha256", "ed25519-sha256"] = "rsa-sha256",
    canonicalize: tuple[str | bytes, str | bytes] = ("relaxed", "relaxed"),
    include_headers: Iterable[str | bytes] | None = None,
    length: bool = False,
    timestamp: _Time | None = None,
    expiration: _Time | None = None,
    identity: str | bytes | None = None,
) -> bytes: ...
def verify(
    message: bytes,
    *,
    resolver: _Resolver | None = None,
    now: _Time | None = None,
    allow_rsa_sha1: bool = False,
    clock_skew: float = 300.0,
) -> bool: ...
def verify_all(
    message: bytes,
    *,
    resolver: _Resolver | None = None,
    now: _Time | None = None,
    allow_rsa_sha1: bool = False,
    clock_skew: float = 300.0,
) -> list[Result]: ...
def keygen(kind: Literal["rsa-2048", "ed25519"] | str = "rsa-2048") -> tuple[bytes, str]: ...
def split_txt(value: str) -> list[str]: ...
def authentication_results(authserv_id: str, results: Sequence[Result]) -> str: ...
def parse_authentication_results(value: str) -> dict[str, Any] | None: ...

__all__: list[str]
