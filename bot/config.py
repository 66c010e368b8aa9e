"""Settings: environment variables or `.env`, read by pydantic-settings.

One class per section (`TELEGRAM_`, `PLATFORM_`, `BRIDGE_`), combined in
`Settings`. Every bad or missing value becomes one `ConfigError` line naming
the variable, all of them at once; secrets are `SecretStr` and never appear in
those lines. `load_for_run` is the one validation `pttbridge run` and
`pttbridge check` share.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """Settings are missing or malformed: `problems` holds one line per setting, naming it.

    `str(err)` is those lines joined by newlines (one line when one setting is wrong).
    """

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def _common(prefix: str, env_file: str | None) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        env_file=env_file,
        env_ignore_empty=True,  # `FOO=` in .env means "not set": the default applies
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )


def _blank_to_none(v: Any) -> Any:
    # An empty `FOO=` line in .env means "not set", not "set to the empty string".
    if isinstance(v, str) and not v.strip():
        return None
    return v


def _safe_port(parts: Any) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def _check_http_url(v: str, what: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL{what}: {v!r}")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"not an http(s) URL{what}: {v!r}") from None
    return v.rstrip("/")


def _crs(v: Any) -> Any:
    if isinstance(v, str):
        norm = v.strip().lower().replace("-", "")
        if norm not in ("wgs84", "gcj02"):
            raise ValueError(f"must be 'wgs84' or 'gcj02', not {v!r}")
        return norm
    return v


OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

# Telegram's rule for `secret_token` of setWebhook.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramSettings(BaseSettings):
    """`TELEGRAM_*`: how the bot reaches Telegram."""

    model_config = _common("TELEGRAM_", ".env")

    bot_token: SecretStr | None = None
    api_base: str = "https://api.telegram.org"
    mode: Literal["polling", "webhook"] = "polling"
    proxy: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    _blank = field_validator("bot_token", "proxy", "webhook_url", "webhook_secret", mode="before")(
        _blank_to_none
    )

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, v: str) -> str:
        return _check_http_url(v, "")

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() not in ("polling", "webhook"):
            raise ValueError(f"must be 'polling' or 'webhook', not {v!r}")
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https", "socks4", "socks5") or not parts.hostname:
            # The URL may carry a password: show it without the user info.
            shown = f"{parts.scheme}://{parts.hostname or ''}" + (
                f":{parts.port}" if _safe_port(parts) else ""
            )
            raise ValueError(f"not an http://, https:// or socks5:// proxy URL: {shown!r}")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v, "")

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not _WEBHOOK_SECRET.fullmatch(v.get_secret_value()):
            # Never echo the value: it is a secret.
            raise ValueError(
                "must be 1-256 characters, each A-Z, a-z, 0-9, _ or - (Telegram's rule)"
            )
        return v

    @field_validator("bot_token")
    @classmethod
    def _token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            head, _, tail = v.get_secret_value().partition(":")
            if not head.isdigit() or not tail:
                # Never echo the value: it is a secret.
                raise ValueError("not a bot token (expected '<digits>:<secret>' from @BotFather)")
        return v


class PlatformSettings(BaseSettings):
    """`PLATFORM_*`: the dispatch platform and its callbacks."""

    model_config = _common("PLATFORM_", ".env")

    base_url: str | None = None
    token: SecretStr | None = None
    account: str | None = None
    password: SecretStr | None = None
    login_path: str = "/wapi/auth/open/login"
    token_header: str = "token"
    coordinates: Literal["wgs84", "gcj02"] = "wgs84"
    callback_token: SecretStr | None = None
    timeout_s: float = 10.0

    _blank = field_validator(
        "base_url", "token", "account", "password", "callback_token", mode="before"
    )(_blank_to_none)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v, " (e.g. http://10.1.2.3:8080)")

    @field_validator("login_path")
    @classmethod
    def _login_path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"must be a path starting with '/': {v!r}")
        return v

    @field_validator("token_header")
    @classmethod
    def _header(cls, v: str) -> str:
        if not v or any(c in v for c in " :\r\n\t"):
            raise ValueError(f"not an HTTP header name: {v!r}")
        return v

    @field_validator("coordinates", mode="before")
    @classmethod
    def _coords(cls, v: Any) -> Any:
        return _crs(v)

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _timeout(cls, v: Any) -> Any:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"not a number of seconds: {v!r}") from None
        if not 0 < f <= 300:
            raise ValueError(f"must be between 0 and 300 seconds: {v!r}")
        return f

    @property
    def api_prefix_url(self) -> str:
        """The URL every endpoint path is appended to.

        A base URL without a path means the prefix `/wapi`; one with a path
        (`http://h:50001/gis/api`) is used as the prefix itself.
        """
        assert self.base_url is not None
        parts = urlsplit(self.base_url)
        if parts.path in ("", "/"):
            return f"{parts.scheme}://{parts.netloc}/wapi"
        return self.base_url.rstrip("/")

    @property
    def host_url(self) -> str:
        """Scheme and host of the platform: `PLATFORM_LOGIN_PATH` is relative to it."""
        assert self.base_url is not None
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"


def _int_in(v: Any, lo: int, hi: int, what: str) -> int:
    try:
        n = int(str(v).strip())
    except (TypeError, ValueError):
        raise ValueError(f"not {what}: {v!r}") from None
    if not lo <= n <= hi:
        raise ValueError(f"not {what} (must be {lo}..{hi}): {v!r}")
    return n


class BridgeSettings(BaseSettings):
    """`BRIDGE_*`: the bridge itself."""

    model_config = _common("BRIDGE_", ".env")

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    db_path: Path = Path("./data/pttbridge.db")
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    language: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"
    rate_global: float = 25.0
    rate_per_chat: float = 1.0
    rate_per_group_min: float = 20.0
    directory_refresh_s: int = 600
    presence_poll_s: int = 30
    follow_poll_s: int = 10  # /follow and geofences: one 2.4 poll this often
    log_format: Literal["text", "json"] = "text"
    # When set, GET /metrics needs `Authorization: Bearer <token>`.
    metrics_token: SecretStr | None = None
    # The map (Telegram Mini App): off without a public https:// base.
    public_url: str | None = None
    map_tiles: str = OSM_TILES
    map_tiles_crs: Literal["wgs84", "gcj02"] = "wgs84"
    map_attribution: str = OSM_ATTRIBUTION
    # The Mini App's short name registered with BotFather (/newapp): group chats get a
    # t.me/<bot>/<app> link; unset, the bot's main Mini App link t.me/<bot>?startapp=.
    map_app: str | None = None
    # Speech recognition (OpenAI-compatible `…/v1`): transcripts are off without a URL.
    asr_url: str | None = None
    asr_model: str | None = None
    asr_token: SecretStr | None = None
    asr_language: str = "zh"
    asr_concurrency: int = 2
    # How long recording history and transcripts are kept.
    recordings_keep_days: int = 90

    _blank = field_validator(
        "metrics_token", "public_url", "map_app", "asr_url", "asr_model", "asr_token", mode="before"
    )(_blank_to_none)

    @field_validator("asr_url")
    @classmethod
    def _asr_url(cls, v: str | None) -> str | None:
        return None if v is None else _check_http_url(v.strip(), " (e.g. http://asr:8000/v1)")

    @field_validator("asr_model")
    @classmethod
    def _asr_model(cls, v: str | None) -> str | None:
        if v is None:
            return v
        name = v.strip()
        if len(name) > 200 or any(c.isspace() or not c.isprintable() for c in name):
            raise ValueError(f"a model name without spaces (e.g. whisper-1): {v!r}")
        return name

    @field_validator("asr_language", mode="before")
    @classmethod
    def _asr_language(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        code = v.strip().lower()
        if not re.fullmatch(r"[a-z]{2,3}", code):
            raise ValueError(f"a language code like zh or en (ISO 639-1): {v!r}")
        return code

    @field_validator("asr_concurrency", mode="before")
    @classmethod
    def _asr_concurrency(cls, v: Any) -> int:
        return _int_in(v, 1, 16, "a number of parallel transcriptions")

    @field_validator("recordings_keep_days", mode="before")
    @classmethod
    def _keep_days(cls, v: Any) -> int:
        return _int_in(v, 1, 3650, "a number of days")

    @field_validator("map_app")
    @classmethod
    def _map_app(cls, v: str | None) -> str | None:
        if v is None:
            return v
        name = v.strip()
        if not re.fullmatch(r"[A-Za-z0-9_]{3,30}", name):
            raise ValueError(
                f"a Mini App short name from BotFather: 3-30 letters, digits or _: {v!r}"
            )
        return name

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        url = _check_http_url(v.strip(), " (e.g. https://bridge.example.com)")
        if urlsplit(url).scheme != "https":
            raise ValueError(f"must be an https:// URL (Telegram opens only https pages): {v!r}")
        return url

    @field_validator("map_tiles", mode="before")
    @classmethod
    def _tiles(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        url = v.strip()
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
        if missing:
            raise ValueError(f"not an XYZ tile URL template (it lacks {', '.join(missing)}): {v!r}")
        return _check_http_url(url, " with {z}, {x} and {y}")

    @field_validator("map_tiles_crs", mode="before")
    @classmethod
    def _tiles_crs(cls, v: Any) -> Any:
        return _crs(v)

    @field_validator("map_attribution", mode="before")
    @classmethod
    def _attribution(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            return OSM_ATTRIBUTION
        return v.strip() if isinstance(v, str) else v

    @field_validator("http_port", mode="before")
    @classmethod
    def _port(cls, v: Any) -> int:
        return _int_in(v, 0, 65535, "a port number")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _admins(cls, v: Any) -> tuple[int, ...]:
        if v is None:
            return ()
        if isinstance(v, int):
            return (v,)
        if isinstance(v, list | tuple):
            items = [str(x) for x in v]
        else:
            items = [p for p in str(v).replace(";", ",").split(",") if p.strip()]
        out = []
        for item in items:
            s = item.strip()
            if not s.lstrip("-").isdigit():
                raise ValueError(f"not a comma-separated list of Telegram user ids: {s!r}")
            out.append(int(s))
        return tuple(out)

    @field_validator("language", mode="before")
    @classmethod
    def _lang(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() not in ("zh", "en"):
            raise ValueError(f"must be 'zh' or 'en', not {v!r}")
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone name (like Asia/Shanghai): {v!r}") from None
        return v

    @field_validator("rate_global", "rate_per_chat", "rate_per_group_min", mode="before")
    @classmethod
    def _rate(cls, v: Any) -> float:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"not a number: {v!r}") from None
        if not 0 < f <= 1000:
            raise ValueError(f"must be a positive number of messages: {v!r}")
        return f

    @field_validator("directory_refresh_s", "presence_poll_s", "follow_poll_s", mode="before")
    @classmethod
    def _interval(cls, v: Any) -> int:
        return _int_in(v, 5, 86400, "a number of seconds")

    @field_validator("log_format", mode="before")
    @classmethod
    def _logfmt(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() not in ("text", "json"):
            raise ValueError(f"must be 'text' or 'json', not {v!r}")
        return v.strip().lower() if isinstance(v, str) else v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Settings:
    """Every setting, by section: `settings.telegram`, `.platform`, `.bridge`."""

    def __init__(
        self, telegram: TelegramSettings, platform: PlatformSettings, bridge: BridgeSettings
    ) -> None:
        self.telegram = telegram
        self.platform = platform
        self.bridge = bridge

    @classmethod
    def load(cls, env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
        """Read the environment (and `env_file`); raise `ConfigError` listing every bad value.

        Nothing is required here (tests and the sandbox build partial settings):
        `load_for_run` adds what the service cannot do without.
        `overrides` (`telegram=dict(...)`, ...) are used by tests and the sandbox tour.
        """
        settings, problems = cls._read(env_file, overrides)
        if problems:
            raise ConfigError(problems)
        return settings

    @classmethod
    def _read(
        cls, env_file: str | Path | None, overrides: dict[str, Any]
    ) -> tuple[Settings, list[str]]:
        """The settings with each malformed value replaced by its default, and a line per
        malformed value: so what is required can still be judged for the rest."""
        telegram, t_bad = _read_section(TelegramSettings, env_file, overrides.get("telegram", {}))
        platform, p_bad = _read_section(PlatformSettings, env_file, overrides.get("platform", {}))
        bridge, b_bad = _read_section(BridgeSettings, env_file, overrides.get("bridge", {}))
        return cls(telegram, platform, bridge), t_bad + p_bad + b_bad

    def missing_for_run(self, reported: Sequence[str] = ()) -> list[str]:
        """A line per setting `pttbridge run` cannot do without, or cannot use in its mode.

        Settings named in `reported` (already found malformed) are not named again.
        """
        t, p = self.telegram, self.platform
        out: list[str] = []
        if t.bot_token is None:
            out.append("TELEGRAM_BOT_TOKEN: required (the token from @BotFather)")
        if t.mode == "webhook":
            if not t.webhook_url:
                out.append(
                    "TELEGRAM_WEBHOOK_URL: required when TELEGRAM_MODE=webhook"
                    " (the public https:// URL Telegram posts updates to)"
                )
            elif urlsplit(t.webhook_url).scheme != "https":
                out.append(
                    "TELEGRAM_WEBHOOK_URL: must be an https:// URL when TELEGRAM_MODE=webhook"
                    f" (Telegram posts only to https): {t.webhook_url!r}"
                )
            if t.webhook_secret is None:
                out.append(
                    "TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_MODE=webhook"
                    " (1-256 characters, each A-Z, a-z, 0-9, _ or -)"
                )
        if not p.base_url:
            out.append("PLATFORM_BASE_URL: required (e.g. http://10.1.2.3:8080)")
        if (p.account is None) != (p.password is None):
            missing = "PLATFORM_PASSWORD" if p.password is None else "PLATFORM_ACCOUNT"
            out.append(f"{missing}: required together with the other login setting")
        elif p.token is None and p.account is None:
            out.append(
                "PLATFORM_TOKEN: required (or PLATFORM_ACCOUNT and PLATFORM_PASSWORD to log in)"
            )
        if p.callback_token is None:
            out.append(
                "PLATFORM_CALLBACK_TOKEN: required"
                " (the token header the platform sends on callbacks)"
            )
        named = {_name_of(line) for line in reported}
        return [line for line in out if _name_of(line) not in named]


def load_for_run(env_file: str | Path | None = ".env", *, must_exist: bool = False) -> Settings:
    """The settings of `pttbridge run`, validated as `run` and `check` both need them.

    Raises `ConfigError` with a line for EVERY malformed or missing setting at once.
    `must_exist`: `env_file` was named by the operator (`--env-file`), so its absence is
    an error rather than "no file, the environment only".
    """
    if env_file is not None:
        problem = _env_file_problem(Path(env_file), must_exist=must_exist)
        if problem:
            raise ConfigError(problem)
    settings, problems = Settings._read(env_file, {})
    problems += settings.missing_for_run(problems)
    if problems:
        raise ConfigError(_in_order(problems))
    return settings


def load_bridge_only(
    env_file: str | None, needed: str, *, must_exist: bool = False
) -> BridgeSettings:
    """The `BRIDGE_*` settings where only `needed` (and the file) must be right; raises
    `ConfigError` otherwise, as `load_for_run` does. Others that are malformed have their
    defaults: a bad TELEGRAM_PROXY must not stop a backup."""
    problem = env_file and _env_file_problem(Path(env_file), must_exist=must_exist)
    if problem:
        raise ConfigError(problem)
    bridge, problems = _read_section(BridgeSettings, env_file, {})
    wrong = [line for line in problems if line.startswith(f"{needed}:")]
    if wrong:
        raise ConfigError(wrong)
    return bridge


def _env_file_problem(path: Path, *, must_exist: bool) -> str | None:
    shown = str(path)
    if not path.exists():
        return f"--env-file: no such file: {shown!r}" if must_exist else None
    if path.is_dir():
        return f"--env-file: a directory, not a settings file: {shown!r}"
    if not path.is_file():  # /dev/null and the like: nothing to read
        return None
    try:
        path.read_bytes().decode("utf-8")
    except OSError as exc:
        return f"--env-file: cannot read {shown!r}: {exc.strerror or exc}"
    except UnicodeDecodeError as exc:
        return f"--env-file: not UTF-8 text (byte {exc.start}): {shown!r}"
    return None


_SECTIONS = ("TELEGRAM_", "PLATFORM_", "BRIDGE_")


def _in_order(problems: list[str]) -> list[str]:
    """Problems grouped by section (TELEGRAM, PLATFORM, BRIDGE), as `.env.example` lists them."""

    def section(line: str) -> int:
        name = _name_of(line)
        return next((i for i, p in enumerate(_SECTIONS) if name.startswith(p)), -1)

    return sorted(problems, key=section)  # stable: the order within a section is kept


def _name_of(line: str) -> str:
    return line.partition(":")[0]


_S = TypeVar("_S", bound=BaseSettings)


def _read_section(
    klass: type[_S], env_file: str | Path | None, overrides: dict[str, Any]
) -> tuple[_S, list[str]]:
    try:
        return klass(_env_file=env_file, **overrides), []
    except ValidationError as exc:
        lines, fields = _error_lines(klass, exc)
    # Read again with the malformed values replaced by their defaults: the section is
    # still needed to tell what else is missing.
    defaults = {
        f: klass.model_fields[f].get_default(call_default_factory=True)
        for f in fields
        if f in klass.model_fields
    }
    return klass(_env_file=env_file, **{**overrides, **defaults}), lines


def _error_lines(klass: type[BaseSettings], exc: ValidationError) -> tuple[list[str], list[str]]:
    """One line per malformed field (the first error of each), and those fields' names."""
    prefix = str(klass.model_config.get("env_prefix", ""))
    lines: list[str] = []
    fields: list[str] = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        if field in fields:
            continue
        fields.append(field)
        name = f"{prefix}{field}".upper()
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        if err.get("type") == "literal_error":
            msg = f"{msg}, not {err.get('input')!r}"
        elif err.get("type") in ("float_parsing", "int_parsing", "bool_parsing"):
            msg = f"{msg}: {err.get('input')!r}"
        lines.append(f"{name}: {msg}")
    return lines, fields


__all__ = [
    "BridgeSettings",
    "ConfigError",
    "PlatformSettings",
    "Settings",
    "TelegramSettings",
    "load_for_run",
]
