"""`python -m annotations {stats,export,preferences,import-judge,active,users,crowd-payments,
forget-participant,backup,restore,prune} ...`"""

from __future__ import annotations

import importlib
import sys

from annotations.errors import AnnotationError

COMMANDS = {
    "stats": (
        "annotations.report.cli",
        "main_stats",
        "print every statistic of a campaign (--db FILE [--json])",
    ),
    "export": (
        "annotations.report.cli",
        "main_export",
        "write judgments, statistics and the report (--db FILE --out DIR [--slides])",
    ),
    "preferences": (
        "annotations.report.preferences",
        "main_preferences",
        "TRL preference data from a campaign's judgments (--campaign ID --out DIR [--kto])",
    ),
    "import-judge": (
        "annotations.campaigns.judge_verdicts",
        "main_import_judge",
        "an LLM judge's verdicts from the run folder, apart from human judgments (--campaign ID --judge "
        "NAME)",
    ),
    "active": (
        "annotations.campaigns.active_selection",
        "main_active",
        "humans judge only about B items, where the judge is least sure (--campaign ID --budget B "
        "--judge NAME)",
    ),
    "users": ("annotations.accounts.users", "main", "create accounts and invitation links (--db FILE)"),
    "crowd-payments": (
        "annotations.crowd.payments",
        "main_payments",
        "crowd participants, time, outcomes and bonus files (--campaign ID --out DIR); personal data",
    ),
    "forget-participant": (
        "annotations.crowd.payments",
        "main_forget",
        "remove a crowd participant's panel id, keeping their judgments (--platform P --id ID)",
    ),
    "backup": (
        "annotations.store.backup",
        "main_backup",
        "back up a store no app holds open (--db FILE --out DIR)",
    ),
    "restore": (
        "annotations.store.backup",
        "main_restore",
        "rebuild a store from a backup (BACKUP --db NEW.duckdb)",
    ),
    "prune": (
        "annotations.store.backup",
        "main_prune",
        "delete scheduled backups beyond the newest N (--dir DIR --keep N)",
    ),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        lines = [f"  {name:<12} {help_}" for name, (_, _, help_) in COMMANDS.items()]
        print(
            "usage: python -m annotations COMMAND [options]\n\ncommands:\n" + "\n".join(lines),
            file=sys.stderr,
        )
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module_name, func_name, _ = COMMANDS[argv[0]]
    if argv[0] == "export" and "--slides" in argv:  # the export, then a slide deck beside it
        module_name, func_name = "annotations.report.slides", "main_export_with_slides"
    func = getattr(importlib.import_module(module_name), func_name)
    try:
        return int(func(argv[1:]) or 0)
    except AnnotationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
