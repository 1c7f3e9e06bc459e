"""Export the store's history to plain files, and merge such files back.

``export_history(store, folder)`` writes two CSV files, each read by pandas in one call:

``history.csv``
    The tidy history: one row per bucket of every kept answer (every revision of every stored
    range), with the stream, the range, the filters, when the answer was fetched and last
    confirmed, and whether it is the answer in use. Ordered and formatted deterministically,
    so the same store always gives the same bytes (good for git).
``answers.csv``
    One row per revision with the raw answer exactly as the platform sent it: what
    :func:`import_history` reads back, so nothing (not even the platform's own summary of a
    range, which the buckets cannot rebuild) is lost on the way.
``tables/``
    Any other table kept in the store's file (the delivery record: what was sent, which
    alerts fired), one CSV each plus ``schema.sql``; merged back by key on import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engagement_kit.config.query import EngagementQuery
from engagement_kit.errors import StoreError
from engagement_kit.store.responses import ResponseStore
from engagement_kit.store.schema import COLUMNS, payload_digest, range_end

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ANSWERS_FILE", "HISTORY_FILE", "export_history", "import_history", "read_history"]

HISTORY_FILE = "history.csv"
ANSWERS_FILE = "answers.csv"
#: Folder of the other tables kept in the store's file (the delivery record).
OTHER_TABLES = "tables"
#: Columns of ``answers.csv``: the query's own fields, then the revision's.
_QUERY_FIELDS = (
    "stream_id",
    "start",
    "end",
    "aggregation",
    "conversation_type",
    "conversation_status",
    "channels",
    "tz",
)
ANSWER_COLUMNS = (
    "host",
    *_QUERY_FIELDS,
    "fetched_at",
    "seen_at",
    "ended",
    "lossy",
    "seq",
    "in_use",
    "payload",
)
#: The tidy columns of ``history.csv`` after the range's description.
HISTORY_COLUMNS = (
    "host",
    *_QUERY_FIELDS,
    "fetched_at",
    "seen_at",
    "in_use",
    "lossy",
    "date",
    "hour",
    "unique",
    "new",
    "returning",
)


def _answers_frame(store: ResponseStore, stream_id: str | None) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for revisions in store.ranges(stream_id=stream_id).values():
        used = store.in_use(revisions)
        for r in revisions:
            fields = r.query.model_dump(mode="json")
            rows.append(
                {
                    "host": r.host,
                    **{f: fields[f] for f in _QUERY_FIELDS},
                    "channels": ",".join(r.query.channels),
                    "fetched_at": r.fetched_at.isoformat(),
                    "seen_at": r.seen_at.isoformat(),
                    "ended": r.ended,
                    "lossy": r.lossy,
                    "seq": r.seq,
                    "in_use": used is not None and r.id == used.id,
                    "payload": r.payload,
                }
            )
    frame = pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))
    return frame.sort_values(
        ["stream_id", "host", "start", "end", "aggregation", "tz", "conversation_type",
         "conversation_status", "channels", "fetched_at", "seq"],
        kind="stable",
    ).reset_index(drop=True)  # fmt: skip


def _history_frame(answers: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from engagement_kit.tidy import parse_response

    parts = []
    for row in answers.itertuples(index=False):
        query = _query_of(row._asdict())
        wide = parse_response(row.payload, query=query).wide()
        described = {c: getattr(row, c) for c in HISTORY_COLUMNS[:-5]}
        part = pd.DataFrame({c: [v] * len(wide) for c, v in described.items()})
        part["date"] = wide["date"].dt.strftime("%Y-%m-%d")
        part["hour"] = wide["hour"].astype("Int8")
        for metric in ("unique", "new", "returning"):
            part[metric] = wide[metric].to_numpy()
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=list(HISTORY_COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(HISTORY_COLUMNS)]


def _query_of(row: dict[str, Any]) -> EngagementQuery:
    channels = row.get("channels")
    if not isinstance(channels, str):  # NaN from an empty CSV cell
        channels = ""
    return EngagementQuery(
        **{f: row[f] for f in _QUERY_FIELDS if f != "channels"},
        channels=[c for c in channels.split(",") if c] or None,
    )


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    from engagement_kit.store.files import atomic_write

    atomic_write(path, frame.to_csv(index=False, lineterminator="\n"))


def _identity(frame: pd.DataFrame) -> pd.Series:
    """host + query fields + answer digest, one text per row (what makes an answer distinct)."""
    parts = [frame[c].astype(str) for c in ("host", *_QUERY_FIELDS)]
    digest = frame["payload"].map(payload_digest)
    out = parts[0]
    for part in [*parts[1:], digest]:
        out = out + "|" + part
    return out


def _lacking(path: Path, answers: pd.DataFrame) -> list[str]:
    """Answers in the export at ``path`` that ``answers`` (the store's) does not hold."""
    import pandas as pd

    try:
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise StoreError(f"export: cannot read the earlier export {path} ({exc})") from exc
    if any(c not in old.columns for c in ANSWER_COLUMNS):
        raise StoreError(f"export: {path} is not an `engagement-kit store export`; use --force")
    have = set(_identity(answers.astype(str)))
    missing = old[~_identity(old).isin(have)]
    return [
        f"{r.stream_id} {r.start}..{r.end} fetched {r.fetched_at}" for r in missing.itertuples()
    ]


def export_history(
    store: ResponseStore,
    folder: str | os.PathLike[str],
    *,
    stream_id: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Write :data:`HISTORY_FILE` and :data:`ANSWERS_FILE` into ``folder`` (created if needed).

    Each file is written to a temporary name and renamed into place, so an earlier export in
    ``folder`` is never left half-overwritten. An earlier export holding answers the store
    lacks (a wiped or older store) is not replaced unless ``force``: the export is the record.

    Returns
    -------
    dict
        ``history`` and ``answers`` (the paths), ``ranges``, ``revisions``, ``rows``.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"export: {folder} is a file; give a folder to write the history into")
    answers = _answers_frame(store, stream_id)
    if not force and (folder / ANSWERS_FILE).is_file():
        lacking = _lacking(folder / ANSWERS_FILE, answers)
        if lacking:
            raise StoreError(
                f"export: {folder / ANSWERS_FILE} holds {len(lacking):,} answers this store "
                f"does not have (e.g. {lacking[0]}); nothing was written. Merge them first with "
                f"`engagement-kit store import {folder}`, or pass --force to replace the export"
            )
    folder.mkdir(parents=True, exist_ok=True)
    history = _history_frame(answers)
    _write_csv(history, folder / HISTORY_FILE)
    _write_csv(answers, folder / ANSWERS_FILE)
    if stream_id is None:
        _export_other_tables(store, folder / OTHER_TABLES)
    ranges = answers[list(("host", *_QUERY_FIELDS))].drop_duplicates()
    return {
        "history": folder / HISTORY_FILE,
        "answers": folder / ANSWERS_FILE,
        "ranges": len(ranges),
        "revisions": len(answers),
        "rows": len(history),
    }


def read_history(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """The tidy history of an export (``history.csv``) with proper dtypes."""
    import pandas as pd

    path = Path(folder).expanduser() / HISTORY_FILE
    if not path.is_file():
        raise StoreError(f"{path}: no such file; write one with `engagement-kit store export`")
    frame = pd.read_csv(path, dtype={"channels": "string", "hour": "Int8"}, keep_default_na=False)
    for column in ("fetched_at", "seen_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["date"] = pd.to_datetime(frame["date"])
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def import_history(store: ResponseStore, folder: str | os.PathLike[str]) -> dict[str, int]:
    """Merge an export's ``answers.csv`` into ``store``; importing twice changes nothing.

    Every row is checked before anything is written (a valid query and an answer that
    parses), so a damaged file leaves the store as it was.

    Returns
    -------
    dict
        ``read`` (rows in the file) and ``added`` (revisions new to the store).
    """
    import pandas as pd

    from engagement_kit.errors import EngagementError
    from engagement_kit.tidy import parse_response

    path = Path(folder).expanduser()
    path = path / ANSWERS_FILE if path.is_dir() else path
    if not path.is_file():
        raise StoreError(
            f"import: {path} not found; give the folder `engagement-kit store export` wrote"
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise StoreError(f"import: {path} is not a readable CSV ({exc})") from exc
    missing = [c for c in ANSWER_COLUMNS if c not in frame.columns]
    if missing:
        raise StoreError(
            f"import: {path} lacks the columns {', '.join(missing)}; is it an "
            "`engagement-kit store export`?"
        )
    rows = []
    for n, row in enumerate(frame.to_dict("records"), start=2):
        try:
            query = _query_of(row)
            parse_response(row["payload"], query=query)
            fetched = pd.Timestamp(row["fetched_at"]).isoformat()
            seen = pd.Timestamp(row["seen_at"]).isoformat()
        except (EngagementError, ValueError) as exc:
            raise StoreError(f"import: {path} line {n}: {exc}; nothing was imported") from exc
        key = ResponseStore.key(row["host"], query)
        values = {
            "key": key,
            "host": row["host"].rstrip("/"),
            "stream_id": query.stream_id,
            "query": json.dumps(query.model_dump(mode="json"), sort_keys=True),
            "first_day": query.start.isoformat(),
            "last_day": query.end.isoformat(),
            "range_end": range_end(query).isoformat(),
            "payload": row["payload"],
            "digest": payload_digest(row["payload"]),
            "fetched_at": fetched,
            "seen_at": seen,
            "ended": int(row["ended"] == "True"),
            "lossy": int(row["lossy"] == "True"),
            "seq": int(row["seq"] or 1),
        }
        assert set(values) == set(COLUMNS)
        rows.append(values)
    added = store.merge_rows(rows)
    _import_other_tables(store, path.parent / OTHER_TABLES)
    return {"read": len(rows), "added": added}


# -- the store's other tables (e.g. the delivery record) ------------------------------------
def _export_other_tables(store: ResponseStore, folder: Path) -> None:
    """Each record table that holds rows as ``<name>.csv``: the workflow's history then keeps,
    for example, the record of what was sent."""
    import pandas as pd
    import sqlalchemy as sa

    from engagement_kit.store.schema import RECORD_TABLES

    for table in RECORD_TABLES:
        rows = store.read(sa.select(table).order_by(*table.primary_key.columns))
        if not rows:
            continue
        folder.mkdir(exist_ok=True)
        frame = pd.DataFrame(rows, columns=[c.name for c in table.columns])
        _write_csv(frame, folder / f"{table.name}.csv")


def _import_other_tables(store: ResponseStore, folder: Path) -> None:
    """Add the exported records the store lacks (by key); ``<name>.csv`` of an unknown table is
    ignored."""
    import pandas as pd
    import sqlalchemy as sa

    from engagement_kit.store.schema import RECORD_TABLES

    frames = {
        t: pd.read_csv(folder / f"{t.name}.csv", dtype=str, keep_default_na=False)
        for t in RECORD_TABLES
        if (folder / f"{t.name}.csv").is_file()
    }

    def typed(table: sa.Table, row: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column in table.columns:
            value = row.get(column.name, "")
            if isinstance(column.type, sa.Integer):
                out[column.name] = int(value)
            elif isinstance(column.type, sa.Float):
                out[column.name] = float(value)
            else:
                out[column.name] = value
        return out

    def work(conn: Any) -> None:
        for table, frame in frames.items():
            for row in frame.to_dict("records"):
                conn.execute(
                    store.insert(table).values(**typed(table, row)).on_conflict_do_nothing()
                )

    if frames:
        store.transaction(work)
