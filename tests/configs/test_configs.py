import re
import tomllib
import inspect
from dataclasses import MISSING, fields
from typing import get_args

import pytest

from analysis.engine import EngineParams
from analysis.events import EVENT_METHODS
from configs import DEFAULT_TOML, AnalysisSettings, SettingsError, load_settings


def test_defaults_resolve_under_data_dir(tmp_path):
    settings = load_settings({"GAITLAKE_DATA_DIR": str(tmp_path)})
    assert settings.storage_url == (tmp_path / "store").as_uri()
    assert settings.catalog_url == f"sqlite:///{tmp_path / 'catalog.db'}"
    assert settings.prefect_home == tmp_path / "prefect"


@pytest.mark.parametrize(
    "env, path, expected",
    [
        ({"GAITLAKE_POSE__IMGSZ": "480"}, ("pose", "imgsz"), 480),
        ({"GAITLAKE_POSE__HALF": "true"}, ("pose", "half"), True),
        ({"GAITLAKE_RAY__NUM_GPUS_PER_ACTOR": "0.25"}, ("ray", "num_gpus_per_actor"), 0.25),
        ({"GAITLAKE_STORAGE__URL": "s3://bucket/x"}, ("storage", "url"), "s3://bucket/x"),
        ({"GAITLAKE_LLM__TIMEOUT_S": "2.5"}, ("llm", "timeout_s"), 2.5),
        ({"GAITLAKE_API__LINK_TTL_S": "60"}, ("api", "link_ttl_s"), 60),
        ({"GAITLAKE_RENDER__ENABLED": "false"}, ("render", "enabled"), False),
    ],
)
def test_environment_overrides(env, path, expected):
    settings = load_settings(env)
    assert getattr(getattr(settings, path[0]), path[1]) == expected


@pytest.mark.parametrize(
    "env, named",
    [({"GAITLAKE_POSE__NOPE": "1"}, "pose.nope"), ({"GAITLAKE_NOSECTION__X": "1"}, "nosection"),
     ({"GAITLAKE_POSE__IMGSZ": "big"}, "pose.imgsz"), ({"GAITLAKE_POSE__HALF": "maybe"}, "GAITLAKE_POSE__HALF"),
     ({"GAITLAKE_ANALYSIS__MODE": "treadmil"}, "analysis.mode"),
     ({"GAITLAKE_ANALYSIS__LOWPASS_HZ": "-1"}, "analysis.lowpass_hz"),
     ({"GAITLAKE_POSE__DEVICE": "gpu"}, "pose.device"), ({"GAITLAKE_POSE__DEVICE": "cuda:x"}, "pose.device"),
     ({"GAITLAKE_POSE__BACKEND": "ultralytic"}, "pose.backend")],
)
def test_bad_overrides_are_refused_with_the_key_named(env, named):
    with pytest.raises(SettingsError, match=re.escape(named)):
        load_settings(env)


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_pose_devices(device):
    assert load_settings({"GAITLAKE_POSE__DEVICE": device}).pose.device == device


def test_analysis_hash_ignores_device_but_not_model():
    base = load_settings({})
    assert load_settings({"GAITLAKE_POSE__DEVICE": "cuda:0"}).analysis_hash() == base.analysis_hash()
    assert load_settings({"GAITLAKE_POSE__IMGSZ": "320"}).analysis_hash() != base.analysis_hash()


def test_engine_params_come_from_analysis_settings_with_the_engine_defaults():
    """default.toml's [analysis] is the only place the engine's defaults live: ``EngineParams``
    declares none (a default repeated there would be a second value to keep equal), and every
    key of [analysis] but the profile's ``mode`` reaches it."""
    assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(EngineParams))
    from analysis import geometry
    assert inspect.signature(geometry.pixels_per_metre).parameters["default_height_m"].default is inspect.Parameter.empty
    defaults = load_settings({}).analysis
    assert defaults.engine_params() == EngineParams(min_keypoint_conf=defaults.min_keypoint_conf,
                                                    lowpass_hz=defaults.lowpass_hz, max_gap_s=defaults.max_gap_s,
                                                    default_height_m=defaults.default_height_cm / 100,
                                                    event_method=defaults.event_method)
    assert set(AnalysisSettings.model_fields) - {"mode"} == {
        "default_height_cm" if f.name == "default_height_m" else f.name for f in fields(EngineParams)}
    params = load_settings({"GAITLAKE_ANALYSIS__MIN_KEYPOINT_CONF": "0.35", "GAITLAKE_ANALYSIS__LOWPASS_HZ": "6",
                            "GAITLAKE_ANALYSIS__MAX_GAP_S": "0.2",
                            "GAITLAKE_ANALYSIS__DEFAULT_HEIGHT_CM": "180"}).analysis.engine_params()
    assert params == EngineParams(min_keypoint_conf=0.35, lowpass_hz=6.0, max_gap_s=0.2, default_height_m=1.8,
                                  event_method=defaults.event_method)
    assert load_settings({"GAITLAKE_ANALYSIS__EVENT_METHOD": "zeni"}).analysis.engine_params().event_method == "zeni"
    with pytest.raises(SettingsError, match="analysis.event_method"):
        load_settings({"GAITLAKE_ANALYSIS__EVENT_METHOD": "magic"})
    method = AnalysisSettings.model_fields["event_method"].annotation
    assert get_args(method) == EVENT_METHODS


def test_every_analysis_key_is_read_by_the_engine_and_hashed():
    """No setting in [analysis] that nothing reads: each is an EngineParams field (or the profile's mode)
    and changes config_hash."""
    keys = set(tomllib.loads(DEFAULT_TOML.read_text())["analysis"])
    engine = {f.name for f in fields(EngineParams)} - {"default_height_m"} | {"default_height_cm"}
    assert keys == engine | {"mode"}
    base = load_settings({}).analysis_hash()
    changed = {"min_keypoint_conf": "0.3", "lowpass_hz": "6", "max_gap_s": "0.2", "default_height_cm": "180",
               "event_method": "zeni", "mode": "treadmill"}
    assert set(changed) == keys
    for key, value in changed.items():
        assert load_settings({f"GAITLAKE_ANALYSIS__{key.upper()}": value}).analysis_hash() != base, key


@pytest.mark.parametrize("name, device, gpus", [("cpu", "cpu", 0.0), ("gpu", "cuda:0", 0.5)])
def test_cpu_and_gpu_profiles_load(name, device, gpus):
    settings = load_settings({"GAITLAKE_CONFIG": str(DEFAULT_TOML.parent / "profiles" / f"{name}.toml")})
    assert settings.pose.device == device
    assert settings.ray.num_gpus_per_actor == gpus


def test_defaults_live_only_in_default_toml():
    """No settings model carries a default of its own (issue 13.1): every value comes from
    default.toml, and a section built in code takes from the file what it is not given."""
    import tomllib

    import configs

    tables = tomllib.loads(configs.DEFAULT_TOML.read_text())
    for name, field in configs.Settings.model_fields.items():
        assert field.is_required(), f"Settings.{name} has a Python default"
        model = field.annotation
        if not hasattr(model, "model_fields"):
            continue
        for key, sub in model.model_fields.items():
            assert sub.is_required(), f"{name}.{key} has a Python default besides default.toml"
            assert key in tables[name], f"{name}.{key} is not in default.toml"
    built = configs.ApiSettings(launch_processing=False)
    assert built.launch_processing is False
    assert built.model_dump() == {**tables["api"], "launch_processing": False}
