"""The demo database: a small-business SQLite database, generated deterministically.

Customers, devices, contracts and invoices of a DACH-region IoT service company (amounts
in EUR) are generated from a fixed seed on first run and reused afterwards; a schema
version stored in ``PRAGMA user_version`` regenerates the database when this module's
schema changes. Also holds the read-only connection helpers the query layer
(``cogpipe.demo.query``) builds on.
"""

from __future__ import annotations

import os
import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_VERSION", "TABLES", "TODAY", "default_db_path", "ensure_db", "table_counts"]

SCHEMA_VERSION = 1
SEED = 20240611
TODAY = date(2025, 6, 30)
"""The database's "today": fixed, so every generation gives the same rows."""
INVOICES_FROM = date(2024, 1, 1)

TABLES = {
    "customers": "Customer companies with their contact person, city, country and segment.",
    "devices": "IoT devices installed at customers (routers, gateways, sensors, cameras).",
    "contracts": "Service contracts: plan, monthly fee in EUR, start/end date, status.",
    "invoices": "Monthly invoices per contract since 2024-01: amount in EUR, "
    "status paid/open/overdue.",
}

_SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, company TEXT NOT NULL,
  city TEXT NOT NULL, country TEXT NOT NULL, segment TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE devices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  type TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
  installed_at TEXT NOT NULL);
CREATE TABLE contracts (id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id), plan TEXT NOT NULL,
  monthly_fee REAL NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  status TEXT NOT NULL);
CREATE TABLE invoices (id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  contract_id INTEGER NOT NULL REFERENCES contracts(id), issued_at TEXT NOT NULL,
  due_at TEXT NOT NULL, amount REAL NOT NULL, status TEXT NOT NULL);
CREATE INDEX customers_city ON customers(city);
CREATE INDEX devices_customer ON devices(customer_id);
CREATE INDEX contracts_customer ON contracts(customer_id);
CREATE INDEX invoices_customer ON invoices(customer_id);
CREATE INDEX invoices_issued ON invoices(issued_at);
"""


def _words(text: str) -> list[str]:
    return text.split()


# "city:country:weight", weight = how often customers are in that city
_CITIES = [
    (city, country, int(weight))
    for city, country, weight in (
        item.split(":")
        for item in _words(
            "Berlin:Germany:14 Hamburg:Germany:9 Munich:Germany:9 Cologne:Germany:6 "
            "Frankfurt:Germany:6 Stuttgart:Germany:5 Leipzig:Germany:3 Nuremberg:Germany:3 "
            "Vienna:Austria:8 Graz:Austria:3 Linz:Austria:2 Salzburg:Austria:2 "
            "Zurich:Switzerland:7 Geneva:Switzerland:3 Basel:Switzerland:3 Bern:Switzerland:2"
        )
    )
]
_FIRST = _words(
    "Anna Ben Clara David Elena Felix Greta Hannah Jonas Katrin Lukas Marie Nina Oliver "
    "Paula Sophie Tobias Ursula Viktor Jana Moritz Lea Stefan Sabine Thomas Julia Markus Laura"
)
_LAST = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Koch Richter Klein "
    "Wolf Huber Gruber Keller Brunner Steiner Baumann Frei Lang Berger Vogel Schwarz Zimmermann"
)
_PREFIX = _words(
    "Nord Alpen Rhein Elb Isar Donau Spree Main Berg See Stadt Grün Blau Licht Stern Hafen "
    "Wald Feld"
)
_TRADE = _words(
    "tech logistik bau energie medien handel werk data pharma hotel food systeme mobil immobilien"
)
_SUFFIX = {
    "Germany": ["GmbH", "GmbH", "AG", "KG"],
    "Austria": ["GmbH", "GmbH", "AG"],
    "Switzerland": ["AG", "AG", "GmbH", "SA"],
}
# segment, weight, devices per customer (min, max), plans
_SEGMENTS = [
    ("smb", 60, (1, 3), ("basic", "standard")),
    ("midmarket", 25, (2, 6), ("standard", "premium")),
    ("enterprise", 15, (4, 12), ("premium", "enterprise")),
]
_FEES = {"basic": 49.0, "standard": 129.0, "premium": 349.0, "enterprise": 990.0}
_DEVICES = {
    "router": ["RX-200", "RX-500 Pro"],
    "gateway": ["GW-10", "GW-20 LTE"],
    "sensor": ["TS-1 Temp", "HS-2 Humidity", "AQ-3 Air"],
    "camera": ["CAM-HD", "CAM-4K"],
    "thermostat": ["TH-Smart"],
}


# --- generation --------------------------------------------------------------------------


def default_db_path() -> Path:
    """Return ``$COGPIPE_DEMO_DB``, else ``var/demo.db`` under the current directory."""
    return Path(os.environ.get("COGPIPE_DEMO_DB") or Path.cwd() / "var" / "demo.db")


def ensure_db(path: str | Path | None = None) -> Path:
    """Create the demo database at ``path`` unless a current one is there; return its path.

    Idempotent and safe against concurrent starts: a database whose ``user_version`` is
    ``SCHEMA_VERSION`` is reused; otherwise a new one is written to a temporary file and
    moved into place atomically. Generation takes well under a second.
    """
    target = Path(path) if path is not None else default_db_path()
    target = target.expanduser().resolve()
    if _schema_version(target) == SCHEMA_VERSION:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _generate(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _schema_version(path: Path) -> int | None:
    if not path.is_file():
        return None
    try:
        return int(_one(path, "PRAGMA user_version")[0][0])
    except sqlite3.DatabaseError:
        return None


def _generate(path: Path) -> None:
    rng = random.Random(SEED)
    customers = _customers(rng)
    devices = _devices(rng, customers)
    contracts = _contracts(rng, customers, devices)
    invoices = _invoices(rng, contracts)
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executescript(_SCHEMA)
            for table, rows in (
                ("customers", customers),
                ("devices", devices),
                ("contracts", contracts),
                ("invoices", invoices),
            ):
                marks = ",".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    finally:
        conn.close()


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _customers(rng: random.Random) -> list[tuple[Any, ...]]:
    rows = []
    weights = [w for *_, w in _CITIES]
    for cid in range(1, 241):
        city, country, _ = rng.choices(_CITIES, weights)[0]
        segment = rng.choices(_SEGMENTS, [s[1] for s in _SEGMENTS])[0][0]
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        company = f"{rng.choice(_PREFIX)}{rng.choice(_TRADE)} {rng.choice(_SUFFIX[country])}"
        created = _day(rng, date(2019, 1, 1), date(2025, 3, 31))
        rows.append((cid, name, company, city, country, segment, created.isoformat()))
    return rows


def _devices(rng: random.Random, customers: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    spans = {s[0]: s[2] for s in _SEGMENTS}
    for cid, *_, segment, created in customers:
        for _ in range(rng.randint(*spans[segment])):
            kind = rng.choices(list(_DEVICES), [3, 2, 5, 2, 2])[0]
            did = len(rows) + 1
            installed = _day(rng, date.fromisoformat(created), TODAY)
            serial = f"{kind[:2].upper()}{installed.year % 100:02d}-{did:05d}-{rng.randint(10, 99)}"
            status = rng.choices(["active", "inactive", "faulty", "retired"], [80, 8, 5, 7])[0]
            rows.append(
                (did, cid, kind, rng.choice(_DEVICES[kind]), serial, status, installed.isoformat())
            )
    return rows


def _contracts(
    rng: random.Random, customers: list[tuple[Any, ...]], devices: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    plans = {s[0]: s[3] for s in _SEGMENTS}
    device_count: dict[int, int] = {}
    for _, cid, *_ in devices:
        device_count[cid] = device_count.get(cid, 0) + 1
    rows: list[tuple[Any, ...]] = []
    for cid, *_, segment, created in customers:
        start = _day(rng, date.fromisoformat(created), date.fromisoformat(created) + timedelta(90))
        for _ in range(rng.choices([1, 2, 3], [70, 25, 5])[0]):
            if start > TODAY:
                break
            plan = rng.choice(plans[segment])
            fee = round(_FEES[plan] * (1 + 0.04 * device_count.get(cid, 0)), 2)
            end = start + timedelta(days=365 * rng.choice([1, 2, 3]) - 1)
            cancelled = rng.random() < 0.08
            if cancelled:
                end = _day(rng, start + timedelta(days=60), end)
            status = "cancelled" if cancelled else ("ended" if end < TODAY else "active")
            rows.append((len(rows) + 1, cid, plan, fee, start.isoformat(), end.isoformat(), status))
            start = end + timedelta(days=1)
    return rows


def _invoices(rng: random.Random, contracts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for kid, cid, _, fee, start_s, end_s, _ in contracts:
        start, end = date.fromisoformat(start_s), min(date.fromisoformat(end_s), TODAY)
        month = max(date(start.year, start.month, 1), INVOICES_FROM)
        while month <= end:
            issued = max(month, start)
            due = issued + timedelta(days=30)
            extra = rng.choice([0.0, 0.0, 0.0, round(rng.uniform(5, 80), 2)])
            status = "open" if due >= TODAY else "overdue" if rng.random() < 0.07 else "paid"
            rows.append(
                (
                    len(rows) + 1,
                    cid,
                    kid,
                    issued.isoformat(),
                    due.isoformat(),
                    round(fee + extra, 2),
                    status,
                )
            )
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return rows


# --- read-only access (also used by cogpipe.demo.query) -----------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _one(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = _connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def table_counts(path: Path) -> dict[str, int]:
    """Return ``{table: row count}`` for every demo table."""
    return {t: _one(path, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}
