"""A small CardDAV client (RFC 6352) over httpx: discovery, listing, fetching
and writing cards. The sync rules live in ``contacts.sync``.

- Bodies are fixed XML templates with escaped values; replies are parsed with
  defusedxml (a server's reply is untrusted: no entity expansion, no DTDs).
- Discovery from a bare server URL: the URL itself when it is an address book,
  else its (or ``/.well-known/carddav``'s) ``current-user-principal`` →
  ``addressbook-home-set`` → the first address book in that home.
- Listing: ``sync-collection`` (RFC 6578) with the last token, so only changes
  travel; a server without it, or one that forgot the token, is listed whole
  with an ``addressbook-query`` for ETags.
- Every write is conditional: ``If-Match`` with the ETag last seen on PUT and
  DELETE, ``If-None-Match: *`` on a new card, so a concurrent edit is never
  overwritten (the server answers 412 and the sync decides).

Every failure is a :class:`BookError`: one line that names the address book
(``address book work: the server refused the user name or password (401)``).
The password is only handed to httpx's auth and never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.sax.saxutils import escape

import httpx
from defusedxml import ElementTree

from tui_phone.contacts.model import ContactError

TIMEOUT = 30.0
"""Seconds for one request (a multiget of a few hundred cards included)."""

DAV, CARD = "{DAV:}", "{urn:ietf:params:xml:ns:carddav}"
_NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"'
_PROPFIND = ('<?xml version="1.0" encoding="utf-8"?><D:propfind {ns}><D:prop><D:resourcetype/>'
             '<D:current-user-principal/><C:addressbook-home-set/></D:prop></D:propfind>')
_SYNC = ('<?xml version="1.0" encoding="utf-8"?><D:sync-collection {ns}><D:sync-token>{token}</D:sync-token>'
         '<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>')
_QUERY = ('<?xml version="1.0" encoding="utf-8"?><C:addressbook-query {ns}><D:prop><D:getetag/></D:prop>'
          '</C:addressbook-query>')
_MULTIGET = ('<?xml version="1.0" encoding="utf-8"?><C:addressbook-multiget {ns}><D:prop><D:getetag/>'
             '<C:address-data/></D:prop>{hrefs}</C:addressbook-multiget>')
_PROPFIND, _SYNC, _QUERY, _MULTIGET = (t.replace("{ns}", _NS) for t in (_PROPFIND, _SYNC, _QUERY, _MULTIGET))

_REASONS = {
    401: "the server refused the user name or password (401)",
    403: "the server does not allow this account to do that (403)",
    404: "nothing at {url} (404)",
    405: "{url} is not a CardDAV address (405)",
    507: "the server is out of space (507)",
}


class BookError(ContactError):
    """A server or network problem, as one sentence naming the address book;
    ``status`` is the HTTP status when the server answered."""

    status: int | None = None


class Stale(Exception):
    """A conditional write lost: the card changed (or appeared) on the server (412)."""


@dataclass(frozen=True)
class Listing:
    """What the server holds, or what changed since ``token``: ``etags`` by href,
    and the hrefs ``removed`` (``complete``: every card is listed, so a known
    href missing from ``etags`` was removed too)."""

    etags: dict[str, str]
    removed: frozenset[str]
    token: str
    complete: bool


def _href(base: str, href: str) -> str:
    """A card's key: its path on the server, percent-decoded."""
    return unquote(urlsplit(urljoin(base, href.strip())).path)


class CardDav:
    """One address book on one server, for the duration of a sync."""

    def __init__(self, name: str, url: str, username: str = "", password: str = "",
                 timeout: float = TIMEOUT):
        self.name, self.url = name, url
        auth = (username, password) if username else None
        self.http = httpx.Client(auth=auth, timeout=timeout, follow_redirects=True,
                                 headers={"User-Agent": "tui-phone"})
        self.collection = ""  # the address book's URL, once discovered

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> CardDav:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----- plumbing -----------------------------------------------------------------

    def fail(self, reason: str, status: int | None = None) -> BookError:
        error = BookError(f"address book {self.name}: {reason}")
        error.status = status
        return error

    def _send(self, method: str, url: str, body: str | bytes | None = None,
              headers: dict | None = None, ok: tuple[int, ...] = (200, 207)) -> httpx.Response:
        """The response to one request, or BookError (Stale for a 412)."""
        xml = isinstance(body, str)
        headers = ({"Content-Type": 'application/xml; charset="utf-8"'} if xml else {}) | (headers or {})
        try:
            r = self.http.request(method, url, content=body.encode() if xml else body, headers=headers)
        except httpx.TimeoutException:
            raise self.fail(f"{urlsplit(url).netloc} did not answer within {self.http.timeout.read:g} s") from None
        except httpx.TransportError as e:
            reason = str(e).split("] ", 1)[-1] or type(e).__name__
            raise self.fail(f"cannot reach {urlsplit(url).netloc}: {reason}") from None
        if r.status_code == 412:
            raise Stale(url)
        if r.status_code not in ok:
            reason = _REASONS.get(r.status_code, "the server answered {code} {phrase}")
            raise self.fail(reason.format(url=url, code=r.status_code, phrase=r.reason_phrase).rstrip(),
                            r.status_code)
        return r

    def _multistatus(self, method: str, url: str, body: str, depth: str) -> tuple[list[tuple[str, int, dict]], object]:
        """``(href, status, {property tag: element})`` for each response of a 207, and the XML root."""
        r = self._send(method, url, body, {"Depth": depth})
        try:
            root = ElementTree.fromstring(r.content)
        except Exception:  # noqa: BLE001 - ParseError and defusedxml's refusals alike
            raise self.fail(f"the reply from {url} is not WebDAV XML") from None
        out = []
        for resp in root.iter(f"{DAV}response"):
            href = resp.findtext(f"{DAV}href") or ""
            props, status = {}, _status(resp.findtext(f"{DAV}status"))
            for stat in resp.iter(f"{DAV}propstat"):
                prop = stat.find(f"{DAV}prop")
                if prop is not None and _status(stat.findtext(f"{DAV}status")) == 200:
                    props.update({p.tag: p for p in prop})
            out.append((href, status or (200 if props else 404), props))
        return out, root

    # ----- discovery ----------------------------------------------------------------

    def discover(self) -> str:
        """The address book's URL (see the module docstring); sets ``collection``."""
        home, refused = None, None
        for start in (self.url, urljoin(self.url, "/.well-known/carddav")):
            try:
                found, _ = self._multistatus("PROPFIND", start, _PROPFIND, "0")
            except BookError as e:
                if start == self.url and e.status in (403, 404, 405):
                    refused = e  # a bare server URL that is not WebDAV itself: ask .well-known
                    continue
                raise refused or e from None
            for href, _, props in found:
                if _is_book(props):
                    self.collection = urljoin(start, href or start)
                    return self.collection
                home = home or _link(props, f"{CARD}addressbook-home-set", start)
                principal = _link(props, f"{DAV}current-user-principal", start)
                if home is None and principal:
                    for _, _, pprops in self._multistatus("PROPFIND", principal, _PROPFIND, "0")[0]:
                        home = home or _link(pprops, f"{CARD}addressbook-home-set", principal)
            if home:
                break
        if home is None:
            raise self.fail(f"no CardDAV address book found at {self.url}")
        found, _ = self._multistatus("PROPFIND", home, _PROPFIND, "1")
        books = sorted(urljoin(home, href) for href, _, props in found if _is_book(props))
        if not books:
            raise self.fail(f"the account at {self.url} has no address book")
        self.collection = books[0]
        return self.collection

    # ----- reading ------------------------------------------------------------------

    def listing(self, token: str) -> Listing:
        """Changes since ``token`` ("" = everything) by sync-collection, else every card's ETag."""
        try:
            found, root = self._multistatus("REPORT", self.collection, _SYNC.replace("{token}", escape(token)), "0")
        except BookError as e:
            if token and e.status in (403, 409):
                return self.listing("")  # the server forgot our token: list everything
            if e.status not in (400, 403, 405, 501):
                raise
        else:
            new_token = root.findtext(f"{DAV}sync-token") or ""
            etags = {_href(self.collection, h): _etag(p) for h, s, p in found if s == 200 and _etag(p)}
            removed = frozenset(_href(self.collection, h) for h, s, _ in found if s == 404)
            return Listing(etags, removed, new_token, not token)
        return self.every_etag()

    def every_etag(self) -> Listing:
        """Every card's ETag by an ``addressbook-query`` (servers without sync-collection)."""
        found, _ = self._multistatus("REPORT", self.collection, _QUERY, "1")
        etags = {_href(self.collection, h): _etag(p) for h, s, p in found if s == 200 and _etag(p)}
        return Listing(etags, frozenset(), "", True)

    def fetch(self, hrefs: list[str]) -> list[tuple[str, str, str]]:
        """``(href, etag, vCard text)`` of the cards at ``hrefs`` (one multiget)."""
        body = _MULTIGET.replace("{hrefs}", "".join(f"<D:href>{escape(quote(h))}</D:href>" for h in hrefs))
        out = []
        for href, status, props in self._multistatus("REPORT", self.collection, body, "1")[0]:
            data = props.get(f"{CARD}address-data")
            if status == 200 and data is not None and data.text:
                out.append((_href(self.collection, href), _etag(props), data.text))
        return out

    def get(self, href: str) -> tuple[str, str] | None:
        """``(etag, text)`` of one card, None when it is gone."""
        r = self._send("GET", self.card_url(href), ok=(200, 404))
        return None if r.status_code == 404 else (r.headers.get("ETag", ""), r.text)

    # ----- writing ------------------------------------------------------------------

    def card_url(self, href: str) -> str:
        return urljoin(self.collection, quote(href))

    def new_href(self, uid: str) -> str:
        return _href(self.collection, quote(uid) + ".vcf")

    def put(self, href: str, text: str, etag: str = "") -> str:
        """Store ``text`` at ``href``: over ``etag`` (If-Match), or as a new card
        when ``etag`` is empty (If-None-Match: *). The new ETag ("" when the
        server does not say). Stale when someone else got there first."""
        cond = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        r = self._send("PUT", self.card_url(href), text.encode(),
                       {"Content-Type": "text/vcard; charset=utf-8"} | cond, ok=(200, 201, 204))
        return r.headers.get("ETag", "")

    def delete(self, href: str, etag: str) -> None:
        """Remove the card if it still is as last seen (gone already is fine)."""
        self._send("DELETE", self.card_url(href), headers={"If-Match": etag}, ok=(200, 204, 404))


def _status(line: str | None) -> int | None:
    parts = (line or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def _etag(props: dict) -> str:
    el = props.get(f"{DAV}getetag")
    return (el.text or "").strip() if el is not None else ""


def _is_book(props: dict) -> bool:
    kind = props.get(f"{DAV}resourcetype")
    return kind is not None and kind.find(f"{CARD}addressbook") is not None


def _link(props: dict, tag: str, base: str) -> str | None:
    el = props.get(tag)
    href = el.findtext(f"{DAV}href") if el is not None else None
    return urljoin(base, href.strip()) if href else None
