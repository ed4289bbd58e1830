"""gymnasium environments by id, checked before any training starts.

gymnasium (the ``rl`` extra) ships the classic-control tasks (CartPole, Acrobot, MountainCar,
Pendulum) in pure Python and, with ``gymnasium[mujoco]``, the MuJoCo locomotion tasks; neither
downloads anything at run time. Agents here act from states (the observation vector), not pixels.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from mlpzoo.errors import ConfigError


@dataclass(frozen=True)
class EnvSpec:
    """What a policy needs to know about an environment: observation width and action space."""

    env_id: str
    obs_dim: int
    action_dim: int
    continuous: bool
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()


def _gymnasium():
    try:
        import gymnasium
    except ImportError as err:
        raise ConfigError("gymnasium is not installed; install the rl extra: pip install 'mlpzoo[rl]'") from err
    return gymnasium


def check_env_id(env_id: str) -> None:
    """Refuse an id gymnasium does not register, in one line naming the closest registered ids."""
    gym = _gymnasium()
    registered = list(gym.envs.registry)
    if env_id in registered:
        return
    close = difflib.get_close_matches(env_id, registered, n=4, cutoff=0.5)
    hint = f"close names: {', '.join(close)}" if close else "see gymnasium.envs.registry for the ids"
    raise ConfigError(f"unknown environment id {env_id!r}; {hint}")


def describe_spaces(env_id: str, observation_space, action_space) -> EnvSpec:
    """An :class:`EnvSpec` for a flat Box observation and a Discrete or flat Box action space, else one line."""
    gym = _gymnasium()
    spaces = gym.spaces
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ConfigError(
            f"environment {env_id!r} observation space {observation_space} is not a flat Box; "
            "the agents act from state vectors (wrap it with gymnasium.wrappers.FlattenObservation)"
        )
    obs_dim = int(observation_space.shape[0])
    if isinstance(action_space, spaces.Discrete):
        return EnvSpec(env_id, obs_dim, int(action_space.n), False)
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        low, high = tuple(map(float, action_space.low)), tuple(map(float, action_space.high))
        return EnvSpec(env_id, obs_dim, int(action_space.shape[0]), True, low, high)
    raise ConfigError(
        f"environment {env_id!r} has action space {action_space}, which the policy does not support; "
        "use an environment with a Discrete or a one-dimensional Box action space"
    )


def make_vector_env(env_id: str, num_envs: int, seed: int):
    """``num_envs`` copies of ``env_id`` stepped in lock-step (same-step autoreset), and their :class:`EnvSpec`.

    Every copy is seeded from ``seed`` (copy ``i`` with ``seed + i``) on the first reset, so a seed
    pins the whole stream of episodes.
    """
    if num_envs < 1:
        raise ConfigError(f"num_envs={num_envs}; pass at least 1")
    gym = _gymnasium()
    check_env_id(env_id)
    envs = gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
    )
    spec = describe_spaces(env_id, envs.single_observation_space, envs.single_action_space)
    envs.action_space.seed(seed)
    return envs, spec
