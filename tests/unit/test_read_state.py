"""Read state (missed calls seen, messages read) is a Command: the phone posts
the store event, the engine never sees it, and an attached view sends the
same request as any API client (MarkSeen)."""

import asyncio

from tui_phone.commands import MarkMessagesRead, MarkMissedSeen
from tui_phone.config import parse
from tui_phone.control import protocol
from tui_phone.events import HistoryAdded, Message
from tui_phone.phone import Phone

import pytest


def phone() -> Phone:
    return Phone(parse('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\n'))


def test_missed_seen_is_a_command_the_engine_never_sees():
    p = phone()  # no engine at all: read state needs none
    p.post(HistoryAdded("missed"))
    p.post(HistoryAdded("missed"))
    assert p.state.missed == 2
    result = asyncio.run(p.execute(MarkMissedSeen()))
    assert result.ok and p.state.missed == 0


def test_messages_read_by_number_or_uri():
    p = phone()
    p.post(Message("sip:200@pbx.example.com", "i", "hi", 1.0))
    p.post(Message("sip:300@pbx.example.com", "i", "yo", 2.0))
    assert asyncio.run(p.execute(MarkMessagesRead("200"))).ok
    assert p.state.unread == (("sip:300@pbx.example.com", 1),)
    assert asyncio.run(p.execute(MarkMessagesRead("sip:300@pbx.example.com"))).ok
    assert p.state.unread == ()


def test_an_empty_peer_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="peer must be a number or SIP URI"):
        MarkMessagesRead(" ")


def test_read_state_commands_are_markseen_requests():
    assert protocol.to_message(MarkMissedSeen()) == {"mt": "MarkSeen"}
    assert protocol.to_message(MarkMessagesRead("200")) == {"mt": "MarkSeen", "peer": "200"}
