"""What DEVON asks of every server a source talks to (ADR 0200, 0202): an answer that is
not a file is read within a byte cap and a deadline and cut at once when its caller stops
waiting (`answers`); a redirect is followed only to a host the rule allows, and a request
is only sent there after that check (`redirects`, `requests`)."""

from devon_adapters.outbound.answers import (
    AnswerLimits,
    AnswerTooLarge,
    AnswerTooSlow,
    CallStopped,
    OutboundRefusal,
)
from devon_adapters.outbound.redirects import RedirectRefused, RedirectRule
from devon_adapters.outbound.requests import open_answer, read_answer

__all__ = [
    "AnswerLimits",
    "AnswerTooLarge",
    "AnswerTooSlow",
    "CallStopped",
    "OutboundRefusal",
    "RedirectRefused",
    "RedirectRule",
    "open_answer",
    "read_answer",
]
