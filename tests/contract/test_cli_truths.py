"""Small untruths (issue 15, item 11) against a real headless phone: a direct
account is not "registered", and bad input to `tui-phone call` exits 2 as
the README promises (the reply's kind decides the exit code)."""

from tests.phoneproc import HeadlessPhone

CONFIG = '[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n[audio]\nnull = true\n'


def test_status_says_direct_and_bad_input_exits_2(tmp_path):
    phone = HeadlessPhone(tmp_path, CONFIG).start()
    try:
        status = phone.cli("status")
        assert status.returncode == 0, status.stderr
        assert "account alice <sip:alice@127.0.0.1>: direct (no registrar)" in status.stdout
        bad = phone.cli("call", "abc")
        assert bad.returncode == 2, (bad.returncode, bad.stderr)
        assert bad.stderr.startswith("tui-phone: ") and bad.stderr.count("\n") == 1
        assert "Traceback" not in bad.stderr
    finally:
        phone.stop()
