"""``--set KEY=VALUE``: one setting of a YAML config changed on the command line (run_pipeline.py,
python -m train), checked by the same typed configuration as the file."""

import subprocess
import sys

import pytest
import yaml

from reid.config import ConfigError, apply_overrides, load_config, overridden_source
from tests.conftest import CONFIG_DIR, REPOSITORY_ROOT

DEMO_CONFIG = CONFIG_DIR / "pipeline" / "demo.yaml"


def test_overrides_set_nested_keys_with_yaml_typed_values():
    values = {"detector": {"confidence": 0.4, "backend": "yolo"}, "output": {"videos": True}}
    result = apply_overrides(values, [
        "detector.confidence=0.3",
        "output.videos=false",
        "tracker.parameters.track_buffer=50",  # sections that are not there yet are created
        "association.transit_windows=[]",
        "detector.weights=models/other.pt",
        "detector.confidence=0.25",  # the later override of one key wins
        "output.directory=",  # an empty value unsets the key (YAML null)
    ])
    assert result is values
    assert values == {
        "detector": {"confidence": 0.25, "backend": "yolo", "weights": "models/other.pt"},
        "output": {"videos": False, "directory": None},
        "tracker": {"parameters": {"track_buffer": 50}},
        "association": {"transit_windows": []},
    }
    assert isinstance(values["tracker"]["parameters"]["track_buffer"], int)


def test_an_override_under_a_key_that_is_null_makes_it_a_section():
    assert apply_overrides({"demo": None}, ["demo.world.seed=3"]) == {"demo": {"world": {"seed": 3}}}


@pytest.mark.parametrize(
    "override, expected",
    [
        ("detector.confidence", "expected KEY=VALUE"),
        ("=0.3", "expected KEY=VALUE"),
        ("detector..confidence=0.3", "expected KEY=VALUE"),
        ("detector.confidence.low=0.1", "'detector.confidence' is a value (0.4), not a section"),
        ("detector.confidence=[0.3", "not valid YAML"),
    ],
)
def test_malformed_overrides_are_one_line_errors(override, expected):
    with pytest.raises(ConfigError) as caught:
        apply_overrides({"detector": {"confidence": 0.4}}, [override])
    message = str(caught.value)
    assert message.startswith(f"--set {override!r}: ") and expected in message, message
    assert "\n" not in message


def test_pipeline_config_with_overrides_changes_only_those_settings():
    from pipeline.config import load_pipeline_config

    plain = load_pipeline_config(DEMO_CONFIG)
    changed = load_pipeline_config(DEMO_CONFIG, ["detector.confidence=0.3", "tracker.parameters.max_age=50",
                                                 "association.distance=global"])
    assert plain.detector.confidence == 0.4 and changed.detector.confidence == 0.3
    assert changed.tracker.parameters["max_age"] == 50
    assert changed.association.distance == "foreground"  # the old name is read as everywhere else
    assert changed.tracker.parameters["use_embeddings"] is plain.tracker.parameters["use_embeddings"] is True
    assert (changed.detector.image_size, changed.extractor, changed.demo) == (
        plain.detector.image_size, plain.extractor, plain.demo)


def test_an_unknown_or_mistyped_override_is_named_with_the_file():
    from pipeline.config import load_pipeline_config

    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(DEMO_CONFIG, ["detector.confidense=0.3"])
    message = str(caught.value)
    assert message.startswith(f"{DEMO_CONFIG} with --set detector.confidense=0.3: unknown key 'detector.confidense'")
    with pytest.raises(ConfigError, match=r"key 'detector.image_size': Input should be a valid integer, got str"):
        load_pipeline_config(DEMO_CONFIG, ["detector.image_size=large"])


def test_model_config_overrides():
    path = CONFIG_DIR / "model" / "small_synthetic_corpus.yaml"
    plain = load_config(path)
    larger = load_config(path, ["input.height=256", "input.width=128", "model.output_stride=16"])
    assert (plain.input.height, plain.input.width, plain.model.output_stride) == (128, 64, 8)
    assert (larger.input.height, larger.input.width, larger.model.output_stride) == (256, 128, 16)
    assert larger.model.backbone == plain.model.backbone and larger.train == plain.train
    with pytest.raises(ConfigError, match="must divide model.embedding_dim"):
        load_config(path, ["model.ema_groups=7"])


def test_the_shipped_256x128_variant_is_its_base_config_with_the_settings_it_changes():
    """The variant file written out in full (configs/model/small_synthetic_finetune_256x128.yaml) and
    its base file with --set give the same configuration."""
    variant = load_config(CONFIG_DIR / "model" / "small_synthetic_finetune_256x128.yaml")
    base = CONFIG_DIR / "model" / "small_synthetic_finetune.yaml"
    assert variant != load_config(base)
    base_values = yaml.safe_load(base.read_text())
    variant_values = yaml.safe_load((CONFIG_DIR / "model" / "small_synthetic_finetune_256x128.yaml").read_text())
    differences = sorted(
        f"{section}.{key}={yaml.safe_dump(variant_values[section][key], default_flow_style=True).strip().removesuffix('...').strip()}"
        for section in variant_values
        for key in variant_values[section]
        if base_values.get(section, {}).get(key) != variant_values[section][key]
    )
    assert load_config(base, differences) == variant


def test_overridden_source_names_the_file_and_each_override():
    assert overridden_source("a.yaml", []) == "a.yaml"
    assert overridden_source("a.yaml", ["x.y=1", "z=2"]) == "a.yaml with --set x.y=1 --set z=2"


def _run(*arguments, cwd):
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("override", ["detector.confidense=0.3", "detector.confidence"])
def test_run_pipeline_bad_override_is_one_line_and_exit_code_2(tmp_path, override):
    output = tmp_path / "outputs"
    output.mkdir()
    (output / "kept.txt").write_text("earlier results")
    completed = _run(str(REPOSITORY_ROOT / "run_pipeline.py"), "--config", str(DEMO_CONFIG), "--set", override,
                     "--output", str(output), cwd=tmp_path)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "--set" in lines[0] and override.split("=")[0] in lines[0], completed.stderr
    assert (output / "kept.txt").read_text() == "earlier results"


def test_selfcheck_takes_overrides(tmp_path):
    completed = _run(str(REPOSITORY_ROOT / "run_pipeline.py"), "--selfcheck", "--config",
                     str(CONFIG_DIR / "model" / "small_synthetic.yaml"), "--set", "model.num_parts=5", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "self-check passed" in completed.stdout
    # K = 5 parts: 1 + K embeddings per crop (the shipped file has 8)
    assert "embeddings: (8, 6, 256)" in completed.stdout and "'feet')" in completed.stdout


def test_train_refuses_overrides_on_resume(tmp_path):
    completed = _run("-m", "train", "--data-root", str(tmp_path), "--output", str(tmp_path / "run"), "--resume",
                     "--set", "train.epochs=3", cwd=REPOSITORY_ROOT)
    assert completed.returncode == 2
    assert completed.stderr.strip() == "error: --set changes a new run's config; --resume continues with the run's own"


def test_association_benchmark_records_again_only_when_an_override_reaches_past_the_association():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "association_quality", REPOSITORY_ROOT / "benchmarks" / "association_quality.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    assert benchmark.recording_suffix([]) == ""
    assert benchmark.recording_suffix(["association.splitting.threshold=0.95", "association.ratio=0.8"]) == ""
    detector = benchmark.recording_suffix(["detector.confidence=0.3"])
    assert len(detector) == 11 and detector.startswith("_")
    assert benchmark.recording_suffix(["association.ratio=0.8", "detector.confidence=0.3"]) == detector
    assert benchmark.recording_suffix(["detector.confidence=0.25"]) != detector
