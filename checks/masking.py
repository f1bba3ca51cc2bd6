"""Secret masking: what golive shows of a target's text never holds a secret, and golive's own sentences
are never touched.

Two entry points, for two kinds of text:

- `mask(text)` / `masker.mask_data(obj)` is for *foreign* text: what a target printed or answered, an
  exception message, a setting's value. It runs every rule: known values, then structure (JSON and YAML
  parsed by real parsers where the text parses, masked by key; `key = value` / `--flag=value` / headers by
  line rules where it does not), then shapes (tokens, PEM blocks, URL userinfo, connection strings).
- `scrub(text)` / `masker.scrub_data(obj)` is for text golive composed itself out of already-masked parts
  (verdict sentences, "check_id: summary" lines, chat messages, CLI output): known values and shapes only.
  Name rules never run on our own sentences, so `api.token_check: has not run` or "App-Level Tokens:
  generate a token" stay as written.

Masking happens on values *before* anything is serialized: JSON text is parsed, masked as data and
written again (only when something changed), never rewritten as characters, so nothing masking does can
make stored or printed JSON unreadable.

Known values (GitHub Actions' registered secrets, the same idea): every secret setting, golive's own and the
target's, is registered when settings are loaded and scrubbed wherever it appears, with its URL-encoded,
base64 and JSON-escaped forms. Values shorter than `MIN_KNOWN_LENGTH` are not registered ("1" or "yes"
would mask ordinary text); values shorter than `WORD_BOUNDED_BELOW` are only replaced as whole words.

A name is secret (`is_secret_name`) by its parts: see the docstring there for the word lists.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import yaml

MASK = "***"
MIN_KNOWN_LENGTH = 6
"""Known values shorter than this are not scrubbed by value (they are still masked by name and shape)."""
WORD_BOUNDED_BELOW = 12
"""Known values shorter than this are replaced only where they stand as a whole word, not inside another."""
YAML_PARSE_LIMIT = 20_000
"""Text longer than this is not parsed as YAML (pure-Python parsing); the line rules still apply."""

# Every pattern below has bounded quantifiers and anchors on a boundary, so masking stays linear in the
# length of the text (evidence can be a 100 kB body without spaces).

# scheme://user:password@host -> scheme://user:***@host. The password runs to the LAST "@" before the
# path (a password with an unencoded "@" is masked whole); if it holds a "/" too, to the last "@" of the word.
_URL_PASSWORD = re.compile(
    r"(?P<pre>(?<![a-zA-Z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://[^:/@\s\"'<>\\]{0,256}:)"
    r"(?P<secret>[^\s/?#\"'<>\\]{1,256}(?=@)|[^\s\"'<>\\]{1,256}(?=@))(?P<post>@)"
)
# scheme://key@host (Sentry DSN style, or a token as the user) for http(s), and any long user part elsewhere
_URL_USERINFO_KEY = re.compile(
    r"(?P<pre>(?<![a-zA-Z0-9+.\-])(?:https?://|[a-zA-Z][a-zA-Z0-9+.\-]{0,31}://(?=[^:/@\s]{20}))"
    r")(?P<secret>[^:/@\s\"'<>\\]{8,1024})(?P<post>@)"
)
# Token shapes that are secret wherever they appear. None of them can match a quote or a backslash, so a
# replacement never cuts an escape sequence in half.
_TOKENS = [
    re.compile(r"xox[abposre]-[0-9A-Za-z\-]{8,1024}"),  # Slack bot/user/app/refresh tokens
    re.compile(r"xapp-[0-9A-Za-z\-]{8,1024}"),  # Slack app-level tokens
    re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[0-9A-Za-z/_\-]{8,512}"),  # Slack webhooks
    re.compile(r"(?<![0-9A-Za-z_])gh[pousr]_[0-9A-Za-z]{20,255}"),  # GitHub tokens
    re.compile(r"(?<![0-9A-Za-z_])github_pat_[0-9A-Za-z_]{20,255}"),  # GitHub fine-grained tokens
    re.compile(r"(?<![0-9A-Z])(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Z])"),  # AWS key ids
    re.compile(r"(?<![0-9A-Za-z_])(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,255}"),  # Stripe keys
    re.compile(r"(?<![0-9A-Za-z_])whsec_[0-9A-Za-z]{10,255}"),  # Stripe webhook secrets
    re.compile(r"(?<![0-9A-Za-z_\-])sk-(?:proj-|ant-)?[0-9A-Za-z_\-]{20,255}"),  # OpenAI / Anthropic keys
    re.compile(r"(?<![0-9A-Za-z_])AIza[0-9A-Za-z_\-]{30,64}"),  # Google API keys
    re.compile(r"(?<![0-9A-Za-z_])SG\.[0-9A-Za-z_\-]{16,64}\.[0-9A-Za-z_\-]{16,64}"),  # SendGrid
    re.compile(r"(?<![0-9A-Za-z_])(?:npm|hf|glpat|dop_v1|shpat|shpss|sntrys|sntryu)_[0-9A-Za-z_=+/\-]{16,255}"),
    re.compile(r"(?<![0-9A-Za-z_\-])glpat-[0-9A-Za-z_\-]{16,255}"),  # GitLab personal tokens
    re.compile(r"(?<![0-9A-Za-z_\-])eyJ[0-9A-Za-z_\-]{4,8192}\.eyJ[0-9A-Za-z_\-]{4,8192}\.[0-9A-Za-z_\-]{0,8192}"),
    # (above: JWTs) Authorization header schemes: Bearer/Token anything token-like, Digest's parameters
    re.compile(r"(?i)(?<=bearer )(?=[0-9A-Za-z._\-~+/]{0,64}[0-9]|[0-9A-Za-z._\-~+/]{24})[0-9A-Za-z._\-~+/]{8,4096}=*"),
    re.compile(r"(?i)(?<=token )[0-9A-Za-z._\-~+/]{20,4096}=*"),
    re.compile(r"(?i)(?<=digest )(?=[a-z]{1,32}=)[^\r\n\\]{1,4096}"),
]
# Basic credentials: base64 of user:password (so "Basic checks passed" stays readable)
_BASIC = re.compile(r"(?i)(?<=basic )[0-9A-Za-z+/]{8,4096}={0,2}")
# PEM blocks: the header, the base64 body (real or JSON-escaped newlines) and the footer go as one.
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]{0,40}(?:PRIVATE KEY|PRIVATE KEY BLOCK|CERTIFICATE REQUEST)-----"
    r"(?:[A-Za-z0-9+/=\s]|\\[nr])*(?:-----END [A-Z0-9 ]{0,60}-----)?"
)
# Connection strings (ADO.NET/ODBC/Azure): Password=..., AccountKey=..., SharedAccessKey=..., sig=... up to
# the next ";" (their values may hold spaces), else up to a space or "&".
_CONN_STRING = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(?P<name>password|pwd|accountkey|sharedaccesskey|sharedsecretvalue|sig|"
    r"client_secret|access_token)[ \t]{0,8}=[ \t]{0,8}"
    r"(?P<value>[^;&\r\n\"'\\<>]{1,4096}(?=;)|[^\s;&\"'\\<>]{1,4096})"
)
_HEADER_LINE = re.compile(r"(?im)(?:^|(?<=: ))(?P<name>(?:set-)?cookie|(?:proxy-)?authorization|x-api-key)"
                          r"[ \t]*:[ \t]*(?P<value>[^\r\n\\]{1,8192})")

# -- names -----------------------------------------------------------------------------------------
# Strong words make a name secret wherever they stand in it (also inside a compound: dbpassword).
_STRONG_SUBSTRINGS = ("password", "passwd", "passphrase", "passcode", "secret", "credential", "apikey",
                      "privatekey", "accesskey", "secretkey", "masterkey", "signingkey")
# Whole name parts that are secret (db_PASS, auth, api-KEY, sessionId...).
_SECRET_PARTS = frozenset({"pwd", "pw", "key", "token", "tokens", "secrets", "auth", "authorization",
                           "session", "sessionid", "sessid", "cookie", "cookies", "creds", "otp", "sig",
                           "signature", "private", "bearer", "pat"})
# A compound ending in one of these is secret: userpwd, ADMINPASS, MASTERKEY, accesskey, csrftoken, oauth.
_SECRET_SUFFIXES = ("pwd", "pass", "key", "token", "auth", "secret")
_NOT_SECRET_WORDS = frozenset({
    # compounds that end like a secret word and are not one ("keyboard" does not end in one)
    "monkey", "turkey", "hockey", "donkey", "jockey", "whiskey", "hotkey", "bypass", "compass", "surpass",
    "overpass", "underpass", "trespass", "secretary", "secretaries", "author", "authors",
})
# A name holding one of these parts is about a secret, not one: secret_scan, token_check, max_tokens,
# password_file, key_id? (no: an id of a key is kept secret), token_url, SECRET_NAME.
_QUALIFIER_PARTS = frozenset({
    "check", "checks", "checked", "scan", "scans", "scanner", "finding", "findings", "count", "counts", "len",
    "length", "size", "max", "min", "num", "total", "ttl", "expiry", "expires", "expire", "expiration", "expired",
    "type", "types", "name", "names", "file", "files", "path", "paths", "dir", "url", "uri", "urls", "endpoint",
    "header", "headers", "field", "fields", "policy", "rotation", "rotated", "rotate", "age", "timeout",
    "enabled", "disabled", "required", "prefix", "format", "kind", "scope", "scopes", "limit", "limits", "hint",
    "label", "lifetime", "algorithm", "alg", "mode", "status", "state", "error", "errors", "message", "valid",
    "invalid", "missing", "used", "usage", "version", "manager", "store", "provider", "regex",
    "pattern", "strength", "rule", "rules", "test", "tests", "lookup", "env", "var", "vars", "location",
    "issuer", "audience", "changed", "reset", "input", "prompt", "level", "duration", "interval",
    "latency", "ms", "seconds", "secs", "rate", "ratio", "failures", "failed", "attempts", "retries",
    "requests", "hits", "misses", "calls", "bucket", "p50", "p95", "p99",
})
_SHELL_VARIABLES = frozenset({"PWD", "OLDPWD"})  # the working directory, not a password
_NAME_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_HARMLESS_VALUES = frozenset({"", "null", "none", "nil", "~", "true", "false", "yes", "no", "on", "off", "***",
                              "\"\"", "''", "[]", "{}", "<redacted>", "redacted", "[redacted]", "[filtered]",
                              "<hidden>", "hidden", "masked", "unset", "not set", "******", "xxx", "-",
                              "value", "<value>", "...", "…"})  # placeholders: `KEY=VALUE lines`

SECRET_URL_NAME = re.compile(r"(?i)(database_url|redis_url|_url$|_uri$|dsn)")


@functools.lru_cache(maxsize=8192)
def is_secret_name(name: str) -> bool:
    """Does a variable/JSON key/flag name say its value is secret?

    Only the last dotted segment counts (`spring.datasource.password` yes, `auth.login` no). It is secret
    when it holds a strong word anywhere (password, passwd, passphrase, passcode, secret, credential,
    apikey, accesskey, masterkey...), or a part that is one (pwd, key, token, auth, session, cookie,
    creds, otp, sig, private...; pass next to another part), or a part that ends in pwd/pass/key/token/
    auth/secret (userpwd, ADMINPASS, MASTERKEY, csrftoken, oauth) - unless that part is an ordinary word
    (monkey, bypass, author; "keyboard" does not end in key and is not secret) - and holds no qualifier
    part saying it is *about* a secret (secret_scan, token_check, max_tokens, password_file, token_url).
    """
    segment = re.split(r"[./:]", name.strip("-_ "))[-1] if name else ""
    if not segment or segment in _SHELL_VARIABLES:
        return False
    parts = [p.lower() for p in _NAME_PARTS.findall(segment)]
    if not parts or any(p in _QUALIFIER_PARTS for p in parts):
        return False
    if len(parts) > 1 and "pass" in parts:  # SMTP_PASS, db-pass; a lone "pass" is a count (pass/fail)
        return True
    for part in parts:
        if part in _NOT_SECRET_WORDS:
            continue
        if part in _SECRET_PARTS or any(word in part for word in _STRONG_SUBSTRINGS):
            return True
        if len(part) > 4 and part.endswith(_SECRET_SUFFIXES):
            return True
    return False


class _SecretName:
    """Kept for callers that used `SECRET_NAME.search(name)`."""

    @staticmethod
    def search(name: str) -> bool:
        return is_secret_name(name)


SECRET_NAME = _SecretName()


def _harmless(value: str) -> bool:
    stripped = value.strip().strip("\"'").strip()
    return stripped.lower() in _HARMLESS_VALUES or set(stripped) <= {"*"} or stripped.startswith(MASK)


# -- structure: JSON ------------------------------------------------------------------------------
def _json_style(text: str) -> dict[str, Any]:
    """How `text` was serialized, so a masked copy is written the same way."""
    style: dict[str, Any] = {"ensure_ascii": text.isascii()}
    if "\n" in text.strip():
        second = text.strip().split("\n", 2)[1] if "\n" in text.strip() else ""
        indent = len(second) - len(second.lstrip(" "))
        style["indent"] = indent or 2
        if not re.search(r"[,:]\s", text) and indent == 0:
            style.pop("indent")
    elif not re.search(r"\"\s*:\s|,\s", text):
        style["separators"] = (",", ":")
    return style


def _mask_json_text(text: str, masker: Masker, *, names: bool) -> str | None:
    """`text` masked as JSON data and written again, or None when it is not a JSON object or array."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{" or stripped[-1] not in "]}":
        return None
    try:
        data = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    masked = masker.mask_data(data) if names else masker.scrub_data(data)
    if masked == data:
        return text
    try:
        out = json.dumps(masked, **_json_style(stripped))
    except (ValueError, RecursionError):
        return None
    return text[:len(text) - len(text.lstrip())] + out + text[len(text.rstrip()):]


# -- structure: YAML ------------------------------------------------------------------------------
_YAML_KEY_LINE = re.compile(r"(?m)^[ \t]*(?:-[ \t]+)?[\"']?(?P<name>[A-Za-z_][\w.\-]{0,95})[\"']?[ \t]*:(?:[ \t]|$)")


_YAML_FLOW_KEY = re.compile(r"[{,][ \t]{0,32}[\"']?(?P<name>[A-Za-z_][\w.\-]{0,95})[\"']?[ \t]{0,32}:")
_YAML_PAIR_LINE = re.compile(r"(?m)^[ \t]*(?:-[ \t]+)?(?:name|key|Name|Key)[ \t]*:[ \t]*[\"']?(?P<name>[\w.\-]{1,96})")


def _mask_yaml_text(text: str) -> str | None:
    """Values under secret-named keys of a YAML document replaced where they stand (the rest byte for
    byte), or None when the text is no YAML mapping/sequence or holds no secret-named key."""
    if len(text) > YAML_PARSE_LIMIT or not (
            any(is_secret_name(m["name"]) for m in _YAML_KEY_LINE.finditer(text))
            or any(is_secret_name(m["name"]) for m in _YAML_PAIR_LINE.finditer(text))
            or (text.lstrip()[:1] in ("{", "[")
                and any(is_secret_name(m["name"]) for m in _YAML_FLOW_KEY.finditer(text)))):
        return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    if not isinstance(root, yaml.MappingNode | yaml.SequenceNode):
        return None
    spans: list[tuple[int, int, str]] = []
    seen: set[int] = set()

    def secret_scalars(node: yaml.Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if not _harmless(str(node.value)):
                spans.append(_yaml_replacement(text, node))
        elif isinstance(node, yaml.MappingNode):
            for _, value in node.value:
                secret_scalars(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                secret_scalars(item)

    def walk(node: yaml.Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            pair = any(isinstance(k, yaml.ScalarNode) and k.value in _PAIR_NAME_KEYS and isinstance(v, yaml.ScalarNode)
                       and is_secret_name(str(v.value)) for k, v in node.value)
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and (is_secret_name(str(key.value))
                                                         or (pair and str(key.value).lower() == "value")):
                    secret_scalars(value)
                else:
                    walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)

    walk(root)
    if not spans:
        return None
    out, pos = [], 0
    for start, end, replacement in sorted(spans):
        if start < pos:
            continue
        out += [text[pos:start], replacement]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _yaml_replacement(text: str, node: yaml.ScalarNode) -> tuple[int, int, str]:
    start, end = node.start_mark.index, node.end_mark.index
    style = node.style
    if style in ("|", ">"):  # a block scalar: keep its indicator line, each content line becomes ***
        chunk = text[start:end]
        head, _, body = chunk.partition("\n")
        lines = [line[:len(line) - len(line.lstrip())] + MASK if line.strip() else line
                 for line in body.split("\n")]
        return start, end, head + "\n" + "\n".join(lines)
    if style == '"':
        return start, end, f'"{MASK}"'
    if style == "'":
        return start, end, f"'{MASK}'"
    return start, end, f'"{MASK}"'  # a plain *** would be read as a YAML alias


# -- line rules: what does not parse --------------------------------------------------------------
_ANSI = r"(?:\x1b\[[0-9;]{0,16}m)"
# A name immediately followed by a separator. Quoted names (JSON keys, also escaped \"name\" and
# \u-escapes), names at the start of a line (YAML, INI, dotenv, headers; after `export `, `- `, colour
# codes), and names in running text followed by `=` (libpq DSNs, --flag=value, query strings).
_NAME_SEP = re.compile(
    r"(?:(?P<ls>(?:^|(?<=\n))[ \t]{0,64}" + _ANSI + r"{0,4}(?:export[ \t]+|-[ \t]+|set[ \t]+)?)"
    r"|(?P<mid>(?<![\w.\\\-])(?:--?)?))"
    r"(?:(?P<q>\\?[\"'])(?P<qname>(?:[A-Za-z0-9_.\- ]|\\u[0-9a-fA-F]{4}){1,96})(?P=q)"
    r"|(?P<name>[A-Za-z_][\w.\-]{0,95}))"
    + _ANSI + r"{0,4}(?P<sep>[ \t]{0,32}(?::|=>|=)(?!=)[ \t]{0,32})" + _ANSI + r"{0,4}"
)
_QUOTED = re.compile(r"\\\"(?:[^\"\\\n]|\\[^\"\n]){0,4096}(?:\\\")?|\"(?:[^\"\\\n]|\\.){0,4096}\"?|'[^'\n]{0,4096}'?")
_FLOW = re.compile(r"\[[^\[\]{}\n]{0,4096}\]|\{[^{}\n]{0,4096}\}")
_TOKEN = re.compile(r"(?:(?:Bearer|Basic|Token|Digest)[ \t]+)?[^\s\"'&;,<>{}\[\]\x1b\\]{1,4096}")
_REST_OF_LINE = re.compile(r"[^\r\n\x1b]{1,4096}")
_CONN_VALUE = re.compile(r"[^;\r\n\x1b\"']{1,4096}")


def _name_of(found: re.Match[str]) -> str:
    if found["qname"] is not None:
        name = found["qname"]
        if "\\u" in name:
            try:
                name = json.loads(f'"{name}"')
            except ValueError:
                return name
        return str(name)
    return found["name"] or ""


def _block_end(text: str, line_end: int, key_indent: int) -> int:
    """The end of the lines after `line_end` that are indented deeper than the key (a YAML block value)."""
    pos = line_end
    while pos < len(text):
        nxt = text.find("\n", pos + 1)
        nxt = len(text) if nxt == -1 else nxt
        line = text[pos + 1:nxt]
        if line.strip() and len(line) - len(line.lstrip(" \t")) <= key_indent:
            break
        pos = nxt
    return pos


def _mask_block_lines(chunk: str) -> str:
    return "\n".join(line[:len(line) - len(line.lstrip())] + MASK if line.strip() else line
                     for line in chunk.split("\n"))


def _mask_named_values(text: str) -> str:
    """`name=value`, `"name": "value"`, `name: value` whose name is secret-looking lose the value.

    The pattern only finds name+separator; the value is read after the name passed `is_secret_name`, and
    the scan resumes right after the separator, so a secret nested in another value is still found.
    """
    out: list[str] = []
    pos = 0
    for found in _NAME_SEP.finditer(text):
        if found.start() < pos:
            continue
        name = _name_of(found)
        if not is_secret_name(name):
            continue
        sep = found["sep"].strip()
        at_line_start = found["ls"] is not None
        quoted_name = found["qname"] is not None
        if sep == ":" and not quoted_name and not at_line_start and found["sep"] != ":" \
                and not _colon_name_mid_line(name):
            continue  # "App-Level Tokens: generate a token": prose, not a key (Password:x is a key)
        start = found.end()
        line_end = text.find("\n", start)
        line_end = len(text) if line_end == -1 else line_end
        rest = text[start:line_end]
        replacement: str | None
        end: int
        if rest.strip() == "" or (at_line_start and sep == ":" and re.fullmatch(r"[|>][+\-0-9]{0,3}[ \t]*", rest)):
            if not (at_line_start or quoted_name) or sep not in (":", "="):
                continue
            # the value is on the next, deeper-indented lines (a YAML block or a value on the next line)
            indent = len(text[found.start():]) - len(text[found.start():].lstrip(" \t"))
            block_end = _block_end(text, line_end, indent)
            if block_end <= line_end:
                continue
            chunk = text[line_end + 1:block_end]
            if _harmless(chunk):
                continue
            out += [text[pos:line_end + 1], _mask_block_lines(chunk)]
            pos = block_end
            continue
        connection = (found.start() > 0 and text[found.start() - 1] == ";") or (";" in rest and sep == "=")
        value = _QUOTED.match(text, start) or _FLOW.match(text, start)
        if value is None and connection and sep == "=":
            value = _CONN_VALUE.match(text, start)
        elif value is None and at_line_start and (found["sep"] != sep):  # `password = a b c` (INI, YAML)
            value = _REST_OF_LINE.match(text, start)
        if value is None:
            value = _TOKEN.match(text, start)
        if value is None:
            continue
        replacement = _masked_value(value[0], json_key=quoted_name and found["q"].lstrip("\\") == '"')
        if replacement is None:
            continue
        end = value.end()
        out += [text[pos:value.start()], replacement]
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


_XML_ELEMENT = re.compile(r"<(?P<tag>[A-Za-z_][\w.\-]{0,64})>(?P<value>[^<>\n]{1,4096})</(?P=tag)>")
_NETRC = re.compile(r"(?i)(?<![\w-])(?P<head>machine[ \t]+\S{1,256}(?:[ \t]+login[ \t]+\S{1,256})?[ \t]+"
                    r"password[ \t]+)(?P<value>\S{1,1024})")


def _mask_elements(text: str) -> str:
    """`<password>...</password>` (XML, SOAP faults) and netrc's `machine h login u password p`."""
    if "</" in text:
        text = _XML_ELEMENT.sub(lambda m: m[0] if not is_secret_name(m["tag"]) or _harmless(m["value"])
                                else f"<{m['tag']}>{MASK}</{m['tag']}>", text)
    if "machine" in text:
        text = _NETRC.sub(lambda m: m["head"] + MASK, text)
    return text


def _colon_name_mid_line(name: str) -> bool:
    """In running text, `name: value` is a key only when the name looks like one (api_key, apiKey,
    DB_PASSWORD, password), not like a word of a sentence ("Tokens: generate ...", "a key: value pair")."""
    if re.search(r"[_.\-0-9]", name) or re.search(r"[a-z][A-Z]", name):
        return True  # api_key, x-api-key, apiKey
    if not (name.islower() or (name.isupper() and len(name) > 1)):
        return False  # a capitalised word of a sentence
    return any(word in name.lower() for word in _STRONG_SUBSTRINGS)  # password: x, not "key: value pairs"


def _masked_value(value: str, *, json_key: bool = False) -> str | None:
    """The value with its quotes kept and its content masked; None when there is nothing to hide."""
    stripped = value.rstrip()
    if not stripped or _harmless(stripped):
        return None
    trail = value[len(stripped):]
    if stripped[0] in "[{":
        return None if stripped[1:-1].strip() == "" else stripped[0] + MASK + stripped[-1] + trail
    for mark in ('\\"', '"', "'"):
        if stripped.startswith(mark):
            inner = stripped[len(mark):]
            closed = len(inner) >= len(mark) and inner.endswith(mark)
            if closed:
                inner = inner[:-len(mark)]
            if _harmless(inner):
                return None
            return mark + MASK + (mark if closed else "") + trail
    if json_key:
        return f'"{MASK}"' + trail  # a bare JSON number or literal: keep the JSON valid
    return MASK + trail


def _is_basic_credential(value: str) -> bool:
    if len(value) >= 24:
        return True
    try:
        return b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except ValueError:
        return False


def _conn_string(found: re.Match[str]) -> str:
    value = found["value"]
    if _harmless(value) or value.startswith(MASK):
        return found[0]
    stripped = value.rstrip()
    return found[0][:found.start("value") - found.start()] + MASK + value[len(stripped):]


def mask_shapes(text: str) -> str:
    """Mask what looks secret by its shape alone, without knowing any value or name."""
    if "-----BEGIN" in text:
        text = _PEM.sub(MASK, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["pre"] + MASK + m["post"], text)
        text = _URL_USERINFO_KEY.sub(lambda m: m["pre"] + MASK + m["post"], text)
    for pattern in _TOKENS:
        text = pattern.sub(MASK, text)
    text = _BASIC.sub(lambda m: MASK if _is_basic_credential(m[0]) else m[0], text)
    text = _HEADER_LINE.sub(lambda m: m[0] if _harmless(m["value"])
                            else f"{m[0][:m.start('value') - m.start()]}{MASK}", text)
    return _CONN_STRING.sub(_conn_string, text)


def mask_structure(text: str, masker: Masker | None = None) -> str:
    """Mask by key: JSON and YAML where they parse, the line rules where they do not."""
    as_json = _mask_json_text(text, masker or globals()["masker"], names=True)
    if as_json is not None:
        return as_json
    as_yaml = _mask_yaml_text(text)
    if as_yaml is not None:
        text = as_yaml
    return _mask_named_values(_mask_elements(mask_shapes(text)))


# -- known values ---------------------------------------------------------------------------------
def _forms(value: str) -> set[str]:
    """A secret as it may appear: raw, URL-encoded, base64 (standard, URL-safe, unpadded), JSON-escaped."""
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
    raw = value.encode()
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms |= {encoded, encoded.rstrip("=")}
    escaped = json.dumps(value)[1:-1]
    forms |= {escaped, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(escaped)[1:-1]}
    return {f for f in forms if len(f) >= MIN_KNOWN_LENGTH}


class Masker:
    """The registry of known secret values, and the masking rules around it."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._compiled: tuple[frozenset[str], re.Pattern[str] | None] = (frozenset(), None)

    def add(self, *values: str | None) -> None:
        """Register secret values (a setting's value, a token): scrubbed wherever they appear from now on."""
        with self._lock:
            for value in values:
                if not value:
                    continue
                value = str(value)
                if len(value) >= MIN_KNOWN_LENGTH:
                    self._values.add(value)
                for part in _secret_parts_of_url(value):
                    if len(part) >= MIN_KNOWN_LENGTH:
                        self._values.add(part)

    def add_from_env(self, env: Mapping[str, str]) -> None:
        """Remember values of variables whose names say they are secret, and URL passwords."""
        for name, value in env.items():
            if not value:
                continue
            if SECRET_NAME.search(name):
                scheme, _, credential = value.partition(" ")  # an Authorization header: "Bearer <token>"
                self.add(value, credential if scheme.lower() in ("bearer", "basic", "token") else None)
            elif SECRET_URL_NAME.search(name) or "://" in value:
                self.add(*_secret_parts_of_url(value))

    def _pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            values = frozenset(self._values)
            if values == self._compiled[0]:
                return self._compiled[1]
            forms: set[str] = set()
            for value in values:
                forms |= _forms(value)
            ordered = sorted(forms, key=len, reverse=True)  # longest first: the JSON-escaped form wins
            alternatives = [re.escape(f) if len(f) >= WORD_BOUNDED_BELOW
                            else r"(?<![A-Za-z0-9])" + re.escape(f) + r"(?![A-Za-z0-9])" for f in ordered]
            pattern = re.compile("|".join(alternatives)) if alternatives else None
            self._compiled = (values, pattern)
            return pattern

    def scrub_known(self, text: str) -> str:
        """Every registered value, in every form, replaced by ***."""
        pattern = self._pattern()
        return pattern.sub(MASK, text) if pattern is not None and text else text

    def scrub(self, text: str) -> str:
        """For text golive composed from already-masked parts: known values and shapes, never name rules.
        JSON text is scrubbed as data and written again, so it stays JSON."""
        if not text:
            return text
        as_json = _mask_json_text(text, self, names=False)
        if as_json is not None:
            return as_json
        return mask_shapes(self.scrub_known(text))

    def mask(self, text: str) -> str:
        """For foreign text (a target's output, an exception message): every rule."""
        if not text:
            return text
        as_json = _mask_json_text(text, self, names=True)
        if as_json is not None:
            return as_json
        text = self.scrub_known(text)
        as_yaml = _mask_yaml_text(text)
        if as_yaml is not None:
            text = as_yaml
        return _mask_named_values(_mask_elements(mask_shapes(text)))

    def mask_data(self, data: Any, *, secret: bool = False) -> Any:
        """Mask every string inside nested dicts/lists (foreign data). A key that names a secret (password,
        token, credentials, ...) loses every scalar below it, strings and numbers alike."""
        return self._walk(data, self.mask, secret=secret)

    def scrub_data(self, data: Any) -> Any:
        """`scrub` every string inside nested dicts/lists (data golive composed): no name rules."""
        return self._walk(data, self.scrub, secret=False, by_name=False)

    def _walk(self, data: Any, text_rule: Any, *, secret: bool, by_name: bool = True) -> Any:
        if isinstance(data, str):
            if secret:
                return MASK if not _harmless(data) else data
            return text_rule(data)
        if isinstance(data, bool) or data is None:
            return data
        if isinstance(data, int | float):
            return MASK if secret else data
        if isinstance(data, Mapping):
            pair = by_name and _secret_pair(data)
            return {key: self._walk(value, text_rule, by_name=by_name,
                                    secret=secret or (by_name and isinstance(key, str) and (
                                        is_secret_name(key) or (pair and key.lower() == "value"))))
                    for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self._walk(v, text_rule, secret=secret, by_name=by_name) for v in data]
        return data


_PAIR_NAME_KEYS = ("name", "key", "Name", "Key", "NAME", "KEY")


def _secret_pair(data: Mapping[Any, Any]) -> bool:
    """`{"name": "DB_PASSWORD", "value": "..."}` (Kubernetes env, ECS task definitions): the value is secret."""
    if not any(k in data for k in ("value", "Value", "VALUE")):
        return False
    return any(isinstance(data.get(k), str) and is_secret_name(data[k]) for k in _PAIR_NAME_KEYS)


def _secret_parts_of_url(value: str) -> Iterable[str]:
    """The password (or DSN key) inside a URL, if any."""
    if "://" not in value:
        return []
    try:
        parts = urlsplit(value)
    except ValueError:
        return []
    found = []
    if parts.password and len(parts.password) >= 3:
        found.append(parts.password)
        # An unencoded "@" in the password: libpq and others split at the first "@" and quote the
        # rest as a host name, so each piece is a secret of its own.
        found += [piece for piece in parts.password.split("@") if len(piece) >= 4 and "@" in parts.password]
    elif parts.username and parts.scheme in ("http", "https") and len(parts.username) >= 8:
        found.append(parts.username)
    return found


def redact_url(value: str) -> str:
    """A URL safe to show: the password (or DSN public key) replaced by ***."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return MASK
    if not parts.netloc:
        return value
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    userinfo = ""
    if parts.username and parts.password is not None:
        userinfo = f"{parts.username}:{MASK}@"
    elif parts.username:
        userinfo = f"{MASK}@" if parts.scheme in ("http", "https") else f"{parts.username}@"
    return urlunsplit((parts.scheme, userinfo + host, parts.path, parts.query, parts.fragment))


masker = Masker()
"""The process-wide masker: the engine feeds it every secret it learns of."""


def mask(text: str) -> str:
    """Foreign text (a target's output, an exception message) with every secret masked."""
    return masker.mask(text)


def mask_tail(text: str, lines: int) -> str:
    """The last `lines` lines of `text`, masked in the context of the whole text: a YAML block's value lines
    or a value on the line after its key are only known to be secret by the lines above them."""
    masked = mask(text).splitlines()
    if len(masked) == len(text.splitlines()):
        return "\n".join(masked[-lines:])
    return mask("\n".join(text.splitlines()[-lines:]))


def mask_line_in(line: str, text: str) -> str:
    """`line` (a line of `text`, stripped) masked in the context of the whole of `text`."""
    originals, masked = text.splitlines(), mask(text).splitlines()
    if len(originals) == len(masked):
        for original, done in zip(originals, masked, strict=True):
            if original.strip() == line:
                return done.strip()
    return mask(line)


def scrub(text: str) -> str:
    """Text golive composed from masked parts: known values and shapes only (see the module docstring)."""
    return masker.scrub(text)
