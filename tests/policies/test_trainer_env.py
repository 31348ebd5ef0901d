"""`Trainer` takes a ready env or an env factory, not only a task id."""
import gymnasium as gym

from roboloop.envs import make_env
from roboloop.policies.train_loop import Trainer

from .conftest import tiny_config

QUIET = dict(progress=False, log=lambda s: None)


class CountingReset(gym.Wrapper):
    """Counts resets, so the test can tell which env the trainer used."""

    def __init__(self, env):
        super().__init__(env)
        self.resets = 0

    def reset(self, **kw):
        self.resets += 1
        return self.env.reset(**kw)


def test_trainer_runs_on_an_env_factory(tmp_path):
    made: list[CountingReset] = []

    def factory():
        made.append(CountingReset(make_env("Reach")))
        return made[-1]
    cfg = tiny_config(steps=90, extra=["learning_starts=30", "eval_every=60", "eval_episodes=2"])
    trainer = Trainer(cfg, run_dir=tmp_path, env=factory, **QUIET)
    result = trainer.run()
    assert len(made) == 2 and trainer.env is made[0] and trainer.eval_env is made[1]   # training env, eval env
    assert made[0].resets == trainer.episode and made[1].resets == 2 * len(result.evals) and result.updates > 0


def test_trainer_evaluates_a_ready_env_between_its_episodes(tmp_path):
    env = CountingReset(make_env("Reach"))
    cfg = tiny_config(steps=90, extra=["learning_starts=30", "eval_every=45", "eval_episodes=2"])
    trainer = Trainer(cfg, run_dir=tmp_path, env=env, **QUIET)
    result = trainer.run()
    assert trainer.env is env and trainer.eval_env is env
    # the evaluation due at step 45 waits for the end of that training episode; the last one ends the run
    (first, _), (last, _) = result.evals
    assert 45 <= first < last == result.steps
    assert env.resets == trainer.episode + 2 * 2   # one per training episode, two per evaluation
