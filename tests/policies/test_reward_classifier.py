"""Reward from pixels: recorded success/failure frames, the classifier on the frozen encoder's features,
its file checks and the DetectorReward wrapper."""
import numpy as np
import pytest
import torch

from roboloop.envs import make_env
from roboloop.policies.encoders import WEIGHTS_FORMAT, KeypointBackbone, load_backbone, replay_storage
from roboloop.policies.replay import ReplayBuffer
from roboloop.policies.reward_classifier import (FORMAT, ClassifierError, RewardClassifier, choose_threshold,
                                                 fold_episodes, load_reward_classifier, precision_recall,
                                                 split_episodes, train_classifier)
from roboloop.reward_frames import SceneLook, load_frames, record_frames, save_frames
from roboloop.wrappers.reward import DetectorReward

from .conftest import tiny_config

SIZE = 64   # small frames keep the recording cheap; the backbone takes any square size


def _auroc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random success frame scores above a random failure frame (0.5 = chance)."""
    pos, neg = probs[labels], probs[~labels]
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (pos.size * neg.size))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Five scripted PickCubeVision episodes (low noise: all reach success), saved and loaded back."""
    torch.set_num_threads(1)
    data = record_frames("PickCubeVision", "expert", 5, seed=11, env_kwargs={"image_size": SIZE}, after_success=4,
                         random_share=0.0, noises=(0.1,), log=lambda s: None)
    path = save_frames(tmp_path_factory.mktemp("frames") / "frames.npz", data)
    return load_frames(path)


@pytest.fixture(scope="module")
def trained(recorded):
    return train_classifier(recorded["frames"], recorded["label"], recorded["episode"], folds=1, held_out=0.4,
                            epochs=200, log=lambda s: None)


def test_recorded_frames_are_labelled_by_the_sims_success_flag(recorded):
    assert set(recorded["frames"]) == {"front", "wrist"}
    assert recorded["frames"]["front"].shape[1:] == (SIZE, SIZE, 3) and recorded["frames"]["front"].dtype == np.uint8
    labels, episodes = recorded["label"], recorded["episode"]
    assert sorted(set(episodes.tolist())) == list(range(5))
    for e in range(5):   # each episode: failure frames, then its success kept for after_success more steps
        ep = labels[episodes == e]
        first = int(np.argmax(ep))
        assert ep.any() and not ep[:first].any() and ep[first:].all() and len(ep) - first == 5, ep


def test_classifier_separates_success_from_failure_on_held_out_episodes(recorded, trained, tmp_path):
    held = trained.metrics["held_out"]
    assert trained.metrics["held_out_episodes"] == 2 and held["positives"] > 0 and 0.0 < trained.threshold < 1.0
    _, test = split_episodes(recorded["episode"], 0.4, 0)   # the episodes training held out (same seed)
    probs = trained.probabilities({c: v[test] for c, v in recorded["frames"].items()})
    labels = recorded["label"][test]
    # On episodes it never trained on, success frames score above failure frames far more often than
    # chance (0.5), and the threshold keeps most successes without many false ones.
    assert _auroc(probs, labels) > 0.85, (_auroc(probs, labels), probs, labels)
    m = precision_recall(probs, labels, trained.threshold)
    assert (m.precision, m.recall) == pytest.approx((held["precision"], held["recall"]))
    assert m.precision + m.recall > 1.2, m
    path = trained.save(tmp_path / "success.pt")
    clf = load_reward_classifier(path, make_env("PickCubeVision", {"image_size": SIZE}).observation_space)
    np.testing.assert_allclose(clf.probabilities({c: v[test] for c, v in recorded["frames"].items()}), probs,
                               atol=1e-6)
    assert clf.threshold == trained.threshold and clf.cameras == ["front", "wrist"]


def test_folds_choose_the_threshold_on_out_of_fold_probabilities_and_the_ensemble_round_trips(recorded, tmp_path):
    frames, labels, episodes = recorded["frames"], recorded["label"], recorded["episode"]
    clf = train_classifier(frames, labels, episodes, folds=5, epochs=200, log=lambda s: None)
    assert len(clf.heads) == 5 and clf.metrics["held_out_episodes"] == 5 and 0.0 < clf.threshold < 1.0
    feats = clf.features(frames)
    outs = fold_episodes(episodes, 5, 0)   # the folds training used (same seed): one episode each
    assert all(len(np.unique(episodes[o])) == 1 for o in outs) and np.all(np.sum(outs, axis=0) == 1)
    oof = np.zeros(labels.size)
    for head, out in zip(clf.heads, outs):
        oof[out] = torch.sigmoid(head(torch.as_tensor(feats[out]))).numpy()
    # Every frame is scored by the head that never saw its episode; the stored figures are those scores'.
    m = precision_recall(oof, labels, clf.threshold)
    held = clf.metrics["held_out"]
    assert (m.precision, m.recall, m.frames) == pytest.approx((held["precision"], held["recall"], labels.size))
    assert _auroc(oof, labels) > 0.85
    probs = clf.probabilities(frames)
    heads = np.mean([torch.sigmoid(h(torch.as_tensor(feats))).numpy() for h in clf.heads], axis=0)
    np.testing.assert_allclose(probs, heads, atol=1e-6)
    loaded = load_reward_classifier(clf.save(tmp_path / "ensemble.pt"))
    assert len(loaded.heads) == 5
    np.testing.assert_allclose(loaded.probabilities(frames), probs, atol=1e-6)
    # A one-head file in the layout without ensembles loads and scores as before.
    one = clf.heads[0]
    torch.save({"format": FORMAT, "meta": {**clf.meta(), "members": 1},
                "head": {k[4:]: v for k, v in one.state_dict().items() if k.startswith("mlp.")},
                "mean": one.mean, "std": one.std}, tmp_path / "one.pt")
    np.testing.assert_allclose(load_reward_classifier(tmp_path / "one.pt").probabilities_from_features(feats),
                               torch.sigmoid(one(torch.as_tensor(feats))).numpy(), atol=1e-6)
    for folds in (0, 6):   # no fold at all; more folds than episodes
        with pytest.raises(ValueError, match="folds"):
            train_classifier(frames, labels, episodes, folds=folds, log=lambda s: None)


def test_randomized_looks_move_the_cameras_within_their_bounds_around_the_gap():
    env = make_env("PickCubeVision", {"image_size": SIZE}, training=False)
    gap = {"camera_pos": [[0.03, -0.04, 0.02], [0.0, 0.0, 0.0]], "camera_fovy": [5.0, 0.0]}
    look = SceneLook(env, gap)
    model = env.unwrapped.sim.model
    nominal = model.cam_pos.copy(), model.cam_fovy.copy()
    rng = np.random.default_rng(0)
    fronts, wrists = [], []
    for _ in range(50):
        values = look.draw(rng)
        look.apply(values)
        fronts.append(model.cam_pos[0] - nominal[0][0] - gap["camera_pos"][0])
        wrists.append(model.cam_pos[1] - nominal[0][1])
        assert abs(model.cam_fovy[0] - nominal[1][0] - 5.0) <= 8.0 and abs(model.cam_fovy[1] - nominal[1][1]) <= 3.0
    fronts, wrists = np.array(fronts), np.array(wrists)
    assert np.abs(fronts).max() <= 0.05 and np.abs(fronts).max() > 0.03 and np.abs(wrists).max() <= 0.01
    look.apply(None)   # back to the gap's own look
    np.testing.assert_allclose(model.cam_pos[0] - nominal[0][0], gap["camera_pos"][0], atol=1e-12)
    with pytest.raises(ValueError, match="randomize"):
        record_frames("PickCubeVision", "expert", 1, randomize=1.5, env=env, log=lambda s: None)
    env.close()


def test_randomized_recording_changes_what_the_front_camera_sees():
    kw = dict(env_kwargs={"image_size": SIZE}, after_success=0, random_share=0.0, noises=(0.1,), log=lambda s: None)
    plain = record_frames("PickCubeVision", "expert", 1, seed=3, **kw)
    moved = record_frames("PickCubeVision", "expert", 1, seed=3, randomize=1.0, **kw)
    assert moved["meta"]["randomize"] == 1.0 and plain["meta"]["randomize"] == 0.0
    # The reset frame: the same cube and arm, seen from another camera pose under other lights.
    a, b = (d["frames"]["front"][0].astype(float) for d in (plain, moved))
    assert np.abs(a - b).mean() > 2.0


def test_a_wrong_or_untrained_classifier_is_refused_naming_the_field(trained, tmp_path):
    env = make_env("PickCubeVision", {"image_size": SIZE})
    path = trained.save(tmp_path / "ok.pt")
    # another encoder's weights: its features mean something else
    other = KeypointBackbone()
    torch.save({"format": WEIGHTS_FORMAT, "backbone": other.state_dict(), "meta": {"channels": 32}},
               tmp_path / "other.pt")
    with pytest.raises(ClassifierError, match="encoder_sha256"):
        load_reward_classifier(path, encoder_weights=str(tmp_path / "other.pt"))
    # other cameras, other image shapes
    with pytest.raises(ClassifierError, match="image_shape"):
        load_reward_classifier(path, make_env("PickCubeVision").observation_space)
    with pytest.raises(ClassifierError, match="cameras"):
        load_reward_classifier(path, make_env("PickCube").observation_space)
    # untrained: no threshold
    raw = RewardClassifier(load_backbone(), ["front"], (SIZE, SIZE, 3))
    raw_path = raw.save(tmp_path / "raw.pt")
    with pytest.raises(ClassifierError, match="threshold"):
        load_reward_classifier(raw_path)
    with pytest.raises(ValueError, match="threshold"):
        DetectorReward(env, raw)
    # not a classifier file at all
    with pytest.raises(ClassifierError, match="format"):
        load_reward_classifier(tmp_path / "other.pt")


def test_detector_reward_replaces_the_tasks_reward(trained):
    env = make_env("PickCubeVision", {"image_size": SIZE})
    always, never = (RewardClassifier(load_backbone(), ["front"], (SIZE, SIZE, 3)) for _ in range(2))
    always.threshold, never.threshold = 1e-9, 1 - 1e-9   # logits of an untrained head sit near 0.5
    obs, _ = DetectorReward(env, always).reset(seed=0)
    _, r, term, _, info = DetectorReward(env, always).step(np.zeros(4, np.float32))
    assert r == 1.0 and term and info["detector_success"] and info["task_reward"] == 0.0
    _, r, term, _, info = DetectorReward(env, never).step(np.zeros(4, np.float32))
    assert r == 0.0 and not term and not info["detector_success"] and 0.0 < info["detector_probability"] < 1.0


def test_threshold_choice_puts_precision_first():
    probs = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 0, 1, 0, 1, 1], bool)
    t = choose_threshold(probs, labels, min_precision=0.95)
    m = precision_recall(probs, labels, t)
    assert m.precision == 1.0 and m.recall == pytest.approx(2 / 3) and 0.7 < t <= 0.8


def test_training_takes_its_reward_from_the_configured_classifier(trained, tmp_path):
    from roboloop.policies.train_loop import Trainer
    path = trained.save(tmp_path / "success.pt")
    cfg = tiny_config("PickCubeVision", extra=[f"reward_classifier={path}", f"env.image_size={SIZE}",
                                               "sac.image_encoder=pretrained"])
    trainer = Trainer(cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    trainer.env.reset(seed=0)
    _, reward, _, _, info = trainer.env.step(np.zeros(4, np.float32))
    assert reward == float(info["detector_success"]) and "task_reward" in info
    # Evaluation reports the task's own success: its env has no detector.
    assert not isinstance(trainer.eval_env, DetectorReward)


def test_scripted_demos_are_rewarded_by_the_classifier_too(tmp_path):
    from roboloop.policies.training import collect_demos
    always = RewardClassifier(load_backbone(), ["front"], (SIZE, SIZE, 3))
    always.threshold = 1e-9   # says success on every frame
    path = always.save(tmp_path / "always.pt")
    cfg = tiny_config("PickCubeVision", extra=[f"reward_classifier={path}", f"env.image_size={SIZE}"])
    env = make_env("PickCubeVision", {"image_size": SIZE})
    shapes = {k: s.shape for k, s in env.observation_space.spaces.items()}
    dtypes = {k: s.dtype for k, s in env.observation_space.spaces.items()}
    buf = ReplayBuffer(*replay_storage(torch.nn.Identity(), shapes, dtypes)[:2], 4, 100)
    collect_demos(cfg, buf, 1, log=lambda s: None, progress=False)
    # The task's reward is 0 until the cube is lifted; the classifier's is 1 at once and ends the episode.
    assert buf.num_added == 1 and buf.reward[0] == 1.0 and buf.terminated[0] == 1.0
