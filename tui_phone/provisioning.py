"""phone.systems authenticate links: fetch an account and add it to the
config file with tomlkit, so the user's comments and order survive."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from .config import ACCOUNT_SCHEMA, Config, ConfigError, parse
from .files import write_private


class ProvisioningError(RuntimeError):
    """One line saying what went wrong; the config file is left as it was."""


async def fetch_account(url_template: str, code: str) -> dict:
    import httpx

    url = url_template.replace("$code", quote(code, safe=""))
    try:
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            r = await client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as e:
        raise ProvisioningError(f"provisioning: cannot reach the server: {type(e).__name__}") from None
    if r.status_code != 200:
        raise ProvisioningError(f"provisioning: the server answered {r.status_code} {r.reason_phrase}")
    try:
        data = r.json()
    except ValueError:
        raise ProvisioningError("provisioning: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise ProvisioningError("provisioning: the answer is not a JSON object")
    unknown = sorted(set(data) - set(ACCOUNT_SCHEMA))
    if unknown:
        raise ProvisioningError(f"provisioning: unknown account keys: {', '.join(unknown)}")
    return data


def add_account(path: Path, account: dict) -> str:
    """Append ``account`` as a new [[accounts]] table; validate the result
    first so a bad account never reaches the file. Returns its name."""
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    doc = tomlkit.parse(text)
    table = tomlkit.table()
    for key, value in account.items():
        table[key] = value
    if "accounts" not in doc:
        doc["accounts"] = tomlkit.aot()
    doc["accounts"].append(table)
    new = tomlkit.dumps(doc)
    try:
        cfg = parse(new, path)
    except ConfigError as e:
        raise ProvisioningError(f"provisioning: the account is not valid: {e}") from None
    write_private(path, new)  # it holds a password
    return cfg.accounts[-1].name


async def provision(config: Config, code: str) -> tuple[str, Path]:
    from .locations import config_file

    account = await fetch_account(config.provisioning["url"], code)
    path = config.path or config_file()
    return add_account(path, account), path
