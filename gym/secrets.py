"""Secrets in config values: which slime flags carry one, and `redact()`, the one function that masks
them wherever gym shows or logs a value (plans, printed commands, job logs, W&B config, errors).

Where a secret can hide in a config:
- `extra_args` with a flag whose value is a secret (`SECRET_FLAGS`, or an unknown flag whose name says
  key/token/secret/password): refused by validation, and no message or suggestion repeats its value;
- a URL with credentials (`rm_url="https://user:pass@host/score"`, `?token=...`, `&api_key=...`):
  allowed (slime's remote reward takes only a URL), masked by `redact()` wherever gym prints it.
  slime itself logs its arguments, `--rm-url` included, to the W&B run config, so validation refuses
  such a URL (in rm_url or extra_args) when W&B logging is on (rule `no_credentials_in_urls`);
  Megatron prints its arguments at start-up, so the job log gym streams is masked too.
"""

from __future__ import annotations

import re
from typing import Any

SECRET_FLAGS = (
    "--wandb-key", "--sglang-api-key", "--sglang-admin-api-key", "--sglang-ssl-keyfile-password",
    "--router-api-key", "--router-control-plane-api-keys", "--router-oracle-password", "--hf-token",
)
"""Flags whose value is a secret. All but `--hf-token` are flags of the pinned image's parser
(gym/slime/pinned_flags.json: slime's --wandb-key, SGLang's server and router keys and passwords);
`--hf-token` is what users reach for (slime reads HF_TOKEN from the environment). gym never emits
them: slime logs its whole argv to the W&B run config, and Ray's dashboard shows the command."""

SECRET_NAME = re.compile(r"(api[-_]?keys?|password|passwd|secret|credential|"
                         r"(^|[-_])(hf|auth|access|bearer|refresh|github|gh|wandb|session|private)[-_]?(token|key)s?$)", re.I)
"""A flag or field name that says its value is a secret, unknown flags included (`--hf-token`,
`--openai-api-key`). Of the pinned image's 1,435 flags it matches exactly the SECRET_FLAGS there;
not `--input-key`, `--reward-key`, `--fim-eod-token` or `--max-tokens-per-gpu` (columns, tokens, counts)."""

MASK = "<redacted>"

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s?#]+)@")
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;](?:[^=&;#\s]*(?:token|key|secret|password|passwd|pwd|auth|signature|sig|credential)"
    r"[^=&;#\s]*)=)(?P<value>[^&;#\s]+)", re.I)


def is_secret_flag(flag: str) -> bool:
    """True for a flag whose value is a secret: a known one, or one whose name says so."""
    flag = flag.split("=", 1)[0]
    return flag in SECRET_FLAGS or bool(SECRET_NAME.search(flag.lstrip("-")))


def near_secret_flag(flag: str) -> bool:
    """True for a misspelt secret flag (`--hf-tokn`, `--wandb-kye`): its value is a secret too. Only for
    flags the pinned slime does not know (three of its own flags are this close to a secret one)."""
    import difflib

    return bool(difflib.get_close_matches(flag.split("=", 1)[0], SECRET_FLAGS, n=1, cutoff=0.8))


def has_credentials(url: str) -> bool:
    """True when a URL carries credentials: user:password@, or a key/token/secret query parameter."""
    return redact(url) != url


def redact(value: Any) -> Any:
    """`value` with every secret masked: in text, the credentials of URLs (`user:pass@` and
    key/token/secret/password query parameters); in a list of arguments, also the value after a
    secret flag (`["--hf-token", "S"]` -> `["--hf-token", "<redacted>"]`, `--hf-token=S` likewise).
    Anything else comes back unchanged."""
    if isinstance(value, str):
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", value)
        return _SECRET_PARAM.sub(lambda m: f"{m['key']}{MASK}", text)
    if isinstance(value, (list, tuple)):
        out, hide_next = [], False
        for item in value:
            if hide_next and not (isinstance(item, str) and item.startswith("--")):
                out.append(MASK)
                continue
            hide_next = False
            if isinstance(item, str) and item.startswith("--") and is_secret_flag(item):
                flag, eq, _ = item.partition("=")
                out.append(f"{flag}={MASK}" if eq else flag)
                hide_next = not eq
            else:
                out.append(redact(item))
        return type(value)(out)
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    return value
