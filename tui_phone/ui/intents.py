"""What a widget wants, as messages up to the app (attributes down, messages
up): the app turns each into a ``Command`` (or a dial) and runs it. No
widget runs a command or touches the contacts database itself."""

from __future__ import annotations

from textual.message import Message


class CallRequested(Message):
    """Dial ``target`` (a number, SIP URI or contact name), as typed on the keyboard."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target


class ContactCallRequested(Message):
    """Call one of these contacts (several: they matched the same name); the app asks which number."""

    def __init__(self, *contacts) -> None:
        super().__init__()
        self.contacts = contacts


class DtmfTyped(Message):
    """Digits typed for the connected call."""

    def __init__(self, digits: str) -> None:
        super().__init__()
        self.digits = digits


class MessageWritten(Message):
    """A text message to send to ``to``; ``done(ok)`` is told the outcome."""

    def __init__(self, to: str, text: str, done=None) -> None:
        super().__init__()
        self.to, self.text, self.done = to, text, done


class DevicePicked(Message):
    """Use this sound device (``microphone``: as input, else as output); ``done(result)`` is told."""

    def __init__(self, name: str, microphone: bool, done) -> None:
        super().__init__()
        self.name, self.microphone, self.done = name, microphone, done


class MessagesOpened(Message):
    """The user has the thread with ``peer`` on screen: its messages are read."""

    def __init__(self, peer: str) -> None:
        super().__init__()
        self.peer = peer
