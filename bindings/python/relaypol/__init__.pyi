import enum
import ipaddress
import os
from typing import FrozenSet, List, NamedTuple, Optional, Union, final

__version__: str

_Address = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address, bytes, bytearray, memoryview]
_Text = Union[str, bytes]

class Verdict(enum.StrEnum):
    LOCAL = "local"
    RELAY = "relay"
    DENY = "deny"

class Step(enum.StrEnum):
    ACCEPTED_DOMAIN = "accepted-domain"
    LOCAL_LITERAL = "local-literal"
    DENY_LIST = "deny-list"
    ALLOW_LIST = "allow-list"
    LOCAL_IP_LIST = "local-ip-list"
    AUTHENTICATED = "authenticated"
    ONLY_DENY_BIT = "only-deny-bit"
    NO_RULE = "no-rule"
    BAD_RECIPIENT = "bad-recipient"
    SUBMISSION = "submission-refused"

class Auth(enum.StrEnum):
    NONE = "none"
    USED = "used"
    NOT_ENABLED = "not-enabled"
    NOT_LISTED = "not-listed"
    NO_TLS = "no-tls"
    NOT_NEEDED = "not-needed"

class RcptError(enum.IntEnum):
    EMPTY = 1
    TOO_LONG = 2
    LOCAL_TOO_LONG = 3
    DOMAIN_TOO_LONG = 4
    LABEL_TOO_LONG = 5
    CONTROL = 6
    EMPTY_LABEL = 7
    UNBALANCED_QUOTE = 8
    UNBALANCED_BRACKET = 9
    BAD_LITERAL = 10
    BAD_LOCAL_PART = 11
    BAD_DOMAIN = 12
    NO_DOMAIN = 13
    BAD_ROUTE = 14
    NON_ASCII = 15
    BAD_PARAMETER = 16
    EXTRA_AT = 17
    @property
    def description(self) -> str: ...

class Severity(enum.IntEnum):
    NOTE = 0
    WARNING = 1
    ERROR = 2

class Finding(NamedTuple):
    severity: Severity
    code: str
    line: Optional[int]
    column: Optional[int]
    message: str

class Error(Exception): ...

class PolicyError(Error, ValueError):
    msg: str
    filename: Optional[str]
    lineno: Optional[int]
    colno: Optional[int]
    def __init__(
        self,
        msg: str,
        filename: Optional[str] = ...,
        lineno: Optional[int] = ...,
        colno: Optional[int] = ...,
    ) -> None: ...

class AddressError(Error, ValueError): ...

@final
class Decision:
    @property
    def verdict(self) -> Verdict: ...
    @property
    def step(self) -> Step: ...
    @property
    def entry(self) -> Optional[str]: ...
    @property
    def line(self) -> Optional[int]: ...
    @property
    def reply(self) -> str: ...
    @property
    def explanation(self) -> str: ...
    @property
    def route(self) -> FrozenSet[str]: ...
    @property
    def auth(self) -> Auth: ...
    @property
    def rcpt_error(self) -> Optional[RcptError]: ...
    @property
    def client(self) -> Union[ipaddress.IPv4Address, ipaddress.IPv6Address]: ...
    @property
    def policy(self) -> Policy: ...

@final
class Policy:
    @classmethod
    def from_file(
        cls, path: Union[str, bytes, os.PathLike[str], os.PathLike[bytes]], *, literal_masks: bool = ...
    ) -> Policy: ...
    @classmethod
    def from_string(
        cls, text: _Text, *, source: Optional[str] = ..., literal_masks: bool = ...
    ) -> Policy: ...
    def decide(
        self,
        client: _Address,
        recipient: _Text,
        *,
        local: Optional[_Address] = ...,
        user: Optional[_Text] = ...,
        tls: bool = ...,
        client_name: Optional[_Text] = ...,
        internal: bool = ...,
    ) -> Decision: ...
    def lint(self) -> List[Finding]: ...
    @property
    def relay_flags(self) -> int: ...
    @property
    def memory(self) -> int: ...
    @property
    def source(self) -> str: ...
    def __copy__(self) -> Policy: ...
    def __deepcopy__(self, memo: object) -> Policy: ...
