"""The command line of the report: `python -m annotations stats --db FILE [--json]` prints every statistic
of each campaign, `python -m annotations export --db FILE --out DIR` writes its export (DESIGN.md public
interfaces)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from annotations import campaigns, store
from annotations.errors import AnnotationError
from annotations.plurals import plural
from annotations.report.campaign_data import load_campaign
from annotations.report.export import write_export
from annotations.report.summary import summary_text
from annotations.stats.analysis import AnalysisOptions, analyze
from ft_core.config import add_field_flags, config_from_cli


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    """--db, --campaign, and a flag per AnalysisOptions field, generated from its metadata (ft_core's
    mechanism)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--db", required=True, help="the DuckDB file of the app (FT_APP_DB)")
    parser.add_argument(
        "--campaign", action="append", help="campaign id (repeat for several; default: all with judgments)"
    )
    add_field_flags(parser, AnalysisOptions)
    return parser


def _options(args) -> AnalysisOptions:
    """The AnalysisOptions the flags describe (the defaults for flags not given)."""
    return config_from_cli(AnalysisOptions, args, from_file=False)


def _campaigns(con, wanted: list[str] | None) -> list[str]:
    listing = campaigns.list_campaigns(con)
    if wanted:
        missing = [c for c in wanted if c not in set(listing["campaign_id"])]
        if missing:
            raise AnnotationError(
                f"{plural(len(missing), 'campaign')} {', '.join(missing)} not found; campaigns are: "
                f"{', '.join(listing['campaign_id']) or 'none'}"
            )
        return wanted
    with_judgments = listing[listing.get("n_judgments", pd.Series(1, index=listing.index)) > 0]
    if with_judgments.empty:
        raise AnnotationError("no campaign has judgments yet: nothing to report")
    return list(with_judgments["campaign_id"])


def _open(path: str):
    if not store.is_postgres_url(path) and not Path(path).is_file():
        raise AnnotationError(f"{path} not found: pass the app's DuckDB file with --db (FT_APP_DB)")
    return store.connect(path, read_only=True)


def main_stats(argv: list[str]) -> int:
    """`python -m annotations stats --db FILE [--json]`: every statistic of each campaign."""
    parser = _parser("python -m annotations stats", "Print every statistic of a campaign.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    con = _open(args.db)
    try:
        results = []
        for campaign_id in _campaigns(con, args.campaign):
            data, a = _analyzed(con, campaign_id, args)
            results.append((data, a))
    finally:
        con.close()
    if args.json:
        payload = [{"campaign_name": d.name, **a.to_dict()} for d, a in results]
        print(json.dumps(payload if len(payload) > 1 else payload[0], indent=2, default=str))
    else:
        print("\n\n".join(summary_text(d, a) for d, a in results))
    return 0


def _analyzed(con, campaign_id: str, args: argparse.Namespace):
    """The campaign's data and its analysis under the command line's options (adjudications read with it)."""
    data = load_campaign(con, campaign_id)
    options = _options(args)
    return data, analyze(
        data.judgments, data.scores, data.metrics, options, campaign_id, adjudications=data.adjudications
    )


def main_export(argv: list[str]) -> int:
    """`python -m annotations export --db FILE --out DIR`: judgments, statistics and the report per
    campaign."""
    parser = _parser(
        "python -m annotations export", "Write judgments, statistics and the report of a campaign."
    )
    parser.add_argument("--out", required=True, help="folder to write into (one subfolder per campaign)")
    args = parser.parse_args(argv)
    con = _open(args.db)
    try:
        for campaign_id in _campaigns(con, args.campaign):
            data, a = _analyzed(con, campaign_id, args)
            files = write_export(data, a, Path(args.out) / campaign_id)
            print(f"{campaign_id}: wrote {len(files)} files to {Path(args.out) / campaign_id}")
    finally:
        con.close()
    return 0
