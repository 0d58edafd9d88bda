"""Backups (researchers): back the study's store up now, see the backups and the schedule, and how to
restore."""

import streamlit as st

from annotations.plurals import counted
from annotations.store import backup, default_path, is_postgres_store, redacted
from pages.plain_text import escape_markdown
from pages.shared import require_role, store

require_role("researcher")
con = store()
settings = backup.BackupSettings.from_env()
st.title("Backups")
st.caption(
    escape_markdown(
        f"Backups are written to {settings.directory} while annotators keep working: each is a consistent "
        "snapshot holding every judgment saved before it started."
    )
)

if st.button("Back up now", key="backup_now", type="primary"):
    try:
        taken = backup.take_backup(con, settings.directory, trigger="manual")
    except backup.BackupError as e:
        st.error(escape_markdown(e))
    else:
        judged = taken.rows.get("judgments", 0)
        st.success(f"Backed up: {taken.name} ({judged:,} judgments, {taken.bytes / 1e6:.2f} MB).")

schedule = backup.running_schedule()
if settings.every_minutes == 0:
    st.info(
        "The schedule is off (`FT_BACKUP_EVERY_MINUTES=0`): backups are taken here or with the command line."
    )
else:
    keep = f"the newest {settings.keep}" if settings.keep else "all"
    st.caption(
        f"Schedule: every {settings.every_minutes:g} minutes, keeping {keep} scheduled backups; backups "
        "taken by "
        "hand are kept."
        + (
            ""
            if schedule
            else " The schedule runs in the app server (`.venv/bin/streamlit run streamlit_app.py`)."
        )
    )
if schedule is not None and schedule.last_error:
    st.warning(escape_markdown(f"The last scheduled backup failed: {schedule.last_error}"))

st.subheader("Backups")
table = backup.backups_frame(settings.directory)
if table.empty:
    st.caption("No backup yet.")
else:
    st.dataframe(table, hide_index=True, width="stretch")
unreadable = backup.scan_backups(settings.directory).unreadable
if unreadable:
    st.warning(
        escape_markdown(
            f"{counted(len(unreadable), 'folder')} in {settings.directory} cannot be read as backups; not "
            "listed, restored or pruned: " + "; ".join(bad.reason for bad in unreadable)
        )
    )

st.subheader("Restore")
if is_postgres_store(con):  # a PostgreSQL store (docs/backups.md)
    st.markdown(
        "Restore into a new, empty database (the running app and its database are not touched), then point "
        "every app process at it (docs/backups.md, *A PostgreSQL store*):"
    )
    st.code(
        "createdb ft_restored\n"
        f".venv/bin/python -m annotations restore {settings.directory}/BACKUP --db postgresql:///ft_restored\n"
        "# then set FT_APP_DB=postgresql:///ft_restored for every app process and restart them\n"
        f"# (now: {redacted(con.url)})",
        language="bash",
    )
else:
    st.markdown(
        "Restore into a new file (the running app and its file are not touched), then stop the app and start "
        "it on the restored file (docs/backups.md, *Restoring one*):"
    )
    st.code(
        f".venv/bin/python -m annotations restore {settings.directory}/BACKUP --db data/restored.duckdb\n"
        f"FT_APP_DB=data/restored.duckdb .venv/bin/streamlit run streamlit_app.py   # now: {default_path()}",
        language="bash",
    )
