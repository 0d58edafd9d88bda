"""The Results page's judge cards (pages/results_judges.py) with AppTest on a real store: a judge that
follows the annotators and one that flips a coin, imported from the run folder; and the annotate page,
after the import, shows nothing of either."""

from __future__ import annotations

from datetime import timedelta

import krippendorff
import numpy as np
import pytest
from helpers.judge_verdicts import write_judge
from helpers.login_as import open_as
from helpers.small_campaigns import fill_decided
from helpers.synthetic import judge_round_robin
from sklearn.metrics import cohen_kappa_score

from annotations import store
from annotations.accounts import users
from annotations.campaigns import CampaignConfig, create_campaign, import_judge
from annotations.judging import judgments

N_ITEMS = 24


def human_choice(i: int) -> str:
    return "base" if i % 3 == 0 else "finetuned"


@pytest.fixture
def judged(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=N_ITEMS)
    cid = fill_decided(app_env, run_dir, k=3, decide=lambda item, annotator: human_choice(int(item[-3:])))
    write_judge(
        run_dir,
        "judge-follows",
        N_ITEMS,
        prefers=human_choice,
        p_finetuned=lambda i: 0.1 if human_choice(i) == "base" else 0.9,
    )
    coin = np.random.default_rng(1).random(N_ITEMS) < 0.5
    write_judge(
        run_dir,
        "judge-coin",
        N_ITEMS,
        prefers=lambda i: "finetuned" if coin[i] else "base",
        consistent=lambda i: i % 2 == 0,
        p_finetuned=lambda i: 0.5,
    )
    for name in ("judge-follows", "judge-coin"):
        import_judge(app_env, cid, name)
    return cid


def test_results_show_one_card_per_judge_and_call_the_weak_one_weak(researcher, judged):
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    assert "LLM judges" in [h.value for h in at.subheader]
    assert any("This judge tracks your annotators" in s.value and "100%" in s.value for s in at.success)
    assert any("does not track your annotators" in w.value and "50% of pairs" in w.value for w in at.warning)
    labels = [m.label for m in at.metric]
    kappas = {m.label: m.value for m in at.metric if m.label.startswith("Cohen's κ")}
    assert len(kappas) == 2 and labels.count("Order flip rate") == 2
    assert kappas.pop("Cohen's κ") == "1.00"  # the follower: every resample agrees, so no interval is printed
    ((label, _),) = kappas.items()
    assert label.startswith("Cohen's κ, 95%: ") and "–" in label  # the coin's kappa with its interval
    assert sum("Cost: 24 pairs, 4,848 tokens in 12 s" in c.value for c in at.caption) == 2


def test_the_card_shows_alpha_with_the_judge_each_annotator_by_name_and_each_criterion(
    researcher, annotator, app_env, tmp_path, run_writer
):
    """Two annotator accounts (anna, bruno) judge 12 items as the judge does except on items 0 and 1 (bruno
    differs), scoring fluency the judge's way and fidelity the other way."""
    run_dir = run_writer(tmp_path / "runs" / "run-5", n_items=12)
    bruno = users.create_user(app_env, "bruno", "maple-signal-harvest-41", "annotator")
    cid = create_campaign(
        app_env,
        CampaignConfig(name="named", run_dir=str(run_dir), k=2, repeat_rate=0.0),
        design_secret="cd" * 32,
    )

    def judge(who, pair, item_id, left, right, now):
        i = int(item_id[-3:])
        winner = human_choice(i) if who == annotator.user_id or i > 1 else "tie"
        choice = "tie" if winner == "tie" else ("A" if winner == left else "B")
        fluent = {side: 5 if human_choice(i) == system else 1 for side, system in (("A", left), ("B", right))}
        given = {
            c.name: (fluent if c.name == "fluency" else {s: 6 - v for s, v in fluent.items()})
            for c in pair.criteria
        }
        judgments.submit(app_env, pair.token, who, choice, given, None, now=now + timedelta(seconds=20))
        return now + timedelta(seconds=20)

    judge_round_robin(app_env, cid, [annotator.user_id, bruno.user_id], store.utcnow(), judge)
    write_judge(run_dir, "judge-named", 12, prefers=human_choice)
    import_judge(app_env, cid, "judge-named")
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    metrics = {m.label.split(",")[0]: m.value for m in at.metric}
    code = {"base": 0, "finetuned": 1, "tie": 2}
    anna = [code[human_choice(i)] for i in range(12)]
    bruno = [code["tie"] if i <= 1 else a for i, a in enumerate(anna)]
    # the `krippendorff` package on the reliability matrices; the judge rates as anna does
    humans = krippendorff.alpha(np.array([anna, bruno], dtype=float), level_of_measurement="nominal")
    together = krippendorff.alpha(np.array([anna, bruno, anna], dtype=float), level_of_measurement="nominal")
    assert together > humans  # a judge that agrees with the annotators raises their alpha
    assert metrics["Krippendorff's α"] == f"{humans:.2f}"
    assert metrics["α with the judge as a rater"] == f"{together:.2f}"
    tables = [d.value for d in at.dataframe]
    (people,) = [t for t in tables if "annotator_id" in t and "kappa_with_others" in t]
    people = people.set_index("annotator_id")
    assert sorted(people.index) == ["anna", "bruno"]  # usernames, not the pseudonymous ids
    assert people.loc["anna", "kappa_with_judge"] == "1.00" and people.loc["anna", "agrees"] == "100%"
    assert (
        people.loc["bruno", "kappa_with_judge"].startswith("0.")
        and " [" in people.loc["bruno", "kappa_with_judge"]
    )
    anna = [human_choice(i) for i in range(12)]
    bruno = ["tie" if i <= 1 else a for i, a in enumerate(anna)]
    # each one's kappa with the other: sklearn's Cohen's kappa of the two annotators
    assert people["kappa_with_others"].tolist() == [f"{cohen_kappa_score(anna, bruno):.2f}"] * 2
    assert list(people["n_items"]) == [12, 12]
    (criteria,) = [t for t in tables if "criterion" in t and "kappa_with_judge" in t]
    criteria = criteria.set_index("criterion")
    assert criteria.loc["fluency", "agrees"] == "100%" and criteria.loc["fidelity", "agrees"] == "0%"


def test_results_without_a_judge_say_how_to_add_one(researcher, app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-3", n_items=8)
    cid = fill_decided(app_env, run_dir)
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    assert any(f"import-judge --campaign {cid}" in c.value for c in at.caption)


def _all_protos(node) -> list[str]:
    found = [str(node.proto)] if getattr(node, "proto", None) is not None else []
    for child in (getattr(node, "children", None) or {}).values():
        found.extend(_all_protos(child))
    return found


def test_the_annotate_page_shows_nothing_of_a_judge(annotator, judged):
    at = open_as("annotate", annotator)
    assert not at.exception, at.exception
    assert any(b.key and b.key.startswith("choose::") for b in at.button)  # a pair is shown
    rendered = "\n".join(_all_protos(at._tree)).lower() + repr(at.session_state.to_dict()).lower()
    for trace in ("judge-follows", "judge-coin", "verdict", "p_b_better", "order flip", "llm judge"):
        assert trace not in rendered, trace


def test_a_judge_in_the_run_folder_is_imported_from_the_page_and_its_card_shows(
    researcher, app_env, tmp_path, run_writer
):
    run_dir = run_writer(tmp_path / "runs" / "run-4", n_items=12)
    cid = fill_decided(app_env, run_dir, decide=lambda item, annotator: human_choice(int(item[-3:])))
    at = open_as("results", researcher)
    assert not at.exception, at.exception
    assert not [s for s in at.selectbox if s.key == f"judge_import:{cid}"]  # nothing to import yet
    write_judge(run_dir, "judge-late", 12, prefers=human_choice)
    at.run()  # the same data version: the new judge in the run folder is offered all the same
    assert at.selectbox(key=f"judge_import:{cid}").options == ["judge-late"]
    at.button(key=f"judge_import_button:{cid}").click().run()
    assert not at.exception, at.exception
    assert any("12 verdicts of judge-late imported" in s.value.replace("\\", "") for s in at.success)
    assert "Judge judge-late" in "".join(m.value for m in at.markdown).replace("\\", "")
    assert at.selectbox(key=f"judge_import:{cid}").options == ["judge-late (imported: import again)"]
    stored = app_env.execute("SELECT count(*), any_value(imported_by) FROM judge_runs").fetchone()
    assert stored == (1, researcher.user_id)
