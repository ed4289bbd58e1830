"""Environment ids and action spaces are checked before training, in one line each."""

import pytest

from mlpzoo.errors import ConfigError

gym = pytest.importorskip("gymnasium")

from mlpzoo.rl.envs import check_env_id, describe_spaces, make_vector_env  # noqa: E402


def test_unknown_environment_id_lists_close_names_in_one_line():
    with pytest.raises(ConfigError) as info:
        check_env_id("CartPol-v1")
    message = str(info.value)
    assert "CartPole-v1" in message and "close names" in message and "\n" not in message


def test_unknown_id_far_from_everything_still_says_what_to_do():
    with pytest.raises(ConfigError, match="unknown environment id 'zzzzzz'"):
        check_env_id("zzzzzz")


def test_discrete_and_box_action_spaces_are_described():
    envs, spec = make_vector_env("CartPole-v1", 2, seed=0)
    envs.close()
    assert (spec.obs_dim, spec.action_dim, spec.continuous) == (4, 2, False)
    envs, spec = make_vector_env("Pendulum-v1", 1, seed=0)
    envs.close()
    assert (spec.obs_dim, spec.action_dim, spec.continuous) == (3, 1, True)
    assert spec.action_low == (-2.0,) and spec.action_high == (2.0,)


def test_unsupported_action_space_is_one_line():
    box = gym.spaces.Box(-1, 1, (3,))
    with pytest.raises(ConfigError) as info:
        describe_spaces("Custom-v0", box, gym.spaces.MultiDiscrete([2, 3]))
    assert "does not support" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="not a flat Box"):
        describe_spaces("Custom-v0", gym.spaces.Box(0, 1, (4, 4)), gym.spaces.Discrete(2))
