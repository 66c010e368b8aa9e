"""Settings: defaults, malformed values, .env, secrets, and `pttbridge run` stopping early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import (
    BridgeSettings,
    ConfigError,
    PlatformSettings,
    Settings,
    TelegramSettings,
    load_for_run,
)

ROOT = Path(__file__).resolve().parent.parent

# Every setting of DESIGN §2 with its default (None: no default, "not set").
DEFAULTS: dict[str, Any] = {
    "TELEGRAM_BOT_TOKEN": None,
    "TELEGRAM_API_BASE": "https://api.telegram.org",
    "TELEGRAM_MODE": "polling",
    "TELEGRAM_PROXY": None,
    "TELEGRAM_WEBHOOK_URL": None,
    "TELEGRAM_WEBHOOK_SECRET": None,
    "PLATFORM_BASE_URL": None,
    "PLATFORM_TOKEN": None,
    "PLATFORM_ACCOUNT": None,
    "PLATFORM_PASSWORD": None,
    "PLATFORM_LOGIN_PATH": "/wapi/auth/open/login",
    "PLATFORM_TOKEN_HEADER": "token",
    "PLATFORM_COORDINATES": "wgs84",
    "PLATFORM_CALLBACK_TOKEN": None,
    "PLATFORM_TIMEOUT_S": 10.0,
    "BRIDGE_HTTP_HOST": "127.0.0.1",
    "BRIDGE_HTTP_PORT": 8080,
    "BRIDGE_DB_PATH": Path("./data/pttbridge.db"),
    "BRIDGE_ADMIN_IDS": (),
    "BRIDGE_LANGUAGE": "zh",
    "BRIDGE_TIMEZONE": "Asia/Shanghai",
    "BRIDGE_RATE_GLOBAL": 25.0,
    "BRIDGE_RATE_PER_CHAT": 1.0,
    "BRIDGE_RATE_PER_GROUP_MIN": 20.0,
    "BRIDGE_DIRECTORY_REFRESH_S": 600,
    "BRIDGE_PRESENCE_POLL_S": 30,
    "BRIDGE_FOLLOW_POLL_S": 10,
    "BRIDGE_LOG_FORMAT": "text",
    "BRIDGE_METRICS_TOKEN": None,
    "BRIDGE_PUBLIC_URL": None,
    "BRIDGE_MAP_TILES": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "BRIDGE_MAP_TILES_CRS": "wgs84",
    "BRIDGE_MAP_ATTRIBUTION": "© OpenStreetMap contributors",
    "BRIDGE_ASR_URL": None,
    "BRIDGE_ASR_MODEL": None,
    "BRIDGE_ASR_TOKEN": None,
    "BRIDGE_ASR_LANGUAGE": "zh",
    "BRIDGE_ASR_CONCURRENCY": 2,
    "BRIDGE_RECORDINGS_KEEP_DAYS": 90,
    "BRIDGE_MAP_APP": None,
}


def value_of(settings: Settings, var: str) -> Any:
    section, _, field = var.lower().partition("_")
    return getattr(getattr(settings, section), field)


def test_every_setting_has_its_default() -> None:
    settings = Settings.load(None)
    for var, default in DEFAULTS.items():
        assert value_of(settings, var) == default, var
    assert settings.bridge.tz.key == "Asia/Shanghai"


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = {line.split("=", 1)[0] for line in example.splitlines() if "=" in line}
    names = {n.strip() for n in names if not n.lstrip().startswith("#")}
    assert set(DEFAULTS) <= names


def test_env_example_comments_every_setting_in_code() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for klass in (TelegramSettings, PlatformSettings, BridgeSettings):
        prefix = str(klass.model_config.get("env_prefix", ""))
        for field in klass.model_fields:
            name = f"{prefix}{field}".upper()
            at = next((i for i, line in enumerate(lines) if line.startswith(f"{name}=")), None)
            assert at is not None, f"{name} is not in .env.example"
            # Its comment is right above it (or above the setting it is paired with).
            above = next(line for line in reversed(lines[:at]) if not line.startswith(prefix))
            assert above.startswith("# ") and len(above) > 10, name


def test_the_env_example_itself_loads(tmp_path: Path) -> None:
    example = tmp_path / "example.env"
    example.write_text((ROOT / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings.load(example)
    assert settings.platform.base_url == "http://10.1.2.3:8080"
    assert settings.telegram.bot_token is None  # `TELEGRAM_BOT_TOKEN=` means not set


MALFORMED: list[tuple[str, str, str]] = [
    ("BRIDGE_HTTP_PORT", "abc", "BRIDGE_HTTP_PORT: not a port number: 'abc'"),
    ("BRIDGE_HTTP_PORT", "70000", "BRIDGE_HTTP_PORT: not a port number"),
    ("PLATFORM_TIMEOUT_S", "abc", "PLATFORM_TIMEOUT_S: not a number of seconds: 'abc'"),
    ("PLATFORM_TIMEOUT_S", "0", "PLATFORM_TIMEOUT_S: must be between 0 and 300"),
    ("PLATFORM_TIMEOUT_S", "1000", "PLATFORM_TIMEOUT_S: must be between 0 and 300"),
    ("PLATFORM_BASE_URL", "ftp://10.1.2.3", "PLATFORM_BASE_URL: not an http(s) URL"),
    ("PLATFORM_BASE_URL", "10.1.2.3:8080", "PLATFORM_BASE_URL: not an http(s) URL"),
    ("PLATFORM_BASE_URL", "http://h:99999", "PLATFORM_BASE_URL: not an http(s) URL"),
    ("PLATFORM_COORDINATES", "bd09", "PLATFORM_COORDINATES: must be 'wgs84' or 'gcj02'"),
    ("PLATFORM_TOKEN_HEADER", "pc access token", "PLATFORM_TOKEN_HEADER: not an HTTP header"),
    ("PLATFORM_LOGIN_PATH", "wapi/login", "PLATFORM_LOGIN_PATH: must be a path starting"),
    ("TELEGRAM_MODE", "push", "TELEGRAM_MODE: must be 'polling' or 'webhook', not 'push'"),
    ("TELEGRAM_API_BASE", "api.telegram.org", "TELEGRAM_API_BASE: not an http(s) URL"),
    ("TELEGRAM_PROXY", "ftp://proxy:21", "TELEGRAM_PROXY: not an http://, https:// or socks5://"),
    ("TELEGRAM_WEBHOOK_URL", "bot.example.org", "TELEGRAM_WEBHOOK_URL: not an http(s) URL"),
    ("BRIDGE_ADMIN_IDS", "1, abc", "BRIDGE_ADMIN_IDS: not a comma-separated list"),
    ("BRIDGE_LANGUAGE", "fr", "BRIDGE_LANGUAGE: must be 'zh' or 'en', not 'fr'"),
    ("BRIDGE_TIMEZONE", "Mars/Olympus", "BRIDGE_TIMEZONE: not a time zone name"),
    ("BRIDGE_RATE_GLOBAL", "fast", "BRIDGE_RATE_GLOBAL: not a number: 'fast'"),
    ("BRIDGE_RATE_PER_CHAT", "0", "BRIDGE_RATE_PER_CHAT: must be a positive number"),
    ("BRIDGE_RATE_PER_GROUP_MIN", "-5", "BRIDGE_RATE_PER_GROUP_MIN: must be a positive number"),
    ("BRIDGE_DIRECTORY_REFRESH_S", "1", "BRIDGE_DIRECTORY_REFRESH_S: not a number of seconds"),
    ("BRIDGE_PRESENCE_POLL_S", "often", "BRIDGE_PRESENCE_POLL_S: not a number of seconds"),
    ("BRIDGE_FOLLOW_POLL_S", "4", "BRIDGE_FOLLOW_POLL_S: not a number of seconds"),
    ("BRIDGE_LOG_FORMAT", "xml", "BRIDGE_LOG_FORMAT: must be 'text' or 'json', not 'xml'"),
    ("BRIDGE_PUBLIC_URL", "http://bridge.example.com", "BRIDGE_PUBLIC_URL: must be an https://"),
    ("BRIDGE_PUBLIC_URL", "bridge.example.com", "BRIDGE_PUBLIC_URL: not an http(s) URL"),
    ("BRIDGE_MAP_TILES", "https://t.example/{z}/{x}.png", "BRIDGE_MAP_TILES: not an XYZ tile URL"),
    ("BRIDGE_MAP_TILES", "tiles/{z}/{x}/{y}.png", "BRIDGE_MAP_TILES: not an http(s) URL"),
    ("BRIDGE_MAP_TILES_CRS", "bd09", "BRIDGE_MAP_TILES_CRS: must be 'wgs84' or 'gcj02'"),
    ("BRIDGE_MAP_APP", "my map!", "BRIDGE_MAP_APP: a Mini App short name from BotFather"),
    ("BRIDGE_ASR_URL", "asr:8000/v1", "BRIDGE_ASR_URL: not an http(s) URL"),
    ("BRIDGE_ASR_URL", "ftp://asr/v1", "BRIDGE_ASR_URL: not an http(s) URL"),
    ("BRIDGE_ASR_MODEL", "whisper large", "BRIDGE_ASR_MODEL: a model name without spaces"),
    ("BRIDGE_ASR_LANGUAGE", "chinese", "BRIDGE_ASR_LANGUAGE: a language code like zh or en"),
    ("BRIDGE_ASR_CONCURRENCY", "0", "BRIDGE_ASR_CONCURRENCY: not a number of parallel"),
    ("BRIDGE_ASR_CONCURRENCY", "many", "BRIDGE_ASR_CONCURRENCY: not a number of parallel"),
    ("BRIDGE_RECORDINGS_KEEP_DAYS", "0", "BRIDGE_RECORDINGS_KEEP_DAYS: not a number of days"),
    ("BRIDGE_RECORDINGS_KEEP_DAYS", "90d", "BRIDGE_RECORDINGS_KEEP_DAYS: not a number of days"),
]


@pytest.mark.parametrize(
    ("var", "value", "expected"), MALFORMED, ids=[f"{v}={x}" for v, x, _ in MALFORMED]
)
def test_malformed_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load(None)
    line = str(caught.value)
    assert line.startswith(expected)
    assert "\n" not in line and len(line) < 200


SECRETS = {
    "TELEGRAM_BOT_TOKEN": "123456:SECRET-bot-token-AAA",
    "TELEGRAM_WEBHOOK_SECRET": "SECRET-webhook-BBB",
    "PLATFORM_TOKEN": "SECRET-platform-token-CCC",
    "PLATFORM_PASSWORD": "SECRET-password-DDD",
    "PLATFORM_CALLBACK_TOKEN": "SECRET-callback-EEE",
}


@pytest.mark.parametrize(("var", "value", "_expected"), MALFORMED[:6] + MALFORMED[-4:])
def test_secrets_never_appear_in_an_error(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, _expected: str
) -> None:
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as caught:
        Settings.load(None)
    assert not any(secret in str(caught.value) for secret in SECRETS.values())


@pytest.mark.parametrize("token", ["SECRET-no-colon", "abc:SECRET-not-digits", "123:"])
def test_a_malformed_bot_token_is_not_echoed(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(ConfigError) as caught:
        Settings.load(None)
    assert str(caught.value).startswith("TELEGRAM_BOT_TOKEN: not a bot token")
    assert token not in str(caught.value)


def test_proxy_credentials_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_PROXY", "socks://user:SECRET-proxy-pass@10.0.0.1:1080")
    with pytest.raises(ConfigError) as caught:
        Settings.load(None)
    assert str(caught.value).startswith("TELEGRAM_PROXY:")
    assert "SECRET-proxy-pass" not in str(caught.value)


def test_secrets_are_hidden_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    settings = Settings.load(None)
    shown = repr(settings.telegram) + repr(settings.platform) + str(vars(settings))
    assert not any(secret in shown for secret in SECRETS.values())
    assert settings.platform.token is not None
    assert settings.platform.token.get_secret_value() == SECRETS["PLATFORM_TOKEN"]


def test_values_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_COORDINATES", "GCJ-02")
    monkeypatch.setenv("BRIDGE_ADMIN_IDS", "1, 22;333")
    monkeypatch.setenv("TELEGRAM_MODE", " Webhook ")
    monkeypatch.setenv("BRIDGE_LANGUAGE", "EN")
    monkeypatch.setenv("PLATFORM_BASE_URL", "http://10.1.2.3:8080/")
    monkeypatch.setenv("PLATFORM_TIMEOUT_S", "2.5")
    s = Settings.load(None)
    assert s.platform.coordinates == "gcj02"
    assert s.bridge.admin_ids == (1, 22, 333)
    assert s.telegram.mode == "webhook" and s.bridge.language == "en"
    assert s.platform.base_url == "http://10.1.2.3:8080" and s.platform.timeout_s == 2.5


@pytest.mark.parametrize(
    ("base_url", "prefix", "host"),
    [
        ("http://10.1.2.3:8080", "http://10.1.2.3:8080/wapi", "http://10.1.2.3:8080"),
        ("http://10.1.2.3:8080/", "http://10.1.2.3:8080/wapi", "http://10.1.2.3:8080"),
        ("https://ptt.example.cn", "https://ptt.example.cn/wapi", "https://ptt.example.cn"),
        ("http://h:50001/gis/api", "http://h:50001/gis/api", "http://h:50001"),
        ("http://h:50001/gis/api/", "http://h:50001/gis/api", "http://h:50001"),
        ("http://h:8080/wapi", "http://h:8080/wapi", "http://h:8080"),
    ],
)
def test_the_prefix_rule_of_the_base_url(base_url: str, prefix: str, host: str) -> None:
    p = Settings.load(None, platform={"base_url": base_url}).platform
    assert p.api_prefix_url == prefix
    assert p.host_url == host  # PLATFORM_LOGIN_PATH is relative to this


def test_dotenv_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# a comment\n"
        "PLATFORM_BASE_URL=http://10.9.8.7:8080\n"
        "PLATFORM_TOKEN=from-the-file\n"
        "PLATFORM_ACCOUNT=\n"
        "BRIDGE_HTTP_PORT=9090\n"
        "BRIDGE_LANGUAGE=en\n"
        "TELEGRAM_MODE=webhook\n"
        "TELEGRAM_WEBHOOK_URL=https://bot.example.org\n",
        encoding="utf-8",
    )
    s = Settings.load(env)
    assert s.platform.base_url == "http://10.9.8.7:8080"
    assert s.platform.token is not None and s.platform.token.get_secret_value() == "from-the-file"
    assert s.platform.account is None  # an empty value means "not set"
    assert (s.bridge.http_port, s.bridge.language, s.telegram.mode) == (9090, "en", "webhook")

    assert Settings.load(None).bridge.http_port == 8080  # no file: not read
    monkeypatch.setenv("BRIDGE_HTTP_PORT", "9191")
    assert Settings.load(str(env)).bridge.http_port == 9191


def test_malformed_value_in_the_dotenv_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("PLATFORM_TOKEN=SECRET-in-file\nBRIDGE_HTTP_PORT=abc\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Settings.load(env)
    assert str(caught.value) == "BRIDGE_HTTP_PORT: not a port number: 'abc'"


def test_a_missing_dotenv_file_is_no_error(tmp_path: Path) -> None:
    assert Settings.load(tmp_path / "absent.env").bridge.http_port == 8080


def full_env(**kw: str) -> dict[str, str]:
    values = {
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "PLATFORM_BASE_URL": "http://10.1.2.3:8080",
        "PLATFORM_TOKEN": "t",
        "PLATFORM_CALLBACK_TOKEN": "cb",
    }
    values.update(kw)
    return {k: v for k, v in values.items() if v}


WEBHOOK = {
    "TELEGRAM_MODE": "webhook",
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.org",
    "TELEGRAM_WEBHOOK_SECRET": "Abc_123-xyz",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (full_env(TELEGRAM_BOT_TOKEN=""), "TELEGRAM_BOT_TOKEN: required"),
        (full_env(PLATFORM_BASE_URL=""), "PLATFORM_BASE_URL: required"),
        (full_env(PLATFORM_TOKEN=""), "PLATFORM_TOKEN: required"),
        (full_env(PLATFORM_CALLBACK_TOKEN=""), "PLATFORM_CALLBACK_TOKEN: required"),
        (full_env(PLATFORM_TOKEN="", PLATFORM_ACCOUNT="a"), "PLATFORM_PASSWORD: required"),
        (full_env(PLATFORM_TOKEN="", PLATFORM_PASSWORD="p"), "PLATFORM_ACCOUNT: required"),
        (full_env(**{**WEBHOOK, "TELEGRAM_WEBHOOK_URL": ""}), "TELEGRAM_WEBHOOK_URL: required"),
        (
            full_env(**{**WEBHOOK, "TELEGRAM_WEBHOOK_URL": "http://bot.example.org"}),
            "TELEGRAM_WEBHOOK_URL: must be an https:// URL",
        ),
        (
            full_env(**{**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": ""}),
            "TELEGRAM_WEBHOOK_SECRET: required",
        ),
    ],
)
def test_what_run_requires(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as caught:
        load_for_run(None)
    assert caught.value.problems == [str(caught.value)]  # exactly one problem, one line
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "secret",
    ["hunter2 with spaces", "hunter2/slash", "hunter2-" + "x" * 250, "hunter2-é", "hunter2=="],
)
def test_a_malformed_webhook_secret_is_named_and_not_echoed(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    for k, v in full_env(**{**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": secret}).items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as caught:
        load_for_run(None)
    assert caught.value.problems == [
        "TELEGRAM_WEBHOOK_SECRET: must be 1-256 characters, each A-Z, a-z, 0-9, _ or -"
        " (Telegram's rule)"
    ]
    assert "hunter2" not in str(caught.value)


def test_a_webhook_secret_of_256_allowed_characters_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = ("AZaz09_-" * 32)[:256]
    for k, v in full_env(**{**WEBHOOK, "TELEGRAM_WEBHOOK_SECRET": secret}).items():
        monkeypatch.setenv(k, v)
    t = load_for_run(None).telegram
    assert t.webhook_secret is not None and t.webhook_secret.get_secret_value() == secret


def test_polling_mode_needs_no_webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # An http:// webhook URL left in .env is unused in polling mode, not an error.
    for k, v in full_env(TELEGRAM_WEBHOOK_URL="http://bot.example.org").items():
        monkeypatch.setenv(k, v)
    assert load_for_run(None).telegram.mode == "polling"


def test_every_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_URL": "http://bot.example.org",
        "PLATFORM_BASE_URL": "ftp://10.1.2.3",
        "PLATFORM_ACCOUNT": "dispatcher",
        "PLATFORM_TIMEOUT_S": "soon",
        "BRIDGE_HTTP_PORT": "abc",
        "BRIDGE_LANGUAGE": "fr",
        "PLATFORM_PASSWORD": "SECRET-pass",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PLATFORM_PASSWORD")
    with pytest.raises(ConfigError) as caught:
        load_for_run(None)
    names = [line.partition(":")[0] for line in caught.value.problems]
    # Malformed ones are named once (not again as "required"), sections in order.
    assert names == [
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_URL",
        "TELEGRAM_WEBHOOK_SECRET",
        "PLATFORM_BASE_URL",
        "PLATFORM_TIMEOUT_S",
        "PLATFORM_PASSWORD",
        "PLATFORM_CALLBACK_TOKEN",
        "BRIDGE_HTTP_PORT",
        "BRIDGE_LANGUAGE",
    ]
    assert "PLATFORM_BASE_URL: not an http(s) URL" in str(caught.value)
    # Settings.load alone lists the malformed values (all of them), not what run requires.
    with pytest.raises(ConfigError) as caught:
        Settings.load(None)
    assert [line.partition(":")[0] for line in caught.value.problems] == [
        "PLATFORM_BASE_URL",
        "PLATFORM_TIMEOUT_S",
        "BRIDGE_HTTP_PORT",
        "BRIDGE_LANGUAGE",
    ]


def test_a_complete_configuration_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in full_env().items():
        monkeypatch.setenv(k, v)
    load_for_run(None)
    monkeypatch.delenv("PLATFORM_TOKEN")
    monkeypatch.setenv("PLATFORM_ACCOUNT", "a")
    monkeypatch.setenv("PLATFORM_PASSWORD", "p")
    load_for_run(None)
    for k, v in WEBHOOK.items():
        monkeypatch.setenv(k, v)
    assert load_for_run(None).telegram.mode == "webhook"


def child_env(**kw: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("PLATFORM_", "TELEGRAM_", "BRIDGE_", "PYTHON"))
    }
    env.update(kw)
    return env


def test_run_with_a_bad_port_exits_2_with_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,  # no stray .env
        env=child_env(
            **full_env(PLATFORM_TOKEN="SECRET-platform-token-CCC"), BRIDGE_HTTP_PORT="abc"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "BRIDGE_HTTP_PORT" in lines[0] and "'abc'" in lines[0]
    assert "Traceback" not in out.stderr and "SECRET" not in out.stderr


def test_run_without_required_settings_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("# nothing set\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--env-file", str(empty)],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "pttbridge: TELEGRAM_BOT_TOKEN: required (the token from @BotFather)",
        "pttbridge: PLATFORM_BASE_URL: required (e.g. http://10.1.2.3:8080)",
        "pttbridge: PLATFORM_TOKEN: required (or PLATFORM_ACCOUNT and PLATFORM_PASSWORD to log in)",
        "pttbridge: PLATFORM_CALLBACK_TOKEN: required"
        " (the token header the platform sends on callbacks)",
    ]


@pytest.mark.parametrize(
    ("name", "attr"),
    [
        ("BRIDGE_HTTP_PORT", ("bridge", "http_port")),
        ("PLATFORM_TIMEOUT_S", ("platform", "timeout_s")),
        ("BRIDGE_TIMEZONE", ("bridge", "timezone")),
        ("BRIDGE_HTTP_HOST", ("bridge", "http_host")),
        ("BRIDGE_DB_PATH", ("bridge", "db_path")),
    ],
)
def test_an_empty_value_means_the_default(
    monkeypatch: pytest.MonkeyPatch, name: str, attr: tuple[str, str]
) -> None:
    defaults = Settings.load(None)
    monkeypatch.setenv(name, "")
    settings = Settings.load(None)
    section, field = attr
    assert getattr(getattr(settings, section), field) == getattr(getattr(defaults, section), field)


def test_the_map_settings_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", " https://bridge.example.com/ ")
    monkeypatch.setenv("BRIDGE_MAP_TILES", "https://webrd01.is.autonavi.com/x={x}&y={y}&z={z}")
    monkeypatch.setenv("BRIDGE_MAP_TILES_CRS", "GCJ-02")
    monkeypatch.setenv("BRIDGE_MAP_ATTRIBUTION", " © 高德地图 ")
    monkeypatch.setenv("BRIDGE_MAP_APP", " map ")
    bridge = Settings.load(None).bridge
    assert bridge.map_app == "map"
    assert bridge.public_url == "https://bridge.example.com"
    assert bridge.map_tiles == "https://webrd01.is.autonavi.com/x={x}&y={y}&z={z}"
    assert bridge.map_tiles_crs == "gcj02"
    assert bridge.map_attribution == "© 高德地图"


def test_the_speech_recognition_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = Settings.load(None).bridge
    assert (bridge.asr_url, bridge.asr_model, bridge.asr_token) == (None, None, None)
    assert (bridge.asr_language, bridge.asr_concurrency, bridge.recordings_keep_days) == (
        "zh",
        2,
        90,
    )
    monkeypatch.setenv("BRIDGE_ASR_URL", " http://asr:8000/v1/ ")
    monkeypatch.setenv("BRIDGE_ASR_MODEL", " paraformer-zh ")
    monkeypatch.setenv("BRIDGE_ASR_TOKEN", "SECRET-asr")
    monkeypatch.setenv("BRIDGE_ASR_LANGUAGE", "EN")
    monkeypatch.setenv("BRIDGE_ASR_CONCURRENCY", "4")
    monkeypatch.setenv("BRIDGE_RECORDINGS_KEEP_DAYS", "30")
    bridge = Settings.load(None).bridge
    assert (bridge.asr_url, bridge.asr_model) == ("http://asr:8000/v1", "paraformer-zh")
    assert bridge.asr_token is not None and bridge.asr_token.get_secret_value() == "SECRET-asr"
    assert "SECRET" not in repr(bridge)
    assert (bridge.asr_language, bridge.asr_concurrency, bridge.recordings_keep_days) == (
        "en",
        4,
        30,
    )
