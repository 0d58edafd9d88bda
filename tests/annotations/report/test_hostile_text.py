"""Text typed by annotators and researchers reaches the export and the slides as text: no CSV cell opens as
a spreadsheet formula (OWASP, "CSV Injection"), no Markdown in report.md or deck.md turns a campaign name,
an output, a source or an annotator id into an image, a link or HTML, and Parquet and JSONL keep every
string exactly. The store is filled through the real campaign, assignment and submit path."""

import csv
import io
import zipfile
from datetime import timedelta

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from annotations import store
from annotations.campaigns import CampaignConfig, create_campaign
from annotations.judging import assignment, judgments
from annotations.report import export_bytes, load_campaign, load_export, render_markdown, write_export
from annotations.report.render import markdown_inline, markdown_text
from annotations.report.slides import write_slides
from annotations.stats.analysis import AnalysisOptions, analyze
from ft_core import runfolder

# what OWASP's rule is about: a cell that starts with = + - @, a tab or a carriage return runs as a formula
FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
    "+SUM(1)",
    "@SUM(1)",
    "-2+3",
    "\t=1",
    "\r=1",
]
IMAGE = "![x](http://evil/x.png)"
HTML_IMAGE = '<img src="http://evil/y.png">'
NAME = f"{FORMULAS[0]} {IMAGE}"
HOSTILE_ANNOTATOR = "ann-<img src=http://evil/z.png>"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A campaign whose name, outputs, sources and comments are hostile, judged by four annotators (one with a
    hostile id); its export and its slides."""
    folder = tmp_path_factory.mktemp("hostile")
    rows = []
    for i in range(8):
        source = f"{IMAGE} source {i}"
        rows.append(
            {"item_id": f"i{i}", "system": "base", "output": f"{HTML_IMAGE} base {i}", "source": source}
        )
        rows.append(
            {"item_id": f"i{i}", "system": "finetuned", "output": f"{FORMULAS[i % 7]}", "source": source}
        )
    pd.DataFrame(rows).to_csv(folder / "outputs.csv", index=False)
    con = store.connect(folder / "store.duckdb")
    cid = create_campaign(con, CampaignConfig(name=NAME, source_file=str(folder / "outputs.csv"), k=3))
    now = store.utcnow()
    comments = iter(FORMULAS * 10)
    for annotator in ("ann-1", "ann-2", HOSTILE_ANNOTATOR):
        while (pair := assignment.next_item(con, cid, annotator, now=now)) is not None:
            now += timedelta(seconds=20)
            scores = {c.name: {"A": 4, "B": 2} for c in pair.criteria}
            judgments.submit(con, pair.token, annotator, "A", scores, next(comments), now=now)
    data = load_campaign(con, cid)
    a = analyze(data.judgments, data.scores, data.metrics, AnalysisOptions(n_boot=50), cid)
    write_export(data, a, folder / "export")
    write_slides(con, data, a, folder / "slides")
    zipped = export_bytes(data, a)
    con.close()
    return folder, data, zipped


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def cells(path_or_text) -> list[str]:
    text = path_or_text if isinstance(path_or_text, str) else path_or_text.read_bytes().decode()  # CR kept
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def test_no_csv_cell_of_the_export_starts_a_formula(exported):
    folder, data, zipped = exported
    files = sorted((folder / "export").glob("*.csv"))
    assert len(files) >= 10
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:  # the results page's download: the same files
        in_zip = {
            name.rsplit("/", 1)[1]: archive.read(name).decode()
            for name in archive.namelist()
            if name.endswith(".csv")
        }
    for file in files:
        for cell in cells(file) + cells(in_zip[file.name]):
            # a number such as -0.29 in a numeric column stays a number: it runs nothing
            assert is_number(cell) or not cell.startswith(tuple(runfolder.FORMULA_STARTS)), (file.name, cell)
    comments = [c for c in cells(folder / "export" / "judgments.csv") if c.startswith("'")]
    assert set(comments) == {"'" + f for f in FORMULAS}
    assert len(comments) == len(data.judgments)


def test_parquet_jsonl_and_the_csv_read_back_keep_every_comment_exactly(exported):
    folder, data, _ = exported
    expected = list(data.judgments["comment"])
    assert set(expected) == set(FORMULAS)
    parquet = pd.read_parquet(folder / "export" / "judgments.parquet")
    jsonl = pd.read_json(folder / "export" / "judgments.jsonl", lines=True)
    assert list(parquet["comment"]) == expected and list(jsonl["comment"]) == expected
    assert HOSTILE_ANNOTATOR in set(parquet["annotator_id"])
    for fmt in ("parquet", "csv", "jsonl"):
        loaded = load_export(folder / "export", fmt)
        assert list(loaded.judgments["comment"]) == expected, fmt
        assert set(loaded.judgments["annotator_id"]) == set(data.judgments["annotator_id"]), fmt


def test_numbers_stay_numbers_and_only_text_gets_the_quote(tmp_path):
    """A numeric column keeps -0.5 as the number -0.5 (a spreadsheet reads it as a number, and it runs
    nothing); the same characters in a text column are text and get the quote. Text cells are in double
    quotes, so a CR inside a comment never starts a row. A text that already starts with ' gets a second
    one, so reading back is exact."""
    frame = pd.DataFrame(
        {
            "delta": [-0.5, 0.25, -2.0],
            "count": [-1, 2, 3],
            "note": ["-0.5", "'=already quoted", "plain"],
            "=header": ["x", None, "@y"],
        }
    )
    runfolder.write_csv(frame, tmp_path / "f.csv")
    text = (tmp_path / "f.csv").read_text()
    assert text.splitlines()[0] == '"delta","count","note","\'=header"'
    assert text.splitlines()[1] == '-0.5,-1,"\'-0.5","x"'  # numbers bare, text quoted and guarded
    assert "\"''=already quoted\"" in text and '"\'@y"' in text
    runfolder.write_csv(pd.DataFrame({"comment": ["ok\r=1+1", "x;=1"]}), tmp_path / "cr.csv")
    assert (tmp_path / "cr.csv").read_bytes() == b'"comment"\n"ok\r=1+1"\n"x;=1"\n'
    back = runfolder.read_csv(tmp_path / "f.csv")
    assert back["delta"].dtype.kind == "f" and back["count"].dtype.kind == "i"
    pd.testing.assert_frame_equal(back, frame)


@pytest.mark.parametrize("text", FORMULAS)
def test_each_formula_gets_one_leading_quote(text):
    assert runfolder.spreadsheet_text(text) == "'" + text
    assert runfolder.plain_text(runfolder.spreadsheet_text(text)) == text
    assert runfolder.spreadsheet_text("a " + text) == "a " + text  # only the start of a cell matters
    assert runfolder.spreadsheet_text(-0.5) == -0.5


# ------------------------------------------------------------------------------------------------ Markdown

RENDERER = MarkdownIt("commonmark", {"html": True}).enable("table")  # raw HTML on: the most a renderer allows


def rendered_tags(markdown: str) -> tuple[list[str], list[str], str]:
    """(the image sources, the link targets, the raw HTML) a CommonMark renderer makes of `markdown`."""
    images, links, raw = [], [], []

    def walk(tokens):
        for t in tokens:
            if t.type == "image":
                images.append(t.attrGet("src"))
            elif t.type == "link_open":
                links.append(t.attrGet("href"))
            elif t.type in ("html_inline", "html_block"):
                raw.append(t.content)
            walk(t.children or [])

    walk(RENDERER.parse(markdown))
    return images, links, "".join(raw)


def test_report_md_shows_a_hostile_campaign_name_as_text(exported):
    folder, _, _ = exported
    md = (folder / "export" / "report.md").read_text()
    images, links, raw = rendered_tags(md)
    assert images == ["loss_curve.svg"] or images == []  # only the report's own chart
    assert links == [] and raw == ""
    html = RENDERER.render(md)
    assert "![x](http://evil/x.png)" in html  # the name is shown, as its characters
    assert "ann-&lt;img src=http://evil/z.png&gt;" in html  # the annotators table


def test_deck_md_shows_hostile_names_outputs_and_sources_as_text(exported):
    folder, _, _ = exported
    md = (folder / "slides" / "deck.md").read_text()
    images, links, raw = rendered_tags(md)
    assert images and all(src.startswith("charts/") and src.endswith(".png") for src in images)
    assert links == [] and raw == ""
    html = RENDERER.render(md)
    assert "![x](http://evil/x.png)" in html  # the title and the example's source
    assert "&lt;img src=&quot;http://evil/y.png&quot;&gt; base" in html  # an example's output
    assert "evil" not in "".join(images + links)
    # one `---` closes the front matter and one opens each slide: no text made a slide or a heading of its own
    assert md.count("\n---\n") == 1 + len([line for line in md.splitlines() if line.startswith("#")])


@pytest.mark.parametrize(
    "text",
    [
        IMAGE,
        HTML_IMAGE,
        "[click](javascript:alert(1))",
        "<http://evil/a>",
        "http://evil/b",
        "www.evil.com",
        "<!-- _class: lead -->",
        "# heading\n---\n- item",
        "1. first",
        "[x]: http://evil/ref",
        "**bold** `code <b>` _em_ ~~del~~ $x$ | cell |",
        "&lt;img src=x&gt;",
    ],
)
def test_any_user_string_renders_as_exactly_its_characters(text):
    """markdown_text: the rendered paragraph is the text itself (newlines become spaces); markdown_inline
    keeps only `**` and backticks as formatting, as the HTML report does, and still makes no link, image or
    HTML."""
    from html import escape

    one_line = " ".join(text.split("\n"))
    for line in (markdown_text(text), "- " + markdown_text(text), markdown_text(text, line_start=False)):
        if line.startswith("- ") or not line.startswith(("- ", "1")):
            images, links, raw = rendered_tags(line)
            assert images == [] and links == [] and raw == "", line
    body = RENDERER.render(markdown_text(text)).strip()
    assert body == f"<p>{escape(one_line, quote=True)}</p>".replace("&#x27;", "'")
    images, links, raw = rendered_tags("- " + markdown_inline(text))
    assert images == [] and links == [] and raw == ""


def test_the_report_keeps_its_own_bold_and_code():
    md = render_markdown([("h1", "Report"), ("p", "Humans preferred **finetuned**; design `d-1` <b>")])
    assert "Humans preferred **finetuned**; design `d-1` &lt;b&gt;" in md


def test_tables_on_pages_offer_no_unguarded_csv_download():
    """The grid's own "Download as CSV" (Streamlit's frontend) writes cells as they are, formulas included:
    the app turns it off (`client.disableDataExport`, sent to every browser session), so the export is the
    CSV."""
    import tomllib
    from pathlib import Path

    from streamlit import config

    settings = tomllib.loads((Path(__file__).parents[3] / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["disableDataExport"] is True
    config.get_option("client.disableDataExport")  # an option this Streamlit knows (raises otherwise)
