"""The ``tui-phone`` command line.

Stdlib-only at import time: client commands (``open``, ``call``, ``status``…)
must reach the running phone without loading Textual or pjsua2.
Exit codes: 0 ok, 1 runtime failure, 2 bad input, 3 no running instance.
"""

from __future__ import annotations

import json
import sys

OK, FAIL, BAD_INPUT, NOT_RUNNING = 0, 1, 2, 3


def _err(text: str) -> None:
    print(f"tui-phone: {text}", file=sys.stderr)


def _load_config(args):
    from pathlib import Path

    from .config import ConfigError, load

    try:
        return load(Path(args.config) if args.config else None)
    except ConfigError as e:
        _err(str(e))
        raise SystemExit(BAD_INPUT) from None


def _socket(args):
    from .locations import socket_path

    return socket_path(_load_config(args).control["socket"])


def _request(args, msg: dict) -> tuple[int, dict | None]:
    from .control.client import NotRunning, request

    try:
        reply = request(_socket(args), msg)
    except NotRunning as e:
        _err(str(e))
        return NOT_RUNNING, None
    except (OSError, ValueError) as e:
        _err(f"control socket: {e}")
        return FAIL, None
    if reply.get("ok") is False or reply.get("mt") == "Error":
        _err(reply.get("error", "request failed"))
        return _failure_code(reply), reply
    return OK, reply


def cmd_run(args) -> int:
    config = _load_config(args)
    if not config.audio["null"]:
        from .service import sound_through_ssh

        note = sound_through_ssh()  # PULSE_SERVER=unix:/tmp/pulse-$USER.sock (ssh -R): no shared memory
        if note and args.headless:
            _err(note)
    if args.headless:
        from .headless import run

        return run(config, debug=args.debug)
    from .locations import socket_path

    path = socket_path(config.control["socket"])
    if _answers(path):  # one engine per config: this TUI becomes a view of the running one
        return _run_app(args, config, path)
    return _run_app(args, config)


def _answers(path) -> bool:
    """A phone listens on this control socket."""
    from .control.client import connect

    try:
        connect(path, timeout=2).close()
    except OSError:
        return False
    return True


def _run_app(args, config, attach_to=None) -> int:
    """The TUI: with its own engine, or attached to the phone on ``attach_to``."""
    from .app import make_app
    from .debuglog import native_stderr_aside

    phone = None
    if attach_to is not None:
        from .control.remote import RemotePhone

        phone = RemotePhone(config, attach_to)
    app = make_app(config, phone=phone, debug=args.debug, open_url=args.open, theme=args.theme)
    with native_stderr_aside(args.debug):
        app.run()
    return app.return_code or OK


def cmd_attach(args) -> int:
    """The TUI on a phone that already runs (a service, another terminal, ssh -L); never starts an engine."""
    from pathlib import Path

    from .locations import socket_path

    config = _load_config(args)
    path = Path(args.socket) if args.socket else socket_path(config.control["socket"])
    if not _answers(path):
        _err(f"no running tui-phone to attach to (socket {path})")
        return NOT_RUNNING
    args.open = args.theme = None
    args.debug = False
    return _run_app(args, config, path)


def cmd_service(args) -> int:
    from pathlib import Path

    from . import service

    if args.action == "install":
        config = Path(args.config) if args.config else None
        if config is not None and not config.is_file():
            _err(f"{config}: no such config file")
            return BAD_INPUT
        try:
            path, replaced = service.install(config)
        except OSError as e:
            _err(f"{service.unit_path()}: {e.strerror}")
            return FAIL
        print(f"{'updated' if replaced else 'wrote'} {path}")
        print(f"start it now and at every login: {service.ENABLE}")
        return OK
    removed = service.uninstall()
    if not removed:
        _err(f"no tui-phone service is installed ({service.unit_path()} does not exist)")
        return FAIL
    for path in removed:
        print(f"removed {path}")
    print("if it still runs: systemctl --user stop tui-phone && systemctl --user daemon-reload")
    return OK


def cmd_doctor(args) -> int:
    from . import service
    from .locations import socket_path

    config = _load_config(args)
    print(f"config: {config.path or 'embedded default'} ({len(config.accounts)} account(s))")
    path = socket_path(config.control["socket"])
    print(f"phone: {'running' if _answers(path) else 'not running'} (control socket {path})")
    note = service.sound_through_ssh()
    if config.audio["null"]:
        print("sound: off ([audio] null = true)")
        ok = True
    else:
        ok, line = service.sound_server()
        print(line)
        if note:
            print(note)
    print(service.notifications())
    unit = service.unit_path()
    print(f"service: {unit if unit.exists() else 'not installed (tui-phone service install)'}")
    return OK if ok else FAIL


def cmd_open(args) -> int:
    if args.dry_run:
        from .config import Config
        from .links import LinkError, parse_link

        config = _load_config(args) if args.config else Config()
        try:
            link = parse_link(args.url, config.numbers["default_region"])
        except LinkError as e:
            _err(f"rejected link: {e}")
            return BAD_INPUT
        print(json.dumps(link.to_json()))
        return OK
    if args.spawn:  # a click from the desktop: check the link before starting a terminal for it
        from .links import LinkError, parse_link

        try:
            parse_link(args.url, _load_config(args).numbers["default_region"])
        except LinkError as e:
            _err(f"rejected link: {e}")
            return BAD_INPUT
    code, reply = _request(args, {"mt": "OpenUrl", "url": args.url})
    if code == NOT_RUNNING and args.spawn:
        from .handlers import spawn_terminal

        return spawn_terminal(args.url, args.config)
    return code


def _failure_code(reply: dict) -> int:
    """The exit code for a refused request, from its kind: bad input (a rejected
    link, a number with letters) is 2; refused or failed is 1."""
    from .commands import EXIT_CODE

    return EXIT_CODE.get(str(reply.get("kind")), FAIL)


def cmd_call(args) -> int:
    return _request(args, {"mt": "StartCall", "txt": args.number})[0]


def cmd_answer(args) -> int:
    return _request(args, {"mt": "ConnectCall"})[0]


def cmd_hangup(args) -> int:
    return _request(args, {"mt": "DisconnectCall"})[0]


def cmd_status(args) -> int:
    code, reply = _request(args, {"mt": "GetState"})
    if reply is None or code != OK:
        return code
    if args.json:
        print(json.dumps(reply["model"], indent=2))
        return OK
    m = reply["model"]["dev:tui-phone"]["model"]
    for a in m["accounts"]:
        from .store import registration_text

        state = registration_text(not a.get("direct"), a["registered"], a["code"], a["reason"])
        print(f"account {a['name']} <{a['uri']}>: {state}")
    print(f"status: {m['status']}")
    vm = m.get("voicemail") or {}
    if vm.get("waiting"):
        print(f"voicemail: {vm['new']} new, {vm['old']} old")
    for c in m["calls"]:
        print(f"call {c['id']} {'in ' if c['dir'] == 'i' else 'out'} {c['num'] or c['sip']} "
              f"{c['dn']} {c['state']}{' ● REC' if c.get('recording') else ''}".replace("  ", " "))
    if not m["calls"]:
        print("no calls")
    return OK


def cmd_watch(args) -> int:
    from .control.client import NotRunning, stream

    try:
        for msg in stream(_socket(args), {"mt": "Subscribe"}):
            print(json.dumps(msg), flush=True)
    except NotRunning as e:
        _err(str(e))
        return NOT_RUNNING
    except KeyboardInterrupt:
        return OK
    return OK


def cmd_api(args) -> int:
    try:
        msg = json.loads(args.json)
    except json.JSONDecodeError as e:
        _err(f"not valid JSON: {e.msg} at column {e.colno}")
        return BAD_INPUT
    if not isinstance(msg, dict):
        _err("a message must be a JSON object")
        return BAD_INPUT
    code, reply = _request(args, msg)
    if reply is not None:
        print(json.dumps(reply))
    return code


def cmd_register_handlers(args) -> int:
    from .handlers import SCHEMES, register

    path, problems = register()
    print(f"wrote {path}")
    for p in problems:
        _err(p)
    if not problems:
        print("tui-phone now opens: " + ", ".join(f"{s}:" for s in SCHEMES))
    return FAIL if problems else OK


def cmd_http_url(args) -> int:
    from .control.http import urls

    config = _load_config(args)
    if not config.http["enabled"]:
        _err("the HTTP listener is off: set [http] enabled = true in the config")
    for url in urls(config.http):
        print(url)
    return OK


def cmd_contacts(args) -> int:
    """contacts import FILE.vcf / export FILE.vcf / sync [--name N]: works with or
    without a running phone."""
    from dataclasses import replace
    from pathlib import Path

    from .contacts.db import ContactsDB
    from .contacts.model import ContactError
    from .contacts.vcard import import_file, import_summary, write_vcards
    from .files import open_private

    config = _load_config(args)
    region = config.numbers["default_region"]
    if (args.action == "sync") == bool(args.file):
        _err("contacts sync takes no file" if args.file else f"contacts {args.action} needs a FILE.vcf")
        return BAD_INPUT
    books = config.addressbooks
    if args.action == "sync" and args.name:
        books = tuple(b for b in books if b.name == args.name)
    if args.action == "sync" and not books:
        _err(f"no address book named {args.name!r} in the config" if args.name
             else "no address books: add [[addressbooks]] with name and url to the config")
        return BAD_INPUT
    path = Path(args.file or "")
    try:
        db = ContactsDB(region=region)
    except (ContactError, OSError) as e:
        _err(f"contacts: {e}")
        return FAIL
    with db:
        if args.action == "sync":
            return _sync(db, books)
        if args.action == "export":
            uids = db.uids()
            cards = write_vcards(replace(c, uid=uids.get(c.id, "")) for c in db.search("", include_team=False))
            try:
                with open_private(path) as f:
                    f.write(cards)
            except OSError as e:
                _err(f"{path}: {e.strerror}")
                return FAIL
            print(f"exported {cards.count('BEGIN:VCARD')} contact(s) to {path}")
            return OK
        try:
            count, problems, added = import_file(db, path)
        except ContactError as e:
            _err(str(e))
            return BAD_INPUT
        for problem in problems:
            _err(f"{path}: {problem}")
        print(import_summary(count, problems, added, path))
        return BAD_INPUT if problems and not count else OK


def _sync(db, books) -> int:
    from .contacts.sync import sync_books

    tty = sys.stderr.isatty()

    def progress(line: str) -> None:
        print(("\r\033[K" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)

    def report(line: str) -> None:
        print(("\r\033[K" if tty else "") + line, file=sys.stderr, flush=True)

    summaries, errors = sync_books(db, books, report, progress)
    if tty:
        print("\r\033[K", end="", file=sys.stderr)
    for summary in summaries:
        print(summary.line())
    for error in errors:
        _err(error)
    return FAIL if errors else OK


def cmd_audio(args) -> int:
    if args.action == "codecs":
        from .config import CODECS

        for codec in CODECS:  # the bundled pjsua2 build's codecs (a contract test checks the list)
            print(codec)
        return OK
    try:
        from .sip.audio import list_devices

        devices = list_devices()
    except OSError as e:
        _err(f"no audio: PortAudio is not available ({e}); calls still work without sound")
        return FAIL
    for d in devices:
        print(d)
    if not devices:
        print("no audio devices: calls connect without sound ([audio] null = true silences this)")
    return OK


def cmd_config_check(args) -> int:
    """The config file, the theme files and the theme ``[ui]`` names: one line per problem."""
    config = _load_config(args)
    problems = theme_problems(config.ui["theme"])
    for problem in problems:
        _err(problem)
    if problems:
        return BAD_INPUT
    print(f"{config.path or 'embedded default'}: ok ({len(config.accounts)} account(s))")
    return OK


def theme_problems(wanted: str) -> list[str]:
    """Theme files that would be skipped, and a ``[ui] theme`` that names no usable theme."""
    from textual.theme import BUILTIN_THEMES

    from .ui.themes import load_themes

    themes, problems = load_themes()
    if wanted not in BUILTIN_THEMES and all(t.name != wanted for t in themes):
        problems.append(f"[ui] theme: no usable theme named {wanted!r}; tui-phone would start with 'tui-phone'")
    return problems


_VALUED = ("--config", "--open", "--theme")  # the main options that take a value


def _options_only(argv: list[str]) -> bool:
    """argv holds nothing but the main options (the TUI's start): the parser
    then needs no subcommands, whose 16 parsers cost ~6 ms of every start."""
    it = iter(argv)
    for token in it:
        if token in _VALUED:
            next(it, None)
        elif token not in ("--headless", "--debug") and not token.startswith(tuple(v + "=" for v in _VALUED)):
            return False
    return True


def build_parser(commands: bool = True):
    import argparse

    from . import __version__

    p = argparse.ArgumentParser(prog="tui-phone", description="A SIP softphone for the terminal.")
    p.add_argument("--version", action="version", version=f"tui-phone {__version__}")
    p.add_argument("--config", metavar="PATH", help="use this config file instead of the XDG one")
    p.add_argument("--headless", action="store_true", help="run without UI (logs to stderr)")
    p.add_argument("--debug", action="store_true", help="write SIP and app logs to the state dir")
    p.add_argument("--open", metavar="URL", help="start the TUI and open this link once ready")
    p.add_argument("--theme", metavar="NAME", help="start with this theme (shipped, Textual's, or from the config dir's themes/)")
    p.set_defaults(func=cmd_run)
    if not commands:
        return p
    sub = p.add_subparsers(metavar="COMMAND")

    def add(name, func, help, *arguments):
        sp = sub.add_parser(name, help=help)
        sp.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for args, kwargs in arguments:
            sp.add_argument(*args, **kwargs)
        sp.set_defaults(func=func)
        return sp

    add("open", cmd_open, "hand a tel:/sip:/callto:/… link to the running phone",
        (("url",), {}),
        (("--dry-run",), {"action": "store_true", "help": "parse only; print the command as JSON"}),
        (("--spawn",), {"action": "store_true", "help": "start the phone in a terminal if none runs"}))
    add("call", cmd_call, "dial a number or SIP URI", (("number",), {}))
    add("answer", cmd_answer, "answer the ringing call")
    add("hangup", cmd_hangup, "end the current call (or reject the ringing one)")
    add("status", cmd_status, "show accounts and calls",
        (("--json",), {"action": "store_true", "help": "print the full state as JSON"}))
    add("watch", cmd_watch, "stream state updates as JSON lines")
    add("api", cmd_api, "send one raw API message and print the reply", (("json",), {}))
    add("http-url", cmd_http_url, "print the ready-to-paste URL commands (with the token)")
    add("register-handlers", cmd_register_handlers,
        "make tui-phone the desktop handler for tel:, callto:, sip:, … links")
    add("contacts", cmd_contacts, "import or export contacts as vCard (3.0 and 4.0 read, 3.0 written); "
        "sync them with the [[addressbooks]] now",
        (("action",), {"choices": ["import", "export", "sync"]}),
        (("file",), {"metavar": "FILE.vcf", "nargs": "?"}),
        (("--name",), {"metavar": "N", "help": "sync only the address book named N"}))
    add("attach", cmd_attach, "show the TUI of a phone that already runs (never starts one)",
        (("--socket",), {"metavar": "PATH", "help": "its control socket (e.g. one forwarded with ssh -L)"}))
    add("service", cmd_service, "install or remove the systemd user unit that runs the phone headless",
        (("action",), {"choices": ["install", "uninstall"]}))
    add("doctor", cmd_doctor, "say what the phone reaches from here: socket, sound server (local or "
        "forwarded), notifications")
    add("audio", cmd_audio, "list sound devices ([audio] input/output/ring match by name) or codecs",
        (("action",), {"choices": ["devices", "codecs"]}))
    cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(metavar="ACTION", required=True)
    check = cfg_sub.add_parser("check", help="validate the config file")
    check.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    check.set_defaults(func=cmd_config_check)
    return p


def fast_open(argv: list[str]) -> int | None:
    """``[--config PATH] open URL`` without argparse, dataclasses or pathlib:
    a click on a link reaches the running phone in a few milliseconds of
    Python. Returns None when argv is not that shape (the full CLI handles it)."""
    config = None
    if len(argv) == 4 and argv[0] == "--config":
        config, argv = argv[1], argv[2:]
    if len(argv) != 2 or argv[0] != "open" or argv[1].startswith("-"):
        return None
    from .control.address import configured_socket
    from .control.client import NotRunning, request

    try:
        path = configured_socket(config)
    except ValueError:
        return None  # an unreadable or invalid config: the full CLI reports it properly
    try:
        reply = request(path, {"mt": "OpenUrl", "url": argv[1]})
    except NotRunning as e:
        _err(str(e))
        return NOT_RUNNING
    except (OSError, ValueError) as e:
        _err(f"control socket: {e}")
        return FAIL
    if reply.get("ok") is False or reply.get("mt") == "Error":
        _err(reply.get("error", "request failed"))
        return _failure_code(reply)
    if reply.get("pending"):
        print(reply["pending"])
    return OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    code = fast_open(argv)
    if code is not None:
        return code
    args = build_parser(commands=not _options_only(argv)).parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return OK


if __name__ == "__main__":
    sys.exit(main())
