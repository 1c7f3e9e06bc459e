"""The weekly reports as an Airflow DAG: one mapped task per shard, then the index.

Copy into your Airflow ``dags/`` folder. Every worker needs engagement-kit installed, the
project folder (``streams.toml``) at ``PROJECT``, the platform credentials in its environment
(or the project's ``.env``), and ``ENGAGEMENT_KIT_STORE`` set to the team store's
``postgresql://`` URL, so the shards share one history, one record of what was sent and one
rate budget per bot (docs/team.md). The reports folder must be shared (a volume, NFS) or
gathered before the index task.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.operators.bash import BashOperator

PROJECT = "/srv/engagement-kit"  # holds streams.toml; reports/ is written beside it
SHARDS = 4

with DAG(
    dag_id="engagement_kit_weekly_reports",
    schedule="0 12 * * 1",  # Mondays 12:00 UTC: Sunday has ended in every zone
    start_date=dt.datetime(2025, 1, 6, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["engagement-kit"],
) as dag:
    shards = BashOperator.partial(
        task_id="report_shard",
        cwd=PROJECT,
        retries=1,
        execution_timeout=dt.timedelta(minutes=30),
    ).expand(
        bash_command=[
            f"engagement-kit report --config streams.toml --shard {k}/{SHARDS}"
            for k in range(1, SHARDS + 1)
        ]
    )
    index = BashOperator(
        task_id="index",
        cwd=PROJECT,
        bash_command="engagement-kit report --index-only",
        trigger_rule="all_done",  # the index also shows the shards that failed
    )
    shards >> index
