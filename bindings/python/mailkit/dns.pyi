# SPDX-License-Identifier: Apache-2.0
from typing import Any, Iterable, Mapping, Optional, Union

_Value = Any  # str | bytes | tuple, by record type (see StaticResolver)

class Answer(list):
    name: str
    rtype: str
    rcode: str  # "NOERROR" | "NXDOMAIN"
    ttl: int
    authenticated: bool
    canonical_name: str
    @property
    def nxdomain(self) -> bool: ...

class BaseResolver:
    def query(self, name: Union[str, bytes], rtype: str) -> Answer: ...

class StaticResolver(BaseResolver):
    def __init__(self, zone: Optional[Mapping[str, Union[str, Mapping[str, Any]]]] = None,
                 ttl: int = 300) -> None: ...
    def add(self, name: str, rtype: str, value: _Value, ttl: int = 300) -> None: ...
    def fail(self, name: str, rtype: Optional[str] = None, error: str = "TIMEOUT") -> None: ...
    @property
    def queries(self) -> int: ...

class Resolver(BaseResolver):
    def __init__(self, servers: Optional[Iterable[str]] = None, timeout: Optional[float] = None,
                 *, tries: int = 2, rotate: bool = False, tcp: bool = False, edns: bool = True,
                 dnssec_ok: bool = False, resolv_conf: Optional[str] = None,
                 cache: bool = False) -> None: ...
    @property
    def servers(self) -> list[str]: ...

def to_ascii(name: Union[str, bytes]) -> str: ...
def reverse_name(ip: Union[str, bytes]) -> str: ...

__all__ = ["Answer", "BaseResolver", "Resolver", "StaticResolver", "reverse_name", "to_ascii"]
