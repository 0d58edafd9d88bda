"""TrainConfig: YAML + --set overrides, type coercion, and the nonsense it refuses."""

import pytest

from ft_core.config import TrainConfig, config_from_dict, field_groups, load_config, parse_overrides
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
