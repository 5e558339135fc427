"""Store settings: edge.toml, then `EDGE_<SECTION>_<FIELD>` environment overrides, then secrets.

Secrets (HQ key, PIN pepper, broker password) never live in the TOML file: they are read from
files in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`). Every problem is reported with the
dotted name of the field it concerns, all at once, so a technician fixes a file in one pass.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.domain.barcode import VariableMeasureRule
from edge.domain.days import parse_hours
from edge.domain.errors import DomainError

DEFAULT_CONFIG = Path("/etc/edge/edge.toml")
ENV_PREFIX = "EDGE_"
SECRET_FILES = {
    "hq_key": "hq-key",
    "pin_pepper": "pin-pepper",
    "broker_password": "broker-password",
}
LOCALES = ("zh-CN", "en")


@dataclass(frozen=True)
class FieldError:
    """One invalid setting: its dotted name and what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        """Render as `section.field: message`."""
        return f"{self.field}: {self.message}"


class SettingsError(Exception):
    """Raise with every invalid field of a configuration."""

    def __init__(self, errors: list[FieldError]) -> None:
        """Keep the list of field errors."""
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class StoreSettings:
    """Who the store is."""

    id: str = ""
    name: str = ""
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"
    locale: str = "zh-CN"


@dataclass(frozen=True)
class PathSettings:
    """Where the store keeps its data."""

    data_dir: Path = Path("/var/lib/edge")
    ledger: Path | None = None


@dataclass(frozen=True)
class HttpSettings:
    """Where the server listens."""

    host: str = "0.0.0.0"  # noqa: S104 - the store server serves the store LAN
    port: int = 8080
    workers: int = 1  # processes serving HTTP; more than 1 shares the ledger file (see README)


@dataclass(frozen=True)
class LedgerSettings:
    """How the ledger writer and readers run."""

    max_group: int = 512
    readers: int = 2


DEFAULT_VARIABLE_MEASURE = (
    # price-embedded labels: 20 + 5-digit PLU + price in 分 (5 digits) + check digit
    VariableMeasureRule(
        "20", "price", item_digits=5, value_digits=5, decimals=2, has_verifier=False
    ),
    # weight-embedded labels: 28 + 5-digit PLU + verifier + grams (4 digits) + check digit
    VariableMeasureRule(
        "28", "weight", item_digits=5, value_digits=4, decimals=3, has_verifier=True
    ),
)
_RULE_FIELDS = ("prefix", "measure", "item_digits", "value_digits", "decimals", "has_verifier")


@dataclass(frozen=True)
class BarcodeSettings:
    """How the store's scales lay out GS1 variable-measure (02, 20-29) barcodes."""

    variable_measure: tuple[VariableMeasureRule, ...] = DEFAULT_VARIABLE_MEASURE


TAX_MODES = ("inclusive", "exclusive")
TAX_ROUNDINGS = ("line", "receipt")
CASH_ROUNDING_MODES = ("half_up", "down", "up")


@dataclass(frozen=True)
class TaxSettings:
    """How the store charges tax: prices with or without it, the rates, where it is rounded."""

    mode: str = "inclusive"  # inclusive (CN/EU shelf prices) or exclusive (US)
    rounding: str = "line"  # round each line's tax, or each rate's total per receipt
    rates: dict[str, int] = field(
        default_factory=lambda: {"standard": 1300, "reduced": 900, "zero": 0}
    )  # tax class -> basis points (1300 = 13%)


@dataclass(frozen=True)
class CheckoutSettings:
    """Rules of the till: cash rounding and where e-receipts are published."""

    cash_rounding: int = 1  # minor units the cash due is rounded to (10 = to 0.10); 1 = none
    cash_rounding_mode: str = "half_up"  # half_up, down (抹零) or up
    e_receipt_base_url: str = ""  # e.g. https://edge.store.lan; empty = the URL the till used
    payment_timeout_ms: int = 60_000  # a terminal silent this long: reversed, the till told


@dataclass(frozen=True)
class AuthSettings:
    """Staff sign-in: PIN lockout, session and pairing lifetimes, what needs approval."""

    lock_after: int = 5  # wrong PINs in a row that lock the account
    lock_seconds: int = 60  # the first lock; each further lock doubles it
    lock_max_seconds: int = 3_600  # ... up to this
    session_hours: int = 12  # a till login lasts this long without activity
    pairing_minutes: int = 15  # a till pairing code is valid this long
    void_limit: int = 0  # a cashier may void a sale up to this total alone (minor units)


@dataclass(frozen=True)
class PointsSettings:
    """Member points: what earns one, what one pays, multipliers in percent."""

    earn_per: int = 100  # minor units spent per point (0: no points)
    redeem_value: int = 1  # minor units one point pays at the till (0: points do not pay)
    categories: dict[str, int] = field(default_factory=dict)  # category -> percent (200 = 2x)
    tiers: dict[str, int] = field(default_factory=dict)  # member tier -> percent


@dataclass(frozen=True)
class MemberSettings:
    """Member tiers: the cumulative net spend (minor units) that upgrades a member to each."""

    tiers: dict[str, int] = field(default_factory=dict)  # e.g. {silver = 100000, gold = 500000}


@dataclass(frozen=True)
class InventorySettings:
    """Stock rules of the store."""

    allow_negative: bool = True  # a sale may take stock below zero (flagged for counting)
    block_expired: bool = True  # expired lots of batch-tracked goods cannot be sold
    expiry_warn_days: int = 3  # lots expiring within this many days are flagged ...
    near_expiry_markdown_bp: int = 3000  # ... with this markdown suggested (3000 = 30% off)


@dataclass(frozen=True)
class HoursSettings:
    """Trading hours per weekday ("08:00-22:00", "closed"); none at all = always open."""

    mon: str = ""
    tue: str = ""
    wed: str = ""
    thu: str = ""
    fri: str = ""
    sat: str = ""
    sun: str = ""
    holidays: str = ""  # closed dates, comma-separated: "2026-10-01,2026-10-02"

    def week(self) -> dict[str, str]:
        """Return the weekdays that were given."""
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        return {day: getattr(self, day) for day in days if getattr(self, day)}

    def holiday_list(self) -> list[str]:
        """Return the closed dates."""
        return [d.strip() for d in self.holidays.split(",") if d.strip()]


@dataclass(frozen=True)
class MqttSettings:
    """The store's MQTT broker and the server's session on it."""

    broker: str = "off"  # off | embedded (a private mosquitto child) | external (system service)
    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "edge-server"  # the privileged client; its password is a credential
    password_file: Path | None = None  # the login hashes the server keeps (default data_dir/mqtt)
    dynsec_file: Path | None = None  # the broker's dynamic-security document (data_dir/mqtt)
    dynsec_plugin: Path | None = None  # default: found under /usr/lib
    mosquitto: str = "mosquitto"  # the broker binary for `broker = "embedded"`
    session_expiry_s: int = 86400  # the broker keeps our subscriptions and queue this long
    keepalive_s: int = 15
    print_timeout_s: int = 30  # a print job without an answer this long is marked failed
    max_queued_messages: int = 100000  # per client, in the broker config we write
    tls_port: int = 0  # the broker's MQTT-over-TLS listener (8883), with [tls] files; 0 = none


@dataclass(frozen=True)
class TlsSettings:
    """HTTPS and the broker's TLS listener: the store's certificate from `edge tls init`."""

    cert: str = ""  # server.pem (certificate + chain); empty = plain HTTP
    key: str = ""  # server.key, the certificate's private key
    ca: str = ""  # ca.pem, the store CA: the broker's cafile, the tills' trust bundle

    @property
    def enabled(self) -> bool:
        """Tell whether the server serves HTTPS."""
        return bool(self.cert)


@dataclass(frozen=True)
class ZeroconfSettings:
    """The zeroconf (mDNS/DNS-SD) advertisement that lets tills and kiosks find the server."""

    enabled: bool = True
    interfaces: tuple[str, ...] = ()  # addresses to advertise on; none = where HTTP listens


@dataclass(frozen=True)
class HqSettings:
    """The link to HQ: uplink of the journal, downlink of the catalog (SPEC 2.2)."""

    url: str = ""  # e.g. https://hq.example.com; empty = no HQ link (the store sells on alone)
    batch_events: int = 5000  # at most this many events per batch (the contract's cap)
    batch_bytes: int = 4 * 1024 * 1024  # and at most this many compressed bytes
    timeout_s: int = 30  # one request's limit; a timeout is retried like a 503
    backoff_max_s: int = 300  # retries wait 1 s, 2 s, 4 s ... up to this, with full jitter
    idle_s: int = 2  # with nothing to send, look at the journal again after this long
    catalog_interval_s: int = 300  # ask HQ for catalog changes this often; 0 = never


@dataclass(frozen=True)
class Secrets:
    """Secrets from $CREDENTIALS_DIRECTORY; never printed."""

    hq_key: str | None = field(default=None, repr=False)
    pin_pepper: str | None = field(default=None, repr=False)
    broker_password: str | None = field(default=None, repr=False)

    def present(self) -> dict[str, bool]:
        """Tell which secrets were found, without their values."""
        return {name: getattr(self, name) is not None for name in SECRET_FILES}


@dataclass(frozen=True)
class Settings:
    """Everything a store server needs to run."""

    store: StoreSettings = StoreSettings()
    paths: PathSettings = PathSettings()
    http: HttpSettings = HttpSettings()
    ledger: LedgerSettings = LedgerSettings()
    barcodes: BarcodeSettings = BarcodeSettings()
    tax: TaxSettings = TaxSettings()
    checkout: CheckoutSettings = CheckoutSettings()
    auth: AuthSettings = AuthSettings()
    hours: HoursSettings = HoursSettings()
    inventory: InventorySettings = InventorySettings()
    points: PointsSettings = PointsSettings()
    members: MemberSettings = MemberSettings()
    mqtt: MqttSettings = MqttSettings()
    hq: HqSettings = HqSettings()
    tls: TlsSettings = TlsSettings()
    zeroconf: ZeroconfSettings = ZeroconfSettings()
    secrets: Secrets = Secrets()
    source: Path | None = None

    @property
    def ledger_path(self) -> Path:
        """Return the ledger file (paths.ledger, else data_dir/ledger.db)."""
        return self.paths.ledger or self.paths.data_dir / "ledger.db"

    @property
    def mqtt_dir(self) -> Path:
        """Return where the server keeps its broker files (embedded broker, defaults)."""
        return self.ledger_path.parent / "mqtt"

    @property
    def tz(self) -> ZoneInfo:
        """Return the store's time zone."""
        return ZoneInfo(self.store.timezone)


SECTIONS: dict[str, type[Any]] = {
    "store": StoreSettings,
    "paths": PathSettings,
    "http": HttpSettings,
    "ledger": LedgerSettings,
    "barcodes": BarcodeSettings,
    "tax": TaxSettings,
    "checkout": CheckoutSettings,
    "auth": AuthSettings,
    "hours": HoursSettings,
    "inventory": InventorySettings,
    "points": PointsSettings,
    "members": MemberSettings,
    "mqtt": MqttSettings,
    "hq": HqSettings,
    "tls": TlsSettings,
    "zeroconf": ZeroconfSettings,
}

_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _ip_addresses(values: tuple[str, ...]) -> str:
    """Return '' if every value is an IP address, else which one is not."""
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"{value!r} is not an IP address of this machine (e.g. 192.168.1.10)"
    return ""


def _valid_timezone(value: str) -> str:
    """Return '' if `value` names an IANA time zone, else why not."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)"
    return ""


_CHECKS: dict[str, Callable[[Any], str]] = {
    "store.id": lambda v: (
        "" if _STORE_ID.match(v) else "must be 1-32 letters, digits, '-' or '_' (e.g. SH-0042)"
    ),
    "store.name": lambda v: "" if v.strip() else "must not be empty",
    "store.currency": lambda v: "" if _CURRENCY.match(v) else "must be an ISO 4217 code like CNY",
    "store.timezone": _valid_timezone,
    "store.locale": lambda v: "" if v in LOCALES else f"must be one of {', '.join(LOCALES)}",
    "http.port": lambda v: "" if 0 <= v <= 65535 else "must be between 0 and 65535",
    "mqtt.broker": lambda v: (
        "" if v in ("off", "embedded", "external") else "must be off, embedded or external"
    ),
    "mqtt.port": lambda v: "" if 0 <= v <= 65535 else "must be a TCP port (0: any free one)",
    "mqtt.session_expiry_s": lambda v: "" if 60 <= v <= 7 * 86400 else "must be 60..604800",
    "mqtt.keepalive_s": lambda v: "" if 5 <= v <= 600 else "must be 5..600",
    "mqtt.print_timeout_s": lambda v: "" if 3 <= v <= 3600 else "must be 3..3600",
    "mqtt.tls_port": lambda v: "" if 0 <= v <= 65535 else "must be a TCP port (0: no TLS listener)",
    "zeroconf.interfaces": _ip_addresses,
    "http.workers": lambda v: "" if 1 <= v <= 16 else "must be between 1 and 16",
    "ledger.max_group": lambda v: "" if 1 <= v <= 10_000 else "must be between 1 and 10000",
    "ledger.readers": lambda v: "" if 1 <= v <= 32 else "must be between 1 and 32",
    "tax.mode": lambda v: "" if v in TAX_MODES else f"must be one of {', '.join(TAX_MODES)}",
    "tax.rounding": lambda v: (
        "" if v in TAX_ROUNDINGS else f"must be one of {', '.join(TAX_ROUNDINGS)}"
    ),
    "tax.rates": lambda v: (
        ""
        if v and all(0 <= rate <= 10_000 for rate in v.values())
        else "must name at least one tax class with a rate of 0..10000 basis points"
    ),
    "points.earn_per": lambda v: "" if 0 <= v <= 1_000_000 else "must be 0..1000000",
    "points.redeem_value": lambda v: "" if 0 <= v <= 1_000_000 else "must be 0..1000000",
    "points.categories": lambda v: (
        "" if all(0 <= p <= 10_000 for p in v.values()) else "multipliers are 0..10000 percent"
    ),
    "inventory.expiry_warn_days": lambda v: "" if 0 <= v <= 365 else "must be 0..365",
    "inventory.near_expiry_markdown_bp": lambda v: (
        "" if 0 <= v <= 10_000 else "must be 0..10000 basis points"
    ),
    "members.tiers": lambda v: (
        "" if all(1 <= p <= 10**12 for p in v.values()) else "thresholds are 1..10^12 minor units"
    ),
    "points.tiers": lambda v: (
        "" if all(0 <= p <= 10_000 for p in v.values()) else "multipliers are 0..10000 percent"
    ),
    "checkout.cash_rounding": lambda v: (
        "" if 1 <= v <= 100_000 else "must be between 1 and 100000 minor units"
    ),
    "checkout.cash_rounding_mode": lambda v: (
        "" if v in CASH_ROUNDING_MODES else f"must be one of {', '.join(CASH_ROUNDING_MODES)}"
    ),
    "checkout.payment_timeout_ms": lambda v: (
        "" if 100 <= v <= 600_000 else "must be between 100 and 600000 ms"
    ),
    "auth.lock_after": lambda v: "" if 1 <= v <= 100 else "must be between 1 and 100",
    "auth.lock_seconds": lambda v: "" if 1 <= v <= 86_400 else "must be between 1 and 86400",
    "auth.lock_max_seconds": lambda v: (
        "" if 1 <= v <= 30 * 86_400 else "must be between 1 and 2592000"
    ),
    "auth.session_hours": lambda v: "" if 1 <= v <= 24 * 7 else "must be between 1 and 168",
    "auth.pairing_minutes": lambda v: "" if 1 <= v <= 24 * 60 else "must be between 1 and 1440",
    "auth.void_limit": lambda v: "" if 0 <= v <= 100_000_000 else "must be 0..100000000",
    "hq.url": lambda v: (
        "" if not v or re.match(r"^https?://[^\s/]+(/[^\s]*)?$", v) else "must be an http(s) URL"
    ),
    "hq.batch_events": lambda v: "" if 1 <= v <= 5000 else "must be between 1 and 5000",
    "hq.batch_bytes": lambda v: (
        "" if 64 * 1024 <= v <= 4 * 1024 * 1024 else "must be between 65536 and 4194304"
    ),
    "hq.timeout_s": lambda v: "" if 1 <= v <= 600 else "must be between 1 and 600",
    "hq.backoff_max_s": lambda v: "" if 1 <= v <= 3600 else "must be between 1 and 3600",
    "hq.idle_s": lambda v: "" if 1 <= v <= 3600 else "must be between 1 and 3600",
    "hq.catalog_interval_s": lambda v: "" if 0 <= v <= 86_400 else "must be 0..86400",
    "checkout.e_receipt_base_url": lambda v: (
        "" if not v or re.match(r"^https?://[^\s/]+(/[^\s]*)?$", v) else "must be an http(s) URL"
    ),
}


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read the TOML file, apply environment overrides and secrets; raise SettingsError."""
    env = os.environ if env is None else env
    path = path or Path(env.get("EDGE_CONFIG", str(DEFAULT_CONFIG)))
    errors: list[FieldError] = []
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError([FieldError("config", f"{path} does not exist")]) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise SettingsError([FieldError("config", f"{path}: {err}")]) from err
    return settings_from_mapping(raw, env, errors, source=path)


def settings_from_mapping(
    raw: Mapping[str, Any],
    env: Mapping[str, str],
    errors: list[FieldError] | None = None,
    *,
    source: Path | None = None,
) -> Settings:
    """Build Settings from parsed TOML plus overrides; raise SettingsError listing every error."""
    errors = [] if errors is None else errors
    merged: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section not in SECTIONS:
            errors.append(FieldError(section, "unknown section"))
        elif not isinstance(table, dict):
            errors.append(FieldError(section, "must be a table ([section])"))
        else:
            merged[section] = dict(table)
    for key, value in env.items():
        target = _env_target(key)
        if target is not None:
            merged.setdefault(target[0], {})[target[1]] = _EnvText(value)
    built: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        built[section] = _build_section(section, cls, merged.get(section, {}), errors)
    if not built["store"].id and not any(e.field == "store.id" for e in errors):
        errors.append(FieldError("store.id", "is required"))
    if not built["store"].name and not any(e.field == "store.name" for e in errors):
        built["store"] = replace(built["store"], name=built["store"].id)
    hours: HoursSettings = built["hours"]
    try:
        parse_hours(hours.week(), hours.holiday_list())
    except DomainError as err:
        errors.append(FieldError("hours", err.message))
    errors.extend(_tls_problems(built["tls"], built["mqtt"]))
    if errors:
        raise SettingsError(errors)
    paths: PathSettings = built["paths"]
    if source is not None:
        base = source.parent
        paths = replace(
            paths,
            data_dir=base / paths.data_dir,
            ledger=None if paths.ledger is None else base / paths.ledger,
        )
    return Settings(
        store=built["store"],
        paths=paths,
        http=built["http"],
        ledger=built["ledger"],
        barcodes=built["barcodes"],
        tax=built["tax"],
        checkout=built["checkout"],
        auth=built["auth"],
        hours=built["hours"],
        inventory=built["inventory"],
        points=built["points"],
        members=built["members"],
        mqtt=_relative_mqtt(built["mqtt"], source),
        hq=built["hq"],
        tls=_relative_tls(built["tls"], source),
        zeroconf=built["zeroconf"],
        secrets=load_secrets(env),
        source=source,
    )


def _relative_mqtt(mqtt: MqttSettings, source: Path | None) -> MqttSettings:
    """Resolve the broker file paths relative to the config file's folder."""
    if source is None:
        return mqtt
    base = source.parent
    return replace(
        mqtt,
        password_file=None if mqtt.password_file is None else base / mqtt.password_file,
        dynsec_file=None if mqtt.dynsec_file is None else base / mqtt.dynsec_file,
    )


def _tls_problems(tls: TlsSettings, mqtt: MqttSettings) -> list[FieldError]:
    """Return what does not fit together in [tls] and the broker's TLS listener."""
    problems: list[FieldError] = []
    if tls.cert and not tls.key:
        problems.append(FieldError("tls.key", "is required when tls.cert is set"))
    if tls.key and not tls.cert:
        problems.append(FieldError("tls.cert", "is required when tls.key is set"))
    if mqtt.tls_port and not tls.cert:
        problems.append(
            FieldError("mqtt.tls_port", "needs tls.cert and tls.key (made by `edge tls init`)")
        )
    if mqtt.tls_port and mqtt.tls_port == mqtt.port:
        problems.append(FieldError("mqtt.tls_port", "must differ from mqtt.port"))
    return problems


def _relative_tls(tls: TlsSettings, source: Path | None) -> TlsSettings:
    """Resolve the certificate and key paths relative to the config file's folder."""
    if source is None:
        return tls
    base = source.parent
    return replace(
        tls,
        cert=str(base / tls.cert) if tls.cert else "",
        key=str(base / tls.key) if tls.key else "",
        ca=str(base / tls.ca) if tls.ca else "",
    )


class _EnvText(str):
    """A value that came from the environment as text and may need conversion."""

    __slots__ = ()


def _env_target(key: str) -> tuple[str, str] | None:
    """Map EDGE_HTTP_PORT to ("http", "port"); None for unrelated variables."""
    if not key.startswith(ENV_PREFIX):
        return None
    rest = key[len(ENV_PREFIX) :].lower()
    for section in SECTIONS:
        if rest.startswith(section + "_"):
            return section, rest[len(section) + 1 :]
    return None


def _build_section(
    section: str, cls: type[Any], values: dict[str, Any], errors: list[FieldError]
) -> Any:
    """Convert and check one section's values; collect errors; return its dataclass."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    errors.extend(
        FieldError(f"{section}.{name}", "unknown field") for name in values if name not in known
    )
    accepted: dict[str, Any] = {}
    for name in (f.name for f in fields(cls) if f.name in values):
        dotted = f"{section}.{name}"
        try:
            value = _convert(values[name], hints[name])
        except ValueError as err:
            errors.append(FieldError(dotted, str(err)))
            continue
        check = _CHECKS.get(dotted)
        problem = check(value) if check is not None and value is not None else ""
        if problem:
            errors.append(FieldError(dotted, f"{problem}; got {values[name]!r}"))
        else:
            accepted[name] = value
    return cls(**accepted)


def _convert(value: Any, hint: Any) -> Any:
    """Convert a TOML or environment value to the field's type, or raise ValueError."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
    from_env = isinstance(value, _EnvText)
    if optional and from_env and value == "":
        return None
    if hint is bool:
        if from_env and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
        if isinstance(value, bool):
            return value
        raise ValueError(f"must be true or false, got {value!r}")
    if hint is int:
        if from_env:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"must be an integer, got {value!r}") from None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"must be an integer, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return str(value)
        raise ValueError(f"must be a string, got {value!r}")
    if hint is Path:
        if isinstance(value, str) and value:
            return Path(value)
        raise ValueError(f"must be a path, got {value!r}")
    if hint == tuple[VariableMeasureRule, ...]:
        return _variable_measure_rules(value)
    if hint == dict[str, int]:
        return _rate_table(value)
    if hint == tuple[str, ...]:
        return _text_list(value)
    raise ValueError(f"unsupported setting type {hint!r}")


def _variable_measure_rules(value: Any) -> tuple[VariableMeasureRule, ...]:
    """Read a list of layout tables ({prefix, measure, item_digits, …}) into rules."""
    if isinstance(value, _EnvText) or not isinstance(value, list):
        raise ValueError("must be a list of tables in edge.toml ([[barcodes.variable_measure]])")  # noqa: TRY004 - reported as a field error
    rules = []
    for index, table in enumerate(value):
        if not isinstance(table, dict) or set(table) != set(_RULE_FIELDS):
            raise ValueError(f"[{index}] must have exactly the keys {', '.join(_RULE_FIELDS)}")
        try:
            rules.append(VariableMeasureRule(**table))
        except DomainError as err:
            raise ValueError(f"[{index}] {err.message}") from None
    prefixes = [rule.prefix for rule in rules]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError("two layouts for the same prefix")
    return tuple(rules)


def _text_list(value: Any) -> tuple[str, ...]:
    """Read a list of strings (TOML ["a", "b"], or "a,b" from the environment)."""
    if isinstance(value, _EnvText):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"must be a list of strings, got {value!r}")
    return tuple(value)


def _rate_table(value: Any) -> dict[str, int]:
    """Read a table of name -> integer ([tax.rates] standard = 1300, [points.tiers] gold = 150)."""
    if isinstance(value, _EnvText) or not isinstance(value, dict):
        raise ValueError("must be a table in edge.toml ([tax.rates] standard = 1300)")  # noqa: TRY004 - reported as a field error
    table: dict[str, int] = {}
    for name, rate in value.items():
        if not re.match(r"^[A-Za-z0-9_-]{1,20}$", name):
            raise ValueError(f"tax class {name!r} must be 1-20 letters, digits, '-' or '_'")
        if type(rate) is not int:
            raise ValueError(f"{name}: the rate must be an integer of basis points, got {rate!r}")
        table[name] = rate
    return table


def load_secrets(env: Mapping[str, str]) -> Secrets:
    """Read each secret file from $CREDENTIALS_DIRECTORY (surrounding whitespace trimmed)."""
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return Secrets()
    found: dict[str, str] = {}
    for name, filename in SECRET_FILES.items():
        file = Path(directory) / filename
        if file.is_file():
            found[name] = file.read_text(encoding="utf-8").strip()
    return Secrets(**found)


def render_toml(settings: Settings) -> str:
    """Write settings back as edge.toml text (no secrets), e.g. for `edge demo`."""
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        part = getattr(settings, section)
        for f in fields(part):
            value = getattr(part, f.name)
            if value is None:
                continue
            if isinstance(value, dict):
                pairs = ", ".join(f"{_toml_key(k)} = {v}" for k, v in value.items())
                lines.append(f"{f.name} = {{{pairs}}}")
                continue
            if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
                lines.append(f"{f.name} = [{', '.join(_toml_scalar(item) for item in value)}]")
                continue
            if isinstance(value, tuple):
                rules = [
                    "{"
                    + ", ".join(f"{k} = {_toml_scalar(getattr(rule, k))}" for k in _RULE_FIELDS)
                    + "}"
                    for rule in value
                ]
                lines.append(f"{f.name} = [\n  " + ",\n  ".join(rules) + ",\n]")
                continue
            lines.append(f"{f.name} = {_toml_scalar(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_key(key: str) -> str:
    """Render a table key (bare when it can be)."""
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else _toml_scalar(key)


def _toml_scalar(value: object) -> str:
    """Render a bool, int, string or path as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
