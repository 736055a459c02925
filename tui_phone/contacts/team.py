"""The team: read-only members from the PBX directory (config ``[team] source``).

A source is a ``.vcf`` or ``.json`` file path, or an ``http(s)://`` URL. JSON is
a list of objects with ``first``, ``last``, ``numbers`` (a list of ``{"label",
"number"}``; label defaults to ``other``), ``email``, ``job_title``, ``company``
and ``sip_uri``, all optional strings (``null`` counts as empty); other keys are ignored (directories carry
more than a phone needs). A file that is neither ``.vcf`` nor ``.json`` is read
as JSON when it starts with ``[`` and as vCard otherwise.

A team is all or nothing: any problem (unreadable source, bad JSON, one bad
member or card) raises :class:`ContactError` with one line naming the source,
so a broken directory never half-replaces the team.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from tui_phone.contacts.model import Contact, ContactError, Number, validate
from tui_phone.contacts.vcard import read_vcards

TIMEOUT = 10.0
"""Seconds for fetching a directory URL."""

_FIELDS = ("first", "last", "email", "job_title", "company", "sip_uri")


def _member(entry: object, region: str) -> Contact:
    if not isinstance(entry, dict):
        raise ContactError(f"must be an object (got {type(entry).__name__})")
    fields = {k: "" if entry.get(k) is None else entry[k] for k in _FIELDS}
    for key, value in fields.items():
        if not isinstance(value, str):
            raise ContactError(f"must be a string (got {value!r})", key)
    raw_numbers = entry.get("numbers") or []
    if not isinstance(raw_numbers, list):
        raise ContactError("must be a list of {label, number}", "numbers")
    numbers = []
    for i, n in enumerate(raw_numbers, 1):
        if not (isinstance(n, dict) and isinstance(n.get("number"), str)
                and isinstance(n.get("label", "other"), str)):
            raise ContactError(f"must be an object with a string 'number' (got {n!r})", f"number {i}")
        numbers.append(Number(n.get("label", "other"), n["number"]))
    contact = Contact(numbers=tuple(numbers), team=True, **fields)
    return validate(contact, region)


def parse_team(text: str, kind: str, region: str, source: str) -> list[Contact]:
    """Team members from ``text`` (``kind`` ``json`` or ``vcard``); ``source``
    names the file or URL in errors."""
    if kind == "json":
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as e:
            raise ContactError(f"{source}: not valid JSON: {e}") from None
        if not isinstance(entries, list):
            raise ContactError(f"{source}: must be a JSON list of team members")
        members = []
        for i, entry in enumerate(entries, 1):
            try:
                members.append(_member(entry, region))
            except ContactError as e:
                raise ContactError(f"{source}: member {i}: {e}") from None
        return members
    contacts, problems = read_vcards(text, region)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ContactError(f"{source}: {problems[0]}{more}")
    return [replace(c, team=True, favorite=False) for c in contacts]


def _kind(name: str, text: str) -> str:
    suffix = name.lower().rsplit("?", 1)[0]
    if suffix.endswith(".json"):
        return "json"
    if suffix.endswith((".vcf", ".vcard")):
        return "vcard"
    return "json" if text.lstrip().startswith("[") else "vcard"


def load_team_file(path: str | Path, region: str) -> list[Contact]:
    """Team members from a ``.vcf`` or ``.json`` file."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContactError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ContactError(f"{path}: cannot read: {e}") from None
    return parse_team(text, _kind(path.name, text), region, str(path))


async def fetch_team(source: str, region: str) -> list[Contact]:
    """Team members from ``source``: an http(s) URL (fetched with httpx; JSON when
    the URL ends in ``.json`` or the server says ``application/json``) or a file."""
    if not source.lower().startswith(("http://", "https://")):
        return await asyncio.to_thread(load_team_file, source, region)
    import httpx

    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=True) as client:
            response = await client.get(source)
    except httpx.HTTPError as e:
        raise ContactError(f"{source}: cannot fetch: {str(e) or type(e).__name__}") from None
    if response.status_code != 200:
        raise ContactError(f"{source}: HTTP {response.status_code} {response.reason_phrase}")
    text = response.text
    kind = "json" if "json" in response.headers.get("content-type", "") else _kind(source, text)
    return parse_team(text, kind, region, source)
