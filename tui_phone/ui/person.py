"""``ScreenUi``: the ``phone.Ui`` protocol on the TUI, what only a person at
the screen can do: confirm a call from outside, take a prefilled number,
write a message, accept a provisioning code."""

from __future__ import annotations

from ..commands import Result, SendSms, StartCall
from .dialogs import Compose, Confirm


class ScreenUi:
    def __init__(self, app):
        self.app = app

    async def prepare(self, target: str) -> Result:
        from .panes import DialPad

        self.app.query_one(DialPad).prefill(target)
        self.app.notify(f"Press Enter to call {target}")
        return Result(True, pending="prefilled in the dialpad; the user presses Enter to call")

    async def confirm(self, command: StartCall | SendSms, reason: str) -> Result:
        app = self.app

        async def decided(yes: bool | None) -> None:
            if yes:
                if (await app.run_command(command)).ok and not sms:
                    from .panes import CallList

                    app.query_one(CallList).focus()
            else:
                app.log_line("info", f"{what} {target} cancelled by the user")

        sms = isinstance(command, SendSms)
        what, target = ("message to", command.to) if sms else ("call to", command.target)
        app.bell()
        app.push_screen(Confirm(f"Send a message to {target}?" if sms else f"Call {target}?",
                                f"Asked from outside the keyboard: {reason}.", yes="Send" if sms else "Call"),
                        decided)
        return Result(True, pending=f"waiting for the user to confirm: {reason}")

    async def compose_message(self, number: str) -> Result:
        self.app.push_screen(Compose(number))
        return Result(True, pending="message compose opened; the user writes and sends")

    async def authenticate(self, code: str) -> Result:
        from ..provisioning import ProvisioningError, provision

        app = self.app
        url = app.config.provisioning["url"]
        if not url:
            app.notify("An authenticate link arrived, but no provisioning.url is configured.",
                       severity="warning", timeout=10)
            return Result.fail("no provisioning.url configured", "refused")

        async def decided(yes: bool | None) -> None:
            if not yes:
                return
            try:
                name, path = await provision(app.config, code)
            except ProvisioningError as e:
                app.log_line("error", str(e))
                app.notify(str(e), severity="error", timeout=10)
                return
            app.log_line("info", f"account {name} added to {path}")
            app.notify(f"Account {name} added to {path}; restart tui-phone to register it.", timeout=10)

        app.push_screen(Confirm("Authenticate this phone?",
                                f"Fetch an account from {url.split('$code')[0]}… with the code "
                                "from the link and add it to your config."), decided)
        return Result(True, pending="waiting for the user to confirm")
