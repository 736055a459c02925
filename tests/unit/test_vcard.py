"""contacts/vcard.py: import of 3.0 and 4.0 cards, bad cards reported by line,
export → import round trip."""

from dataclasses import replace

import pytest

from tui_phone.contacts import Contact, Number, validate
from tui_phone.contacts.vcard import read_vcards, write_vcards

THREE_GOOD_ONE_BROKEN = """\
BEGIN:VCARD
VERSION:3.0
N:Smith;Bob;;;
FN:Bob Smith
TEL;TYPE=CELL:+1 212 555 0100
TEL;TYPE=WORK,VOICE:(212) 555-0199
EMAIL;TYPE=INTERNET:bob@example.com
ORG:Acme;Sales
TITLE:Buyer
X-TUI-PHONE-FAVORITE:1
END:VCARD

BEGIN:VCARD
VERSION:3.0
FN:Nobody
TEL:+1 212 555 0111
THIS LINE IS NOT A PROPERTY
END:VCARD
BEGIN:VCARD
VERSION:3.0
N:Jones;Alice;;;
FN:Alice Jones
TEL;TYPE=HOME:020 7946 0958
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Initech
N:;;;;
ORG:Initech
TEL;TYPE=FAX:200
END:VCARD
"""


def test_three_good_cards_and_one_broken():
    contacts, problems = read_vcards(THREE_GOOD_ONE_BROKEN)
    assert [c.name for c in contacts] == ["Bob Smith", "Alice Jones", "Initech"]
    assert len(problems) == 1 and problems[0].startswith("line 13: cannot read card: ")
    bob = contacts[0]
    assert bob == Contact(None, "Bob", "Smith", (Number("mobile", "+1 212 555 0100", "+12125550100"),
                                                 Number("work", "(212) 555-0199", "+12125550199")),
                          "bob@example.com", "Buyer", "Acme", favorite=True)
    assert contacts[1].numbers == (Number("home", "020 7946 0958", "02079460958"),)
    assert contacts[2].numbers[0].label == "other"


def test_vcard_4_0():
    text = ("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Dr. Erika Mustermann\r\nN:Mustermann;Erika;;Dr.;\r\n"
            'TEL;VALUE=uri;TYPE="cell,voice":tel:+49-30-1234567\r\n'
            "TEL;VALUE=uri;TYPE=work:tel:+49-30-7654321;ext=12\r\n"
            "EMAIL;TYPE=work:erika@example.de\r\nIMPP:sip:erika@pbx.example.de\r\n"
            "ORG:Beispiel GmbH\r\nEND:VCARD\r\n")
    (c,), problems = read_vcards(text, "DE")
    assert problems == []
    assert (c.first, c.last, c.company, c.email, c.sip_uri) == (
        "Erika", "Mustermann", "Beispiel GmbH", "erika@example.de", "sip:erika@pbx.example.de")
    assert c.numbers == (Number("mobile", "+49-30-1234567", "+49301234567"),
                         Number("work", "+49-30-7654321", "+49307654321"))


def test_vcard_2_1_type_flags_and_fn_only():
    text = "BEGIN:VCARD\nVERSION:2.1\nFN:Mary Ann Lee\nTEL;CELL;VOICE:2125550100\nEND:VCARD\n"
    (c,), problems = read_vcards(text)
    assert (c.first, c.last, c.numbers[0].label) == ("Mary Ann", "Lee", "mobile")


@pytest.mark.parametrize("card, problem", [
    ("VERSION:3.0\nTEL:200\n", "line 1: card has no name (N, FN or ORG)"),
    ("VERSION:3.0\nFN:Bob\nEMAIL:bob@\n", "line 1: email: not an email address: 'bob@'"),
    ("VERSION:3.0\nFN:Bob\nTEL:call me\n", "line 1: number 1: has a letter: 'call me'"),
])
def test_bad_cards_name_the_problem(card, problem):
    assert read_vcards(f"BEGIN:VCARD\n{card}END:VCARD\n") == ([], [problem])


def test_unterminated_cards_and_stray_text():
    text = ("junk\nmore junk\nBEGIN:VCARD\nVERSION:3.0\nFN:Cut\n"
            "BEGIN:VCARD\nVERSION:3.0\nFN:Whole\nEND:VCARD\nBEGIN:VCARD\nFN:Tail\n")
    contacts, problems = read_vcards(text)
    assert [c.name for c in contacts] == ["Whole"]
    assert problems == ["line 1: text outside a card", "line 3: BEGIN:VCARD without END:VCARD",
                        "line 10: BEGIN:VCARD without END:VCARD"]


def test_folded_lines_are_part_of_their_card():
    text = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smi\r\n th\r\nTITLE:x\r\n END:VCARD\r\nEND:VCARD\r\n"
    (c,), problems = read_vcards(text)
    assert (c.name, c.job_title, problems) == ("Bob Smith", "xEND:VCARD", [])


def test_export_import_round_trip():
    contacts = [validate(c, "US") for c in [
        Contact(first='B,ob; "x"', last="Sm;ith\\", company="Acme; Inc, Ltd", job_title="CEO, boss",
                email="b@x.org", favorite=True, sip_uri="sip:bob@pbx.example.com",
                numbers=(Number("mobile", "+1 212 555 0100"), Number("other", "200"),
                         Number("home", "(646) 555-0199"), Number("work", "*86"))),
        Contact(company="Only Co"),
        Contact(first="Mary Ann", last="van Dyke", job_title="Zürich ☎"),
        Contact(last="Solo", numbers=(Number("work", "020 7946 0958"),)),
    ]]
    text = write_vcards(contacts)
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    back, problems = read_vcards(text)
    assert problems == []
    assert back == contacts


def test_export_drops_ids_and_team():
    c = validate(Contact(7, "Dana", team=True), "US")
    assert read_vcards(write_vcards([c]))[0] == [replace(c, id=None, team=False)]


def test_merge_card_rewrites_only_what_changed_and_keeps_the_rest_byte_for_byte():
    from dataclasses import replace

    from tui_phone.contacts.vcard import content_lines, merge_card, new_card

    text = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:abc\r\nFN:Ann Lee\r\nN:Lee;Ann;;;\r\n"
            "item1.X-ABLabel:_$!<Custom>!$_\r\nitem1.TEL:+1 555 0100\r\nTEL;type=HOME:+1 212 555 0101\r\n"
            "EMAIL;type=INTERNET:a@b.example\r\nEMAIL:second@b.example\r\n"
            "IMPP;X-SERVICE-TYPE=Skype:skype:ann\r\nIMPP:sip:ann@pbx.example\r\n"
            "X-LONG;x-a=b:" + "x" * 70 + "\r\n " + "y" * 20 + "\r\nEND:VCARD\r\n")
    (old,), problems = read_vcards(text)
    assert problems == []
    same = merge_card(text, old, old)
    assert same == text  # nothing changed: not a byte
    new = replace(old, numbers=old.numbers[:1], email="new@b.example", job_title="Boss",
                  sip_uri="sip:ann@other.example", favorite=True)
    lines = content_lines(merge_card(text, old, new))
    assert lines == ["BEGIN:VCARD", "VERSION:3.0", "UID:abc", "FN:Ann Lee", "N:Lee;Ann;;;",
                     "item1.X-ABLabel:_$!<Custom>!$_", "TEL;TYPE=VOICE:+1 555 0100",
                     "EMAIL;TYPE=INTERNET:new@b.example", "EMAIL:second@b.example",
                     "IMPP;X-SERVICE-TYPE=Skype:skype:ann", "IMPP:sip:ann@other.example",
                     "X-LONG;x-a=b:" + "x" * 70 + "\r\n " + "y" * 20, "TITLE:Boss", "END:VCARD"]
    (back,), _ = read_vcards(merge_card(text, old, new))
    assert replace(back, favorite=True) == new  # reads as the edited contact; the star stays on the phone
    fresh = new_card(new, "u-1")
    assert content_lines(fresh)[:3] == ["BEGIN:VCARD", "VERSION:3.0", "UID:u-1"]
    assert "FAVORITE" not in fresh and read_vcards(fresh)[0][0] == replace(new, favorite=False, uid="u-1")


CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:{last};{first};;;\r\nFN:{first} {last}\r\nTEL:+12125550100\r\nEND:VCARD\r\n"


def test_encodings_and_a_stray_byte_lose_no_card(tmp_path):
    """Found by an outside probe: a Latin-1 file, a UTF-16 file (Outlook) or one junk byte between cards
    refused the whole file ('utf-8' codec can't decode byte 0xff...)."""
    from tui_phone.contacts.db import ContactsDB
    from tui_phone.contacts.vcard import import_file

    text = CARD.format(first="Jürgen", last="Müller") + CARD.format(first="Zoë", last="Ångström")
    cases = {"latin1.vcf": (text.encode("latin-1"), "read as Latin-1"),
             "utf16.vcf": (text.encode("utf-16"), None),
             "junk.vcf": (CARD.format(first="Jürgen", last="Müller").encode() + b"\xff\r\n"
                          + CARD.format(first="Zoë", last="Ångström").encode(), "replaced")}
    for name, (data, note) in cases.items():
        (tmp_path / name).write_bytes(data)
        db = ContactsDB(tmp_path / f"{name}.db")
        try:
            count, problems, _ = import_file(db, tmp_path / name)
            assert count == 2, (name, problems)
            names = {(c.first, c.last) for c in db.search("", limit=10)}
            assert names == {("Jürgen", "Müller"), ("Zoë", "Ångström")}, (name, names)
            assert (note is None and not [p for p in problems if "UTF" in p]) or any(note in p for p in problems)
        finally:
            db.close()


def test_a_huge_card_is_skipped_with_a_line_not_gigabytes(tmp_path):
    """Found by an outside probe: a 50 MB NOTE line took 7.2 GB of memory in vobject."""
    from tui_phone.contacts.vcard import read_vcards

    huge = CARD.format(first="Big", last="Note").replace("END:VCARD", "NOTE:" + "x" * 3_000_000 + "\r\nEND:VCARD")
    contacts, problems = read_vcards(huge + CARD.format(first="Small", last="Card"))
    assert [c.first for c in contacts] == ["Small"]
    assert problems == ["line 1: card larger than 1024 KiB (skipped)"]
