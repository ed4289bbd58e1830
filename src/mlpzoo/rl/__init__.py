"""Reinforcement learning: rollouts, advantages and policy-gradient losses, environments, learners.

- :mod:`~mlpzoo.rl.objectives`: generalised advantage estimation, PPO's clipped surrogate, and the
  critic-free advantages of GRPO (group-average baseline) and OSPO (one-step rewards).
- :mod:`~mlpzoo.rl.envs`: gymnasium environments by id, checked (unknown ids, unsupported action spaces).
- :mod:`~mlpzoo.rl.ppo`: an on-policy PPO learner for gymnasium control tasks, with MENTOR's
  task-oriented perturbation (:mod:`~mlpzoo.rl.perturb`) as an option.
- :mod:`~mlpzoo.rl.dispatch`: a vectorised ride-hailing order-dispatch simulator;
  :mod:`~mlpzoo.rl.dispatch_train` trains shared vehicle policies on it with PPO, GRPO or OSPO.
- :mod:`~mlpzoo.rl.curves`: return curves, their area and the steps to a return threshold, and their plot.

The package sits beside ``train`` and ``methods`` in the layer order: it uses layers, models and the
utilities, and claims use it. gymnasium is the optional ``rl`` extra.
"""
