"""How well each automatic score tracks the experts' consistency judgments of SummEval, as G-Eval's Table 1
reports.

SummEval (Fabbri et al., 2021; `../shared/data/summeval`): 100 CNN/DailyMail articles, 16 system summaries
each, consistency rated 1-5 by three experts (their mean). Summary level, as G-Eval (Liu et al., 2023, Table
1) and UniEval report it: within each article, Spearman's rho and Kendall's tau (tau-b, scipy) between the
score and the experts across the 16 summaries, then the mean over articles (articles where either side is
constant are skipped and counted). Reference-based scores use the 11 references of each article (ROUGE: the
best one per summary, rouge_score's `score_multi`; BERTScore: bert_score's best reference).

Every score comes from `ft_core.metrics.score` with its defaults, except the likelihood variants, which are
computed from the same per-token log-probabilities (`ft_core.metrics.likelihood.token_logprobs`). Scores and
log-probabilities are cached in `--cache` (delete it after changing the code), so that a second run costs
seconds: the mean per token (the `likelihood` column), the sum, and the mean PMI (conditional minus
unconditional log-probability), each under three framings of the source: `plain` ("{source}\\n\\nSummary:"),
`instruction` ("Summarize the following news article.\\n\\n{source}\\n\\nSummary:") and `chat` (the
instruction in the model's chat template, the summary as the assistant's answer). Sources are cut to
`--max-source-tokens` tokens of the model's tokenizer (1024 keeps every article whole: the longest has 759).

    python bench/summeval.py                         # everything; the LM part takes ~1 h on 2 busy CPU cores
    python bench/summeval.py --skip-likelihood       # the lexical and BERTScore rows only (minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "summeval"
# G-Eval (Liu et al., 2023), Table 1, consistency: Spearman, Kendall.
G_EVAL = {
    "ROUGE-1": (0.160, 0.130),
    "ROUGE-2": (0.187, 0.155),
    "ROUGE-L": (0.115, 0.092),
    "BERTScore": (0.110, 0.090),
    "MoverScore": (0.157, 0.127),
    "BARTScore": (0.382, 0.315),
    "UniEval": (0.446, 0.371),
    "G-Eval-4": (0.507, 0.425),
}
FRAMINGS = {
    "plain": ("{source}\n\nSummary:", False),
    "instruction": ("Summarize the following news article.\n\n{source}\n\nSummary:", False),
    "chat": ("Summarize the following news article.\n\n{source}", True),
}


def load() -> tuple[list[dict], dict[str, dict]]:
    documents = {d["doc_id"]: d for d in map(json.loads, (DATA / "documents.jsonl").read_text().splitlines())}
    summaries = [json.loads(line) for line in (DATA / "summaries.jsonl").read_text().splitlines()]
    return summaries, documents


def summary_level(frame, score: str, human: str = "consistency") -> dict[str, float]:
    """Mean over articles of Spearman and Kendall (tau-b) across systems. Articles where the experts gave
    every summary the same score are skipped (no correlation exists); where only the score is constant (a
    count that is 0 for all 16 summaries), `rho`/`tau` skip the article too and `rho_zero`/`tau_zero` count
    it as 0."""
    import numpy as np
    from scipy import stats

    rhos, taus, constant_score, constant_human = [], [], 0, 0
    for _, group in frame.groupby("doc_id"):
        x, y = group[score].to_numpy(float), group[human].to_numpy(float)
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y = x[keep], y[keep]
        if len(x) < 3 or np.ptp(y) == 0:
            constant_human += 1
        elif np.ptp(x) == 0:
            constant_score += 1
        else:
            rhos.append(stats.spearmanr(x, y).statistic)
            taus.append(stats.kendalltau(x, y).statistic)
    articles = len(rhos) + constant_score
    return {
        "rho": float(np.mean(rhos)),
        "tau": float(np.mean(taus)),
        "rho_zero": float(np.sum(rhos) / articles),
        "tau_zero": float(np.sum(taus) / articles),
        "articles": len(rhos),
        "constant_score": constant_score,
        "constant_human": constant_human,
    }


def cached_logprobs(cache: Path, key: str, compute, rows: list[int] | None = None) -> list:
    """Per-token log-probabilities of every summary, computed once and kept in `cache/key.npz`; for a
    subset of the articles (`rows`: their summaries' positions among all 1,600), sliced from the full cache
    when it exists, else computed and kept under a key of its own."""
    import numpy as np

    full = cache / f"{key}.npz"
    if full.is_file():
        data = np.load(full)
        values = np.split(data["values"], data["offsets"][1:-1])
        return values if rows is None else [values[i] for i in rows]
    if rows is not None:
        key = f"{key}-summaries{len(rows)}"
    path = cache / f"{key}.npz"
    if path.is_file():
        data = np.load(path)
        return np.split(data["values"], data["offsets"][1:-1])
    started = time.perf_counter()
    values = compute()
    offsets = np.cumsum([0] + [len(v) for v in values])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, values=np.concatenate(values), offsets=offsets)
    print(f"  computed {key} in {time.perf_counter() - started:.0f} s (cached in {path})", flush=True)
    return values


def likelihood_columns(frame, sources, args, rows) -> dict[str, list[float]]:
    import numpy as np

    from ft_core.metrics import likelihood

    loaded = likelihood.load_scorer_model(args.model, args.device)
    outputs = frame["summary"].tolist()
    columns = {}
    for name, (prompt, chat) in FRAMINGS.items():
        if args.framings and name not in args.framings:
            continue
        tag = f"{args.model}-{name}-src{args.max_source_tokens}"

        def conditional(prompt=prompt, chat=chat):
            encoded = likelihood.encode(
                loaded.tokenizer, sources, outputs, prompt, args.max_source_tokens, chat
            )
            return likelihood.token_logprobs(loaded, encoded, args.batch_tokens)

        def unconditional(prompt=prompt, chat=chat):
            encoded = likelihood.encode(loaded.tokenizer, [""] * len(outputs), outputs, prompt, 0, chat)
            return likelihood.token_logprobs(loaded, encoded, args.batch_tokens)

        cond = cached_logprobs(args.cache, f"{tag}-conditional", conditional, rows)
        uncond = cached_logprobs(args.cache, f"{args.model}-{name}-unconditional", unconditional, rows)
        columns[f"likelihood mean ({name})"] = [float(np.mean(c)) for c in cond]
        columns[f"likelihood sum ({name})"] = [float(np.sum(c)) for c in cond]
        columns[f"likelihood PMI mean ({name})"] = [float(np.mean(c - u)) for c, u in zip(cond, uncond)]
    return columns


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--max-source-tokens", type=int, default=1024)
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/ft_core_summeval"))
    parser.add_argument("--framings", nargs="*", default=None, help=f"subset of {', '.join(FRAMINGS)}")
    parser.add_argument(
        "--articles", type=int, default=100, help="the first N articles only (all 16 summaries)"
    )
    parser.add_argument("--skip-likelihood", action="store_true")
    parser.add_argument("--skip-lexical", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()

    import pandas as pd
    import torch

    from ft_core import metrics

    if args.threads:
        torch.set_num_threads(args.threads)
    summaries, documents = load()
    frame = pd.DataFrame(summaries)
    subset = None
    if args.articles < frame.doc_id.nunique():
        keep = list(documents)[: args.articles]
        subset = [i for i, d in enumerate(frame.doc_id) if d in keep]
        frame = frame.iloc[subset].reset_index(drop=True)
    sources = [documents[d]["source"] for d in frame.doc_id]
    references = [documents[d]["references"] for d in frame.doc_id]
    columns: dict[str, list[float]] = {}
    if not args.skip_lexical:
        cached = args.cache / "scores.parquet"
        if cached.is_file():
            scored = pd.read_parquet(cached)
            scored = scored if subset is None else scored.iloc[subset].reset_index(drop=True)
        else:
            started = time.perf_counter()
            scored = metrics.score(
                frame.summary.tolist(),
                references,
                ["rouge", "bleu", "chrf", "bertscore", "novelty", "unsupported", "bertscore_source"],
                sources=sources,
            )
            print(f"lexical and BERTScore scores in {time.perf_counter() - started:.0f} s", flush=True)
            if subset is None:
                args.cache.mkdir(parents=True, exist_ok=True)
                scored.to_parquet(cached)
        named = {
            "ROUGE-1": "rouge1",
            "ROUGE-2": "rouge2",
            "ROUGE-L": "rougeL",
            "BLEU (sacreBLEU)": "sacrebleu",
            "chrF": "chrf",
            "chrF++": "chrfpp",
            "BERTScore F1 (MiniLM, vs references)": "bertscore_f1",
            "BERTScore precision vs source (MiniLM)": "bertscore_src_precision",
            "- novel 1-gram rate": "novel_1gram",
            "- novel 2-gram rate": "novel_2gram",
            "- novel 3-gram rate": "novel_3gram",
            "- novel 4-gram rate": "novel_4gram",
            "- unsupported numbers": "unsupported_numbers",
            "- unsupported entities": "unsupported_entities",
        }
        for label, column in named.items():
            sign = -1.0 if label.startswith("- ") else 1.0  # lower is better: correlate its negative
            columns[label] = (sign * scored[column].astype(float)).tolist()
    if not args.skip_likelihood:
        columns.update(likelihood_columns(frame, sources, args, subset))

    print(
        f"\nSummEval consistency, summary level (mean over articles of the correlation across 16 systems); "
        f"{len(frame)} summaries, {frame.doc_id.nunique()} articles; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'score':<44} {'Spearman':>9} {'Kendall':>8} {'articles':>8}   {'constant score = 0':>20}")
    for label, values in columns.items():
        frame["_score"] = values
        r = summary_level(frame, "_score")
        zero = f"{r['rho_zero']:.3f} / {r['tau_zero']:.3f}" if r["constant_score"] else ""
        print(f"{label:<44} {r['rho']:>9.3f} {r['tau']:>8.3f} {r['articles']:>8}   {zero:>20}")
    print(
        "(articles where the experts rated all 16 summaries alike are left out everywhere: "
        f"{r['constant_human']}; where a score is constant over an article's 16 summaries, the article is "
        "left out, or, in the last column, counted as a correlation of 0)"
    )
    print("\nG-Eval's Table 1 (consistency) for comparison:")
    for label, (rho, tau) in G_EVAL.items():
        print(f"{label:<44} {rho:>9.3f} {tau:>8.3f}")
    print("(rows marked '-' are scores where lower is better; their negative is correlated)")


if __name__ == "__main__":
    main()
