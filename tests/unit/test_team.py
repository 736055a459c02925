"""contacts/team.py: team members from JSON and vCard files and from an http URL."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tui_phone.contacts import Contact, ContactError, Number
from tui_phone.contacts.team import fetch_team, load_team_file

MEMBERS = [
    {"first": "Dana", "last": "Lee", "numbers": [{"label": "work", "number": "201"},
                                                 {"label": "mobile", "number": "(212) 555-0142"}],
     "email": "dana@example.com", "job_title": "Support", "company": "Us",
     "sip_uri": "sip:dana@pbx.example.com", "department": "ignored"},
    {"first": "Eve", "numbers": [{"number": "202"}], "email": None},
]
DANA = Contact(None, "Dana", "Lee", (Number("work", "201", "201"),
                                    Number("mobile", "(212) 555-0142", "+12125550142")),
               "dana@example.com", "Support", "Us", team=True, sip_uri="sip:dana@pbx.example.com")
EVE = Contact(None, "Eve", numbers=(Number("other", "202", "202"),), team=True)
VCF = ("BEGIN:VCARD\nVERSION:3.0\nN:Lee;Dana;;;\nFN:Dana Lee\nTEL;TYPE=WORK:201\n"
       "IMPP:sip:dana@pbx.example.com\nX-TUI-PHONE-FAVORITE:1\nEND:VCARD\n")


def test_json_file(tmp_path):
    path = tmp_path / "team.json"
    path.write_text(json.dumps(MEMBERS))
    assert load_team_file(path, "US") == [DANA, EVE]


def test_vcf_file(tmp_path):
    path = tmp_path / "team.vcf"
    path.write_text(VCF)
    (dana,) = load_team_file(path, "US")
    assert dana.team and not dana.favorite  # the star is the user's, not the directory's
    assert (dana.name, dana.sip_uri, dana.numbers) == ("Dana Lee", "sip:dana@pbx.example.com",
                                                       (Number("work", "201", "201"),))


def test_content_decides_without_a_known_suffix(tmp_path):
    (tmp_path / "team.txt").write_text(json.dumps(MEMBERS))
    (tmp_path / "team.dir").write_text(VCF)
    assert len(load_team_file(tmp_path / "team.txt", "US")) == 2
    assert len(load_team_file(tmp_path / "team.dir", "US")) == 1


@pytest.mark.parametrize("name, text, message", [
    ("team.json", "[{", "team.json: not valid JSON: "),
    ("team.json", '{"first": "x"}', "team.json: must be a JSON list of team members"),
    ("team.json", '["x"]', "team.json: member 1: must be an object (got str)"),
    ("team.json", '[{"first": "a"}, {"first": 3}]', "team.json: member 2: first: must be a string (got 3)"),
    ("team.json", '[{"first": "a", "numbers": "201"}]', "team.json: member 1: numbers: must be a list"),
    ("team.json", '[{"first": "a", "numbers": [{"number": 201}]}]', "team.json: member 1: number 1: must be an object"),
    ("team.json", '[{"first": "a", "numbers": [{"number": "2x1"}]}]', "team.json: member 1: number 1: has a letter"),
    ("team.json", '[{"first": "a", "numbers": [{"label": "fax", "number": "201"}]}]',
     "team.json: member 1: number 1: label must be one of"),
    ("team.json", '[{"last": ""}]', "team.json: member 1: name: a contact needs"),
    ("team.vcf", VCF + "BEGIN:VCARD\nVERSION:3.0\nTEL:1\nEND:VCARD\nBEGIN:VCARD\n",
     "team.vcf: line 9: card has no name (N, FN or ORG) (and 1 more)"),
])
def test_bad_input_is_one_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(ContactError) as e:
        load_team_file(tmp_path / name, "US")
    assert str(e.value).startswith(str(tmp_path / message)) and "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ContactError, match="no such file"):
        load_team_file(tmp_path / "nope.json", "US")


class Directory(BaseHTTPRequestHandler):
    routes = {"/team.json": ("application/json", json.dumps(MEMBERS)),
              "/api/members": ("application/json; charset=utf-8", json.dumps(MEMBERS[:1])),
              "/team.vcf": ("text/vcard", VCF)}

    def do_GET(self):
        kind, body = self.routes.get(self.path, ("text/plain", None))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", kind)
        data = (body or "not here").encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def directory():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Directory)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_fetch_json_and_vcard_over_http(directory):
    assert await fetch_team(directory + "/team.json", "US") == [DANA, EVE]
    assert await fetch_team(directory + "/api/members", "US") == [DANA]
    assert [c.name for c in await fetch_team(directory + "/team.vcf", "US")] == ["Dana Lee"]


async def test_fetch_errors_are_one_line(directory):
    with pytest.raises(ContactError, match=r"/missing: HTTP 404 Not Found$"):
        await fetch_team(directory + "/missing", "US")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Directory)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    with pytest.raises(ContactError, match=rf"^http://127.0.0.1:{port}/team.json: cannot fetch: "):
        await fetch_team(f"http://127.0.0.1:{port}/team.json", "US")


async def test_fetch_reads_a_file_path_too(tmp_path):
    (tmp_path / "team.json").write_text(json.dumps(MEMBERS))
    assert await fetch_team(str(tmp_path / "team.json"), "US") == [DANA, EVE]
