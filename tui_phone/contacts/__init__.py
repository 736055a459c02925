"""Contacts: the SQLite store, vCard import/export, the team directory.

Headless: nothing here imports Textual (vobject and httpx load only with
``vcard`` and ``team.fetch_team``).
"""

from tui_phone.contacts.model import LABELS, Contact, ContactError, Number, validate


def __getattr__(name: str):
    """``ContactsDB`` loads on first use: the UI imports the model at start-up."""
    if name == "ContactsDB":
        from tui_phone.contacts.db import ContactsDB

        return ContactsDB
    raise AttributeError(name)


__all__ = ["LABELS", "Contact", "ContactError", "ContactsDB", "Number", "validate"]
