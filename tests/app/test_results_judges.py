"""The Results page's judge cards (pages/results_judges.py) with AppTest on a real store: a judge that follows the
annotators and one that flips a coin, imported from the run folder; and the annotate page, after the import, shows
nothing of either."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.judge_verdicts import write_judge
from helpers.login_as import login_as
from helpers.small_campaigns import fill_decided

from annotations.campaigns import import_judge

N_ITEMS = 24


def human_choice(i: int) -> str:
    return "base" if i % 3 == 0 else "finetuned"


@pytest.fixture
def judged(app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-2", n_items=N_ITEMS)
    cid = fill_decided(app_env, run_dir, k=3, decide=lambda item, annotator: human_choice(int(item[-3:])))
    write_judge(run_dir, "judge-follows", N_ITEMS, prefers=human_choice,
                p_finetuned=lambda i: 0.1 if human_choice(i) == "base" else 0.9)  # fmt: skip
    coin = np.random.default_rng(1).random(N_ITEMS) < 0.5
    write_judge(run_dir, "judge-coin", N_ITEMS, prefers=lambda i: "finetuned" if coin[i] else "base",
                consistent=lambda i: i % 2 == 0, p_finetuned=lambda i: 0.5)  # fmt: skip
    for name in ("judge-follows", "judge-coin"):
        import_judge(app_env, cid, name)
    return cid


def test_results_show_one_card_per_judge_and_call_the_weak_one_weak(open_page, researcher, judged):
    at = open_page("results")
    login_as(at, researcher)
    at.run()
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


def test_results_without_a_judge_say_how_to_add_one(open_page, researcher, app_env, tmp_path, run_writer):
    run_dir = run_writer(tmp_path / "runs" / "run-3", n_items=8)
    cid = fill_decided(app_env, run_dir)
    at = open_page("results")
    login_as(at, researcher)
    at.run()
    assert not at.exception, at.exception
    assert any(f"import-judge --campaign {cid}" in c.value for c in at.caption)


def _all_protos(node) -> list[str]:
    found = [str(node.proto)] if getattr(node, "proto", None) is not None else []
    for child in (getattr(node, "children", None) or {}).values():
        found.extend(_all_protos(child))
    return found


def test_the_annotate_page_shows_nothing_of_a_judge(open_page, annotator, judged):
    at = open_page("annotate")
    login_as(at, annotator)
    at.run()
    assert not at.exception, at.exception
    assert any(b.key and b.key.startswith("choose::") for b in at.button)  # a pair is shown
    rendered = "\n".join(_all_protos(at._tree)).lower() + repr(at.session_state.to_dict()).lower()
    for trace in ("judge-follows", "judge-coin", "verdict", "p_b_better", "order flip", "llm judge"):
        assert trace not in rendered, trace


def test_a_judge_in_the_run_folder_is_imported_from_the_page_and_its_card_shows(
    open_page, researcher, app_env, tmp_path, run_writer
):
    run_dir = run_writer(tmp_path / "runs" / "run-4", n_items=12)
    cid = fill_decided(app_env, run_dir, decide=lambda item, annotator: human_choice(int(item[-3:])))
    at = open_page("results")
    login_as(at, researcher)
    at.run()
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
