"""Who may judge a campaign: every account by default, or only the accounts a researcher lists.

The list lives in `campaign_judges` (migration 007); an empty list means open to all. `assignment.next_item`
and `judgments.submit` / `edit` refuse an account that is not on a non-empty list (AuthError), and the
annotate page offers only the campaigns the account may judge (`assignment.open_campaigns(con,
annotator_id)`).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from annotations import store
from annotations.errors import AuthError, CampaignError

NOT_A_JUDGE = "you are not among the judges of this campaign; ask the researcher who runs it"
# True when the campaign (first ?) lists no judge, or lists the account (second ?, third ?).
MAY_JUDGE_SQL = (
    "(NOT EXISTS (SELECT 1 FROM campaign_judges j WHERE j.campaign_id = ?) "
    "OR EXISTS (SELECT 1 FROM campaign_judges j WHERE j.campaign_id = ? AND j.user_id = ?))"
)
# The same for each row `c` of campaigns, the account as the one ?.
JUDGE_OF_EACH_CAMPAIGN_SQL = (
    "(NOT EXISTS (SELECT 1 FROM campaign_judges j WHERE j.campaign_id = c.campaign_id) "
    "OR EXISTS (SELECT 1 FROM campaign_judges j WHERE j.campaign_id = c.campaign_id AND j.user_id = ?))"
)


def may_judge(cur: duckdb.DuckDBPyConnection, campaign_id: str, user_id: str) -> bool:
    """Whether this account may judge this campaign (read on the cursor given: inside a write, its
    transaction)."""
    return bool(cur.execute(f"SELECT {MAY_JUDGE_SQL}", [campaign_id, campaign_id, user_id]).fetchone()[0])


def check_judge(cur: duckdb.DuckDBPyConnection, campaign_id: str, user_id: str) -> None:
    """AuthError (NOT_A_JUDGE) unless this account may judge this campaign."""
    if not may_judge(cur, campaign_id, user_id):
        raise AuthError(NOT_A_JUDGE)


def campaign_judges(con: duckdb.DuckDBPyConnection, campaign_id: str) -> list[str]:
    """The user ids listed as judges of a campaign; empty: open to every account."""
    rows = (
        store.read(con)
        .execute("SELECT user_id FROM campaign_judges WHERE campaign_id = ? ORDER BY user_id", [campaign_id])
        .fetchall()
    )
    return [user_id for (user_id,) in rows]


def set_judges(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    user_ids: Iterable[str],
    added_by: str | None = None,
) -> list[str]:
    """Replace the list of a campaign's judges (empty: open to every account again); returns it, sorted.

    Judgments already made stay; a pair an account holds stays its own until its lease runs out, but no new
    pair is served and nothing more is stored for an account left off the list.
    """
    wanted = sorted(set(user_ids))

    def work(cur: duckdb.DuckDBPyConnection) -> list[str]:
        if cur.execute("SELECT 1 FROM campaigns WHERE campaign_id = ?", [campaign_id]).fetchone() is None:
            raise CampaignError(f"no campaign with id '{campaign_id}'")
        if wanted:
            found = {
                row[0]
                for row in cur.execute(
                    f"SELECT user_id FROM users WHERE user_id IN ({store.in_list(wanted)})", wanted
                ).fetchall()
            }
            unknown = [u for u in wanted if u not in found]
            if unknown:
                raise CampaignError(f"no account with id {', '.join(repr(u) for u in unknown)}")
        cur.execute("DELETE FROM campaign_judges WHERE campaign_id = ?", [campaign_id])
        now = store.utcnow()
        for user_id in wanted:
            cur.execute(
                "INSERT INTO campaign_judges (campaign_id, user_id, added_at, added_by) VALUES (?, ?, ?, ?)",
                [campaign_id, user_id, now, added_by],
            )
        return wanted

    return store.write(con, work)
