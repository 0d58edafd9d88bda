"""The job configs: YAML + --set overrides, type coercion, the nonsense they refuse, their field metadata,
and the one helper that parses every command line from them."""

import dataclasses
import re
import typing

import pytest

from ft_core.config import (
    DecodingSweepConfig,
    GenerateConfig,
    ScoreConfig,
    SweepConfig,
    TrainConfig,
    add_field_flags,
    all_field_specs,
    check_fields,
    cli_parser,
    config_from_cli,
    config_from_dict,
    config_to_args,
    field_groups,
    field_specs,
    load_config,
    option,
    parse_cli,
    parse_overrides,
)
from ft_core.errors import ConfigError


def test_yaml_and_overrides_are_coerced_to_field_types(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("learning_rate: 3e-4\nlora_r: 8\ntarget_modules: [q_proj, v_proj]\n")
    cfg = load_config(
        TrainConfig, path, ["lora_r=32", "epochs=3", "gradient_checkpointing=true", "validation_file=none"]
    )
    assert cfg.learning_rate == pytest.approx(3e-4)
    assert cfg.lora_r == 32 and isinstance(cfg.lora_r, int)
    assert cfg.epochs == 3.0 and isinstance(cfg.epochs, float)
    assert cfg.gradient_checkpointing is True
    assert cfg.validation_file is None
    assert cfg.target_modules == ["q_proj", "v_proj"]


def test_comma_list_override():
    cfg = load_config(TrainConfig, None, ["target_modules=q_proj,k_proj"])
    assert cfg.target_modules == ["q_proj", "k_proj"]


def test_unknown_field_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown TrainConfig field.*lr_rate.*learning_rate"):
        config_from_dict(TrainConfig, {"lr_rate": 1e-4})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"learning_rate": -1e-4}, "learning_rate must be in"),
        ({"learning_rate": 0}, "learning_rate must be in"),
        ({"lora_r": 0}, "lora_r must be positive"),
        ({"batch_size": -2}, "batch_size must be positive"),
        ({"lora_dropout": 1.5}, "lora_dropout"),
        ({"epochs": 0, "max_steps": 0}, "set epochs > 0 or max_steps > 0"),
        ({"lr_scheduler": "bogus"}, "lr_scheduler must be one of"),
        ({"task": "classification"}, "task must be one of"),
        ({"lora_r": "eight"}, "lora_r must be of type int"),
        ({"lora_r": 2.5}, "lora_r must be of type int"),
        ({"target_modules": []}, "target_modules is empty"),
        ({"early_stopping_patience": 2, "validation_file": None}, "needs a validation_file"),
    ],
)
def test_nonsense_is_refused_with_the_field_named(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(TrainConfig, values)


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["learning_rate"])


def test_missing_and_malformed_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(TrainConfig, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(TrainConfig, bad)


def test_every_field_has_help_and_a_group():
    groups = field_groups(TrainConfig)
    assert {"data", "model", "lora", "optimization", "validation", "hardware"} <= set(groups)
    for fields in groups.values():
        for f in fields:
            assert f.metadata.get("help"), f.name


# ------------------------------------------------------------------ every job config, one helper
JOB_CONFIGS = [TrainConfig, GenerateConfig, ScoreConfig, SweepConfig, DecodingSweepConfig]


@pytest.mark.parametrize("cls", JOB_CONFIGS, ids=lambda c: c.__name__)
def test_every_field_of_every_job_config_has_help_and_a_short_label(cls):
    specs = field_specs(cls)
    assert [s.name for s in specs] == [f.name for f in dataclasses.fields(cls)]
    specs = all_field_specs(cls)  # a decoding sweep's generate.* and score.* too
    for spec in specs:
        assert spec.help and spec.label and spec.label != spec.name, spec.name
        assert len(spec.label) <= 40 and isinstance(spec.advanced, bool), spec.name
    assert any(s.advanced for s in specs) or cls is SweepConfig
    labels = {s.name: s.label for s in field_specs(TrainConfig)}
    assert labels["max_target_length"] == "Max target length (tokens)"
    assert labels["train_file"] == "Training data file"


def test_configs_check_themselves_when_built_directly():
    # The same checks and coercion as through a file: no separate validate() to forget.
    with pytest.raises(ConfigError, match="lora_r must be positive"):
        TrainConfig(lora_r=0)
    with pytest.raises(ConfigError, match="lr_scheduler must be one of"):
        TrainConfig(lr_scheduler="bogus")
    with pytest.raises(ConfigError, match="give run_dir"):
        GenerateConfig()
    with pytest.raises(ConfigError, match="n_boot must be at least 100"):
        ScoreConfig(run_dir="r", n_boot=10)
    form = TrainConfig(learning_rate="1e-4", lora_r="8", target_modules="q_proj, v_proj", resume="false")
    assert form.learning_rate == 1e-4 and form.lora_r == 8 and form.resume is False
    assert form.target_modules == ["q_proj", "v_proj"]
    with pytest.raises(ConfigError, match="learning_rate must be in"):
        dataclasses.replace(form, learning_rate=2.0)  # a changed copy is checked again


def test_command_lines_are_parsed_from_the_dataclass(tmp_path):
    config = tmp_path / "gen.yaml"
    config.write_text("run_dir: from-file\nbatch_size: 8\nlimit: 5\n")
    cfg = parse_cli(
        GenerateConfig,
        [
            "--config",
            str(config),
            "--set",
            "limit=7",
            "--limit",
            "200",
            "--decodings",
            "greedy",
            "beam:num_beams=4,length_penalty=0.8",
            "--decodings",
            "sample",
            "--seeds",
            "0,1",
            "--seeds",
            "2",
            "--overwrite",
        ],
        "generate",
    )
    assert cfg.run_dir == "from-file" and cfg.batch_size == 8  # the file
    assert cfg.limit == 200  # file < --set < flag
    # several values per flag and repeated flags; a decoding setting keeps its commas, seeds split on them
    assert cfg.decodings == ["greedy", "beam:num_beams=4,length_penalty=0.8", "sample"]
    assert cfg.seeds == [0, 1, 2]
    assert cfg.overwrite is True
    assert (
        parse_cli(GenerateConfig, ["--run-dir", "r", "--overwrite", "false"], "generate").overwrite is False
    )
    score = parse_cli(ScoreConfig, ["--run-dir", "r", "--metrics", "bleu,rouge", "--n-boot", "200"], "score")
    assert score.metrics == ["bleu", "rouge"] and score.n_boot == 200
    parser = cli_parser(TrainConfig, "sweep train", field_flags=False)
    add_field_flags(parser, SweepConfig)
    args = parser.parse_args(["--set", "lora_alpha=8", "--lr", "3e-5,1e-4", "--r", "8,16", "--alpha-per-r"])
    assert config_from_cli(TrainConfig, args).lora_alpha == 8
    grid = config_from_cli(SweepConfig, args, from_file=False)
    assert grid == SweepConfig(learning_rates=[3e-5, 1e-4], lora_ranks=[8, 16], alpha_per_r=True)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "--run-dir", "r", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
        (["generate", "--run-dir", "r", "--limit", "many"], "limit must be of type int, got 'many'"),
        (["score", "--run-dir", "r", "--multi-ref", "median"], "multi_ref must be one of max, mean"),
        (["train", "--set", "lora_r"], "--set expects key=value"),
        (["sweep", "train", "--r", "8", "--grid", "lora_rank=8"], "unknown field 'lora_rank' in the sweep"),
    ],
)
def test_bad_command_lines_fail_in_one_line(capsys, argv, message):
    from ft_core.__main__ import main

    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_binary_or_non_utf8_config_files_are_one_line_errors(tmp_path, capsys):
    from ft_core.__main__ import main

    binary = tmp_path / "weights.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("prompt_template: Résumé {source}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not a text file \(it holds binary data\)"):
        load_config(TrainConfig, binary)
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(TrainConfig, latin)
    for path in (binary, latin):
        assert main(["train", "--config", str(path), "--check"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {path}") and len(err.splitlines()) == 1


def test_a_dataclass_defined_elsewhere_uses_the_same_helper():
    class ItsError(Exception):
        pass

    @dataclasses.dataclass
    class Elsewhere:
        """A config of another package."""

        name: str = option(help="what it is called", label="Name")
        k: int = option(3, help="judgments per item", label="Judgments per item", advanced=True)
        tags: list[str] = option([], help="free labels", label="Tags")

        def __post_init__(self):
            check_fields(self, ItsError)
            if self.k < 1:
                raise ItsError(f"k must be >= 1, got {self.k}")

    cfg = parse_cli(Elsewhere, ["--name", "pilot", "--k", "5", "--tags", "a,b"], "elsewhere")
    assert cfg == Elsewhere(name="pilot", k=5, tags=["a", "b"])
    assert Elsewhere(name="x", k="2").k == 2
    with pytest.raises(ItsError, match="k must be of type int"):
        Elsewhere(name="x", k="two")
    with pytest.raises(ConfigError, match="Elsewhere needs name"):
        config_from_dict(Elsewhere, {})
    assert [s.label for s in field_specs(Elsewhere)] == ["Name", "Judgments per item", "Tags"]


def test_config_module_imports_neither_torch_nor_transformers():
    import subprocess
    import sys

    code = (
        "import sys, ft_core.config, ft_core.runfolder; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readmes_command_lines_parse(tmp_path, capsys):
    from ft_core.__main__ import main

    missing = tmp_path / "r16"
    # README: generate --run-dir runs/r16 --limit 200 --decodings greedy "beam:num_beams=4" --seeds 0
    argv = [
        "--run-dir",
        str(missing),
        "--limit",
        "200",
        "--decodings",
        "greedy",
        "beam:num_beams=4",
        "--seeds",
        "0",
    ]
    cfg = parse_cli(GenerateConfig, argv, "generate")
    assert (cfg.limit, cfg.decodings, cfg.seeds) == (200, ["greedy", "beam:num_beams=4"], [0])
    assert main(["generate", *argv]) == 1  # parsed; the job then refuses the missing run folder
    assert capsys.readouterr().err.strip() == f"error: run folder {missing} does not exist"
    # README: sweep decoding --run-dir runs/r16 --decodings "beam:num_beams=2|4,length_penalty=0.8|1.2"
    sweep = parse_cli(
        DecodingSweepConfig,
        ["--run-dir", str(missing), "--decodings", "beam:num_beams=2|4,length_penalty=0.8|1.2"],
        "sweep decoding",
    )
    assert sweep.generate.decodings == ["beam:num_beams=2|4,length_penalty=0.8|1.2"]
    # README: score --run-dir runs/r16
    assert parse_cli(ScoreConfig, ["--run-dir", str(missing)], "score").run_dir == str(missing)


def test_a_config_written_as_a_command_line_reads_back_the_same():
    """config_to_args is parse_cli's inverse: flags where a flag can say the value, --set JSON where not."""
    generate = GenerateConfig(run_dir="runs/a", limit=20)
    assert config_to_args(generate) == ["--run-dir", "runs/a", "--limit", "20"]  # defaults are left out
    assert config_to_args(ScoreConfig(run_dir="runs/a", metrics=["bleu", "rouge"])) == [
        "--run-dir",
        "runs/a",
        "--metrics",
        "bleu,rouge",
    ]
    assert config_to_args(SweepConfig(learning_rates=[3e-5, 1e-4], lora_ranks=[8, 16])) == [
        "--lr",
        "3e-05,0.0001",
        "--r",
        "8,16",
    ]
    awkward = [
        GenerateConfig(
            run_dir="true",  # YAML would read a boolean
            decodings=["beam:num_beams=4,length_penalty=0.8", "greedy"],  # items hold commas
            prompt_template="Summarize:\n\n{source}, briefly: 'now'",  # newlines, quotes, a colon
            seeds=[0, 1, 2],
            max_new_tokens=None,
        ),
        ScoreConfig(run_dir="r", decodings=[], system_a="finetuned", system_b="base", confidence=0.9),
        TrainConfig(validation_file=None, learning_rate=1.2345678901234e-4, resume=True, run_dir="runs/x y"),
        SweepConfig(learning_rates=[0.1], lora_ranks=[4], alpha_per_r=True),
    ]
    for cfg in awkward:
        assert parse_cli(type(cfg), config_to_args(cfg), "test") == cfg, config_to_args(cfg)
    assert 'run_dir="true"' in config_to_args(awkward[0])  # as a flag word, YAML would read True


# ------------------------------------------------------------------ a config made of configs: the decoding
# sweep
def test_a_decoding_sweep_is_a_generate_and_a_score_config_with_the_old_defaults():
    sweep = DecodingSweepConfig(generate={"run_dir": "runs/a", "device": "cpu"})
    assert isinstance(sweep.generate, GenerateConfig) and isinstance(sweep.score, ScoreConfig)
    assert sweep.generate.decodings == [
        "greedy",
        "beam:num_beams=4",
        "beam:num_beams=4,no_repeat_ngram_size=3",
        "sample",
    ]
    # scoring reads what the generation wrote, on its device, with the sweep's metrics; every decoding in the
    # folder
    assert (sweep.score.run_dir, sweep.score.device, sweep.score.decodings) == ("runs/a", "cpu", [])
    assert sweep.score.metrics == ["bleu", "rouge", "bertscore"]
    assert (
        DecodingSweepConfig(generate={"run_dir": "runs/a", "output_dir": "elsewhere"}).score.run_dir
        == "elsewhere"
    )
    specs = {s.name: s for s in all_field_specs(DecodingSweepConfig)}
    assert specs["score.confidence"].default == 0.95 and specs["score.confidence"].label == "Confidence level"
    assert (
        specs["generate.decodings"].default == sweep.generate.decodings
    )  # the sweep's default, not generate's
    assert specs["score.metrics"].default == ["bleu", "rouge", "bertscore"]
    assert specs["primary_metric"].default == "rougeL"


@pytest.mark.parametrize(
    "keys",
    [
        {"confidence": 0.9, "n_boot": 200},  # as before the nesting: plain keys
        {"score.confidence": 0.9, "score.n_boot": 200},
        {"score": {"confidence": 0.9, "n_boot": 200}},
    ],
    ids=["plain", "dotted", "nested"],
)
def test_a_sweeps_scoring_keys_are_accepted_plain_dotted_or_nested(tmp_path, keys):
    import yaml

    file = tmp_path / "sweep.yaml"
    file.write_text(yaml.safe_dump({"run_dir": "runs/a", **keys}))
    from_file = load_config(DecodingSweepConfig, file)
    assert (from_file.score.confidence, from_file.score.n_boot) == (0.9, 200)
    assert from_file.generate.run_dir == "runs/a"
    overrides = [f"{k}={v}" for k, v in keys.items() if not isinstance(v, dict)]
    if overrides:
        assert (
            parse_cli(
                DecodingSweepConfig,
                ["--run-dir", "runs/a", *[w for o in overrides for w in ("--set", o)]],
                "s",
            )
            == from_file
        )
    flags = parse_cli(
        DecodingSweepConfig, ["--run-dir", "runs/a", "--confidence", "0.9", "--n-boot", "200"], "s"
    )
    assert flags == from_file
    # a name both jobs have is the generation's; the scoring one has its own flag
    both = parse_cli(
        DecodingSweepConfig, ["--run-dir", "r", "--device", "cpu", "--score-device", "cuda"], "s"
    )
    assert (both.generate.device, both.score.device) == ("cpu", "cuda")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--confidence", "1.5"], "confidence must be in (0, 1), got 1.5"),
        (["--n-boot", "5"], "n_boot must be at least 100"),
        (["--set", "score.confidence=0"], "confidence must be in (0, 1), got 0.0"),
        (["--set", "score.bogus=1"], "unknown ScoreConfig field: bogus"),
        (["--set", "bogus=1"], "unknown DecodingSweepConfig field: bogus"),
        (["--multi-ref", "median"], "multi_ref must be one of max, mean"),
    ],
)
def test_a_sweep_with_bad_scoring_options_fails_before_any_model_loads(tmp_path, capsys, argv, message):
    """The run folder does not exist: had the sweep started generating, the error would name it instead."""
    from ft_core.__main__ import main

    missing = tmp_path / "no-such-run"
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_cli(DecodingSweepConfig, ["--run-dir", str(missing), *argv], "sweep decoding")
    assert main(["sweep", "decoding", "--run-dir", str(missing), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not missing.exists()


def test_configs_refuse_bad_values_on_construction_as_value_errors():
    with pytest.raises(ValueError, match="confidence must be in"):
        DecodingSweepConfig(generate={"run_dir": "r"}, score={"confidence": 2})
    with pytest.raises(ValueError, match="n_boot must be at least 100"):
        DecodingSweepConfig(generate=GenerateConfig(run_dir="r"), score={"n_boot": 10})
    with pytest.raises(ValueError, match="give run_dir"):
        DecodingSweepConfig()
    with pytest.raises(ValueError, match="score must be a ScoreConfig"):
        DecodingSweepConfig(generate={"run_dir": "r"}, score=3)


def test_a_sweep_written_as_a_command_line_reads_back_the_same():
    sweep = DecodingSweepConfig(
        generate=GenerateConfig(
            run_dir="runs/a", decodings=["greedy", "beam:num_beams=4,length_penalty=0.8"]
        ),
        score=ScoreConfig(run_dir="runs/a", metrics=["bleu"], confidence=0.9, decodings=[], device="cpu"),
        primary_metric="bleu",
    )
    assert parse_cli(DecodingSweepConfig, config_to_args(sweep), "sweep decoding") == sweep


# ------------------------------------------------------------------ ranges declared on the fields
BUILDABLE = {
    TrainConfig: {},
    GenerateConfig: {"run_dir": "r"},
    ScoreConfig: {"run_dir": "r"},
    SweepConfig: {"learning_rates": [1e-4], "lora_ranks": [8]},
}


@pytest.mark.parametrize("cls", list(BUILDABLE), ids=lambda c: c.__name__)
def test_every_declared_range_is_enforced_on_construction(cls):
    """Each field's range (what the configuration reference shows) is what construction refuses: a value just
    outside it fails with one line naming the field, its default passes."""
    ranged = [s for s in field_specs(cls) if s.range is not None]
    assert ranged
    for spec in ranged:
        r = spec.range
        outside = (
            r.low - (0 if r.low_open else 1) if r.low is not None else r.high + (0 if r.high_open else 1)
        )
        is_list = typing.get_origin(spec.annotation) is list
        with pytest.raises(ValueError, match=rf"^{re.escape(spec.name)}.* must be [^\n]*, got {outside}"):
            cls(**{**BUILDABLE[cls], spec.name: [outside] if is_list else outside})
        cls(**BUILDABLE[cls])  # the defaults are in range


def test_ranges_read_as_intervals():
    specs = {s.name: s for s in all_field_specs(DecodingSweepConfig)} | {
        s.name: s for s in field_specs(TrainConfig)
    }
    shown = {
        name: str(specs[name].range)
        for name in ("learning_rate", "lora_dropout", "lora_r", "score.n_boot", "generate.top_p")
    }
    assert shown == {
        "learning_rate": "(0, 1)",
        "lora_dropout": "[0, 1)",
        "lora_r": "> 0",
        "score.n_boot": ">= 100",
        "generate.top_p": "(0, 1]",
    }
    assert specs["seed"].range is None
    with pytest.raises(ConfigError, match=r"^top_p must be in \(0, 1\], got 1.5$"):
        GenerateConfig(run_dir="r", top_p=1.5)
    with pytest.raises(ConfigError, match=r"^learning_rates \(--lr\) must be in \(0, 1\), got 2.0$"):
        SweepConfig(learning_rates=[1e-4, 2], lora_ranks=[8])
