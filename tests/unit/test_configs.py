import pytest

from configs import SettingsError, load_settings


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
    "env",
    [{"GAITLAKE_POSE__NOPE": "1"}, {"GAITLAKE_NOSECTION__X": "1"}, {"GAITLAKE_POSE__IMGSZ": "big"},
     {"GAITLAKE_POSE__HALF": "maybe"}],
)
def test_bad_overrides_are_refused_with_the_key_named(env):
    with pytest.raises(SettingsError):
        load_settings(env)


def test_analysis_hash_ignores_device_but_not_model():
    base = load_settings({})
    assert load_settings({"GAITLAKE_POSE__DEVICE": "cuda:0"}).analysis_hash() == base.analysis_hash()
    assert load_settings({"GAITLAKE_POSE__IMGSZ": "320"}).analysis_hash() != base.analysis_hash()
