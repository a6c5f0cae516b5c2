"""relaypol: decide at SMTP RCPT TO time whether to deliver locally, relay
or refuse, with the RelayFlags semantics of Exchange 5.5.

    >>> import relaypol
    >>> policy = relaypol.Policy.from_file("/etc/relaypol.conf")
    >>> d = policy.decide("192.168.1.42", "<someone@example.net>")
    >>> d.verdict
    <Verdict.RELAY: 'relay'>
    >>> d.reply
    '250 2.1.5 Ok'

A Policy is immutable: share one between threads, and to reload, build a
new one and rebind the name that the threads read.
"""

import enum
import typing

try:
    from . import _relaypol
except ImportError as e:  # pragma: no cover - a setup error
    raise ImportError(
        "relaypol's compiled part _relaypol is missing next to %s: this is "
        "probably the source tree (bindings/python); import the package "
        "from a build directory instead (PYTHONPATH=<builddir>/bindings/python)"
        % __file__
    ) from e

__all__ = [
    "Auth",
    "AddressError",
    "Decision",
    "Error",
    "Finding",
    "Policy",
    "PolicyError",
    "RcptError",
    "Severity",
    "Step",
    "Verdict",
    "__version__",
]

#: The version of the linked C library ("0.1.0").
__version__ = _relaypol.version

if hasattr(enum, "StrEnum"):  # Python 3.11
    _StrEnum = enum.StrEnum
else:  # pragma: no cover - older Pythons

    class _StrEnum(str, enum.Enum):
        def __str__(self) -> str:
            return str.__str__(self)


class Verdict(_StrEnum):
    """What to do with the recipient; compares equal to its name."""

    LOCAL = "local"  # an accepted domain: submission, not relaying
    RELAY = "relay"  # relaying allowed
    DENY = "deny"  # refused: send the decision's reply


class Step(_StrEnum):
    """Which rule decided, in the RelayFlags evaluation order of
    Exchange 5.5 (Microsoft KB Q193922) for the first group."""

    ACCEPTED_DOMAIN = "accepted-domain"
    LOCAL_LITERAL = "local-literal"
    DENY_LIST = "deny-list"
    ALLOW_LIST = "allow-list"
    LOCAL_IP_LIST = "local-ip-list"
    AUTHENTICATED = "authenticated"
    ONLY_DENY_BIT = "only-deny-bit"
    NO_RULE = "no-rule"
    BAD_RECIPIENT = "bad-recipient"
    SUBMISSION = "submission-refused"  # submission to an accepted domain refused


class Auth(_StrEnum):
    """What happened to the client's authentication."""

    NONE = "none"  # the client did not authenticate
    USED = "used"  # authenticated relay (or submission) decided
    NOT_ENABLED = "not-enabled"  # authenticated, but RelayFlags bit 4 is off
    NOT_LISTED = "not-listed"  # authenticated, not in RelayUsers
    NO_TLS = "no-tls"  # authenticated without TLS, and TLS is required
    NOT_NEEDED = "not-needed"  # authenticated; an earlier rule decided


class RcptError(enum.IntEnum):
    """Why a recipient is malformed (Step.BAD_RECIPIENT); the values are
    the library's relaypol_rcpt_error codes."""

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
    def description(self) -> str:
        """The library's words for it, e.g. "second '@'"."""
        return _relaypol.rcpt_error_name(self.value)


class Severity(enum.IntEnum):
    """Severity of a lint finding; ordered."""

    NOTE = 0
    WARNING = 1
    ERROR = 2


class Finding(typing.NamedTuple):
    """One finding of Policy.lint()."""

    severity: Severity
    code: str  # stable identifier, e.g. "host-bits"
    line: typing.Optional[int]  # None when about the whole policy
    column: typing.Optional[int]
    message: str

    def __str__(self) -> str:
        where = ":".join(str(n) for n in (self.line, self.column) if n)
        return "%s%s%s: %s [%s]" % (
            where,
            ": " if where else "",
            self.severity.name.lower(),
            self.message,
            self.code,
        )


class Error(Exception):
    """Base class of the errors relaypol raises."""


class PolicyError(Error, ValueError):
    """A policy text is invalid or exceeds a documented limit.

    filename, lineno and colno locate the problem (None when unknown), msg
    says what is wrong; str() is "file:line:col: msg" like a compiler's.
    """

    def __init__(
        self,
        msg: str,
        filename: typing.Optional[str] = None,
        lineno: typing.Optional[int] = None,
        colno: typing.Optional[int] = None,
    ) -> None:
        super().__init__(msg, filename, lineno, colno)
        self.msg = msg
        self.filename = filename
        self.lineno = lineno
        self.colno = colno

    def __str__(self) -> str:
        # The same rules as relaypol_error_format().
        if self.lineno and self.colno:
            return "%s:%d:%d: %s" % (self.filename, self.lineno, self.colno, self.msg)
        if self.lineno:
            return "%s:%d: %s" % (self.filename, self.lineno, self.msg)
        if self.filename:
            return "%s: %s" % (self.filename, self.msg)
        return self.msg


class AddressError(Error, ValueError):
    """An address is not a strict IPv4 or IPv6 address (or not 4 or 16
    bytes)."""


Policy = _relaypol.Policy
Decision = _relaypol.Decision

_relaypol._setup(
    Verdict, Step, Auth, RcptError, Severity, Finding, Error, PolicyError, AddressError
)
