"""Every key binding, for the help screen (and the README's key table)."""

KEYS = (
    ("0-9 * # + letters", "dialpad", "type a number, a SIP URI or a contact's name"),
    ("Enter", "dialpad", "dial; a name calls the contact (asks which number when there are several), "
                         "a word that matches none dials sip:word@<your account's domain>"),
    ("Escape", "anywhere", "leave the dialpad, focus the call list"),
    ("d", "call list", "back to the dialpad"),
    ("a", "call list", "answer the ringing (or selected) call"),
    ("h", "call list", "hang up the selected / current call"),
    ("r", "call list", "reject the ringing call (486 Busy Here)"),
    ("o", "call list", "hold / retrieve the selected call"),
    ("t", "call list", "blind-transfer the selected call"),
    ("T (shift+t)", "call list", "attended transfer: the held caller to the consultation call"),
    ("m", "call list", "mute / unmute the microphone (shown in the status line and the call)"),
    ("c / p", "call list", "conference all calls / split, keeping the selected one"),
    ("0-9 * #", "call list", "send DTMF to the connected call"),
    ("F2 … F6", "anywhere", "calls / contacts / team / history / messages"),
    ("n", "messages", "new message; Enter opens a conversation"),
    ("m", "history", "missed calls only (toggle)"),
    ("Enter", "history", "call back / redial"),
    ("s", "outside text fields", "toggle your status: available ↔ unavailable"),
    ("D (shift+d)", "outside text fields", "audio devices: pick the microphone and speaker"),
    ("n / e / x / f", "contacts", "new / edit / delete (asks) / ★ favorite"),
    ("/", "contacts", "search (F3 lands on the list; Escape leaves the search)"),
    ("Enter", "contacts, team", "call (asks which number when there are several)"),
    ("0-4", "team", "filter: all / available / unavailable / in-call / offline"),
    ("Ctrl+L", "anywhere", "show or hide the log pane"),
    ("Ctrl+P", "anywhere", "command palette: every action, “Call …” a number or a contact's name, "
                           "import contacts, switch theme"),
    ("F1, ?", "anywhere", "this help (? types in the search and message fields)"),
    ("Ctrl+Q, Ctrl+C", "anywhere", "quit (live calls get a BYE); also q outside text fields"),
)
