"""Soft Actor-Critic with the RLPD/REDQ refinements, written to be read top to bottom.

    critic:  L_Q  = sum_e mean_b (Q_e(s, a) - y)^2,
             y    = r + gamma * (1 - terminated) * (min_{e in M} Q'_e(s', a') - alpha * log pi(a'|s')),
             a' ~ pi(.|s'), M a random subset of `num_min_critics` target members (REDQ).
    actor:   L_pi = mean_b (alpha * log pi(a~|s) - mean_e Q_e(s, a~)),  a~ ~ pi(.|s) reparameterized,
             + bc_weight * mean_b |Q| * mean_{b in demo} |tanh(mu(s)) - a|^2 when bc_weight > 0 (TD3+BC's
             behaviour-cloning term, scaled by the Q magnitude so the weight is unitless, on the demo rows).
    alpha:   L_a  = -mean_b log_alpha * (log pi(a~|s) + H_target),      H_target = -|A| / 2 by default.
    targets: theta' <- (1 - tau) theta' + tau theta after every critic step.

With `grasp_critic` (HIL-SERL's gripper DQN; the task's last action dim is a gripper behind the
discrete_gripper wrapper), the actor and the critics above cover the first A-1 dims and a grasp critic
Q_g(s, k) over the commands k in {0 open, 1 stay, 2 close} (gripper values -1 / 0 / +1) picks the last:
    grasp:   L_g = mean_b (Q_g(s, k) - y_g)^2,   k = the stored gripper action's command (> 0.5 close,
             < -0.5 open, else stay),  y_g = r + gamma * (1 - terminated) * Q'_g(s', argmax_k' Q_g(s', k'))
             (double DQN: the online net picks, the target net evaluates), on every critic step's batch.
    acting:  gripper = argmax_k Q_g(s, k) - 1, greedy in training and evaluation alike.
Q_g reads the critic encoder's features, detached (the critic's loss alone trains the encoder).

With images, an encoder is shared: the critic's loss trains it, the actor reads detached features, and
both see DrQ random-shift augmented frames. With the pretrained encoder frozen (image_encoder=
"pretrained", the PickCubeVision preset), batches carry the backbone's per-frame features computed when
the frames entered the replay buffer (policies/encoders.py): only its small projection trains, and no
convolution runs in an update. The critic ensemble runs as one batched matmul.

Each step is a pure function of tensors: gradients come from torch.func.grad_and_value and go to a
gradient-taking Adam (optim.py), so with `compile=True` the loss, its gradient, the clipping, the
optimizer and the Polyak update of a step run as one torch.compile'd graph. Random numbers (policy
noise, REDQ subsets, image shifts) are drawn eagerly outside the graph, so compiled and eager steps
compute the same function from the same torch RNG stream (tests/policies/test_sac.py checks both).
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from torch.func import functional_call, grad_and_value

from roboloop.policies.ranges import check_ranges
from roboloop.policies.actor import Actor, ActorArch
from roboloop.policies.encoders import PretrainedEncoder, load_backbone
from roboloop.policies.networks import (CriticEnsemble, gripper_class, random_shift, resolve_low_precision,
                                       tanh_gaussian_sample)
from roboloop.policies.optim import Adam


@dataclass
class SACConfig:
    """Hyper-parameters. Defaults follow RLPD (LayerNorm critics, ensemble, UTD) at a laptop scale."""

    hidden_dims: tuple[int, ...] = (256, 256)         # hidden layer widths of the critics (and the actor)
    actor_hidden_dims: tuple[int, ...] | None = None  # None = hidden_dims; e.g. (64, 64) for a microcontroller
    num_critics: int = 2                  # ensemble size E
    num_min_critics: int | None = None    # REDQ subset size for the target min; None = all E members
    critic_layer_norm: bool = True        # LayerNorm after each critic hidden layer (RLPD)
    gamma: float = 0.99                   # discount per control step
    tau: float = 0.005                    # Polyak rate of the target networks
    actor_lr: float = 3e-4                # Adam step size of the actor
    critic_lr: float = 3e-4               # Adam step size of the critics (and the image encoder)
    temperature_lr: float = 3e-4          # Adam step size of log alpha
    init_temperature: float = 0.1         # alpha_0; 0.1 suits rewards of order 1 per step
    target_entropy: float | None = None   # None -> -|A| / 2
    backup_entropy: bool = False          # subtract alpha * log pi in the TD target (off as in SERL: with
                                          # termination on success, an entropy bonus would reward long episodes)
    grad_clip_norm: float | None = 10.0   # None disables clipping
    bc_weight: float = 0.0                # > 0: the actor also fits the demo rows' actions (TD3+BC's term,
                                          # relative to the batch's mean |Q|); 0 = RLPD as published
    batch_size: int = 256                 # transitions per update (half from the demo buffer with RLPD)
    utd_ratio: int = 1                    # critic updates per environment step
    image_feature_dim: int = 50           # features per camera out of the image encoder (either kind)
    image_channels: int = 32              # channels of the conv encoder's layers
    image_aug_pad: int = 4                # DrQ random-shift pad in pixels; 0 disables (images only: cached
                                          # features of a frozen encoder are not augmented)
    image_encoder: str = "conv"           # "conv": DrQ conv encoder trained end to end on stored images;
                                          # "pretrained": the keypoint backbone of policies/encoders.py
    encoder_weights: str = ""             # pretrained backbone weights (.pt); "" = the ones roboloop ships
    freeze_encoder: bool = True           # pretrained: keep the backbone fixed and store its per-frame features
                                          # in the replay buffer; false: fine-tune it end to end with DrQ shifts
    # "auto": bfloat16 hidden-layer matmuls where the CPU has native bf16 (AVX512-BF16 / AMX), else
    # float32. Heads, losses, optimizer and weights stay float32 either way.
    matmul_precision: str = "auto"
    # torch.compile each update step into one graph (about 2x the updates/s of eager on a 2-core CPU;
    # the first update pays a one-off compile of ~20-40 s). Falls back to eager if compiling fails.
    compile: bool = True
    # The last action dim (a gripper) becomes a close / stay / open command chosen by a DQN grasp critic
    # (HIL-SERL); the config then adds the discrete_gripper wrapper, which holds the gripper on "stay".
    grasp_critic: bool = False

    def __post_init__(self) -> None:
        check_ranges(self, {"hidden_dims": (1, None), "actor_hidden_dims": (1, None), "num_critics": (1, None),
                            "num_min_critics": (1, self.num_critics), "gamma": (0.0, 1.0), "tau": (0.0, 1.0),
                            "actor_lr": (0.0, None), "critic_lr": (0.0, None), "temperature_lr": (0.0, None),
                            "init_temperature": (0.0, None), "grad_clip_norm": (0.0, None), "batch_size": (1, None),
                            "bc_weight": (0.0, None),
                            "utd_ratio": (1, None), "image_feature_dim": (1, None), "image_channels": (1, None),
                            "image_aug_pad": (0, None)},
                     open_low=("tau", "actor_lr", "critic_lr", "temperature_lr", "init_temperature", "grad_clip_norm"))
        actor_arch(self)  # checks image_encoder


def trainable_parameters(encoder: nn.Module) -> dict[str, torch.Tensor]:
    """The encoder's parameters that the critic's loss trains (all, unless a pretrained backbone is frozen)."""
    if isinstance(encoder, PretrainedEncoder):
        return encoder.trainable_parameters()
    return dict(encoder.named_parameters())


def actor_arch(cfg: SACConfig) -> ActorArch:
    """The actor's architecture in `cfg`: all an actor process needs, with the env spec, to run the policy."""
    return ActorArch(tuple(cfg.actor_hidden_dims or cfg.hidden_dims), cfg.image_feature_dim, cfg.image_channels,
                     cfg.matmul_precision, cfg.image_encoder, cfg.grasp_critic)


class SAC(nn.Module):
    """The actor pi (encoder + squashed-Gaussian policy, actor.py), the critic ensemble, their targets,
    the temperature and the three optimizers (with grasp_critic: the grasp critic, its target, a fourth).

    obs_shapes: {"state": (D,), "<camera>": (H, W, 3), ...}; act_dim: A (actions live in [-1, 1]^A);
    cont_dim: the dims of the policy and the critics (A, or A-1 with the grasp critic).
    """

    def __init__(self, obs_shapes: dict[str, tuple[int, ...]], act_dim: int, cfg: SACConfig):
        super().__init__()
        self.cfg = cfg
        self.act_dim = act_dim
        low = resolve_low_precision(cfg.matmul_precision)
        pi = Actor(obs_shapes, act_dim, actor_arch(cfg))
        # pi's encoder and policy are registered here under the checkpoint's names ("encoder.*", "actor.*");
        # pi itself stays unregistered, so each tensor appears once in state_dict().
        self.__dict__["pi"] = pi
        self.encoder, self.actor, self.image_keys = pi.encoder, pi.actor, pi.image_keys
        self.cont_dim = pi.cont_dim
        if isinstance(self.encoder, PretrainedEncoder):
            self.encoder.backbone.load_state_dict(load_backbone(cfg.encoder_weights).state_dict())
            self.encoder.frozen = cfg.freeze_encoder
        feat_dim = self.encoder.out_dim
        self.critic = CriticEnsemble(feat_dim, self.cont_dim, cfg.hidden_dims, cfg.num_critics, cfg.critic_layer_norm,
                                     low)
        self.encoder_target = copy.deepcopy(self.encoder)
        self.critic_target = copy.deepcopy(self.critic)
        if cfg.grasp_critic:   # pi's grasp critic, registered as "grasp.*" like its encoder and policy
            self.grasp = pi.grasp
            self.grasp_target = copy.deepcopy(self.grasp)
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(cfg.init_temperature))))
        self.target_entropy = cfg.target_entropy if cfg.target_entropy is not None else -self.cont_dim / 2.0

        # Parameters are trained through explicit gradients (torch.func), never through .grad.
        self.requires_grad_(False)
        # A frozen backbone is left out: no gradient is taken for it and the target keeps the same copy.
        encoder_params = trainable_parameters(self.encoder)
        self._critic_params = {"encoder": encoder_params, "critic": dict(self.critic.named_parameters())}
        self._actor_params = dict(self.actor.named_parameters())
        target_encoder = dict(self.encoder_target.named_parameters())
        self._online = [*self.critic.parameters(), *encoder_params.values()]
        self._target = [*self.critic_target.parameters(), *(target_encoder[k] for k in encoder_params)]
        self.critic_opt = Adam(self._online, cfg.critic_lr, max_grad_norm=cfg.grad_clip_norm)
        self.actor_opt = Adam(list(self._actor_params.values()), cfg.actor_lr, max_grad_norm=cfg.grad_clip_norm)
        self.alpha_opt = Adam([self.log_alpha], cfg.temperature_lr)
        if cfg.grasp_critic:
            self._grasp_params = dict(self.grasp.named_parameters())
            self._grasp_online, self._grasp_target = list(self.grasp.parameters()), list(self.grasp_target.parameters())
            self.grasp_opt = Adam(self._grasp_online, cfg.critic_lr, max_grad_norm=cfg.grad_clip_norm)
        self._critic_step = self._compiled(self._critic_step_eager)
        self._actor_step = self._compiled(self._actor_step_eager)
        self._update_step = self._compiled(self._update_step_eager)

    # ----------------------------------------------------------------------------------- acting
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        """One observation (unbatched) -> action (A,) float32 in [-1, 1] (the actor's, see actor.py; with the
        grasp critic the last dim is its greedy command -1 / 0 / +1)."""
        return self.pi.act(obs, deterministic)

    def actor_state(self) -> dict[str, torch.Tensor]:
        """What an actor process needs to act: the encoder and the policy, no critics, targets or optimizers."""
        return self.pi.actor_state()

    def load_actor_state(self, state: dict) -> None:
        self.pi.load_actor_state(state)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp()

    # --------------------------------------------------------------------------------- learning
    def _augment(self, obs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if not self.image_keys or self.cfg.image_aug_pad <= 0:
            return obs
        return {k: random_shift(v, self.cfg.image_aug_pad) if k in self.image_keys and v.dtype == torch.uint8 else v
                for k, v in obs.items()}

    def update_critic(self, batch: dict) -> dict[str, torch.Tensor]:
        """One gradient step of the critic ensemble (and the encoder) plus the Polyak target update.

        batch: obs/next_obs dicts of (B, ...) tensors, action (B, A), reward (B,), terminated (B,) float.
        Returns losses for logging and "feat", the (detached) features the actor step trains on.
        """
        return self._critic_step(*self._critic_inputs(batch))

    def update_actor_and_temperature(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        """One step of the actor and of log_alpha on (detached) features feat (B, D)."""
        return self._actor_step(feat, torch.randn(feat.shape[0], self.cont_dim))

    def update(self, batches: list[dict]) -> dict[str, torch.Tensor]:
        """`utd_ratio` critic steps (one per batch), then one actor/temperature step on the last batch.
        A batch's optional "demo" (B,) float marks its demo rows (the behaviour-cloning term's). With the
        grasp critic each critic step also makes one grasp critic step."""
        for batch in batches[:-1]:
            self.update_critic(batch)
        last = batches[-1]
        critic_inputs = self._critic_inputs(last)
        demo = last.get("demo")
        demo = torch.zeros(last["action"].shape[0]) if demo is None else demo.float()
        # The last critic step and the actor step run as one graph: one call instead of two.
        return self._update_step(*critic_inputs, torch.randn(critic_inputs[1].shape), demo)

    def _critic_inputs(self, batch: dict) -> tuple:
        """The critic step's arguments, with its random numbers drawn here, outside any compiled graph.
        With the grasp critic, the action splits into the continuous dims and the gripper's command k."""
        cfg = self.cfg
        subset = None
        if cfg.num_min_critics is not None and cfg.num_min_critics < cfg.num_critics:
            subset = torch.randperm(cfg.num_critics)[: cfg.num_min_critics]
        obs, next_obs = self._augment(batch["obs"]), self._augment(batch["next_obs"])
        action, grasp_k = batch["action"], None
        if cfg.grasp_critic:
            action, grasp_k = action[:, :-1], gripper_class(action[:, -1])
        return (obs, action, batch["reward"], batch["terminated"], next_obs, torch.randn(action.shape), subset,
                grasp_k)

    def _update_step_eager(self, obs, action, reward, terminated, next_obs, next_eps, subset, grasp_k, actor_eps,
                           demo):
        info = self._critic_step_eager(obs, action, reward, terminated, next_obs, next_eps, subset, grasp_k)
        info.update(self._actor_step_eager(info.pop("feat"), actor_eps, action, demo))
        return info

    def _critic_step_eager(self, obs, action, reward, terminated, next_obs, next_eps, subset, grasp_k=None):
        cfg = self.cfg
        with torch.no_grad():
            next_feat, next_feat_target = self.encoder(next_obs), self.encoder_target(next_obs)
            next_a, next_logp = self.actor.sample(next_feat, next_eps)
            q_next = self.critic_target(next_feat_target, next_a)  # (E, B)
            if subset is not None:
                q_next = q_next[subset]
            v_next = q_next.min(dim=0).values
            if cfg.backup_entropy:
                v_next = v_next - self.alpha * next_logp
            y = reward + cfg.gamma * (1.0 - terminated) * v_next

        def critic_loss(params):
            feat = functional_call(self.encoder, params["encoder"], (obs,))
            q = functional_call(self.critic, params["critic"], (feat, action))  # (E, B)
            return ((q - y) ** 2).mean(dim=1).sum(), (q, feat)

        grads, (loss, (q, feat)) = grad_and_value(critic_loss, has_aux=True)(self._critic_params)
        self.critic_opt.step([*grads["critic"].values(), *grads["encoder"].values()])
        torch._foreach_lerp_(self._target, self._online, cfg.tau)
        info = {"critic_loss": loss.detach(), "q": q.detach().mean(), "feat": feat.detach()}
        if grasp_k is not None:
            info.update(self._grasp_step(feat.detach(), grasp_k, reward, terminated, next_feat, next_feat_target))
        return info

    def _grasp_step(self, feat, k, reward, terminated, next_feat, next_feat_target):
        """One DQN step of the grasp critic on features (B, D) and commands k (B,) int64, then its Polyak update."""
        cfg = self.cfg
        with torch.no_grad():
            k_next = self.grasp(next_feat).argmax(dim=-1, keepdim=True)              # the online net picks
            q_next = self.grasp_target(next_feat_target).gather(-1, k_next).squeeze(-1)  # the target evaluates
            y = reward + cfg.gamma * (1.0 - terminated) * q_next

        def grasp_loss(params):
            q = functional_call(self.grasp, params, (feat,)).gather(-1, k[:, None]).squeeze(-1)
            return (q - y).square().mean(), q

        grads, (loss, q) = grad_and_value(grasp_loss, has_aux=True)(self._grasp_params)
        self.grasp_opt.step(list(grads.values()))
        torch._foreach_lerp_(self._grasp_target, self._grasp_online, cfg.tau)
        return {"grasp_loss": loss.detach(), "grasp_q": q.detach().mean()}

    def _actor_step_eager(self, feat, eps, demo_action=None, demo=None):
        alpha = self.alpha
        bc_weight = self.cfg.bc_weight if demo is not None else 0.0

        def actor_loss(params):
            mu, log_std = functional_call(self.actor, params, (feat,))
            a, logp = tanh_gaussian_sample(mu, log_std, eps)
            q_pi = self.critic(feat, a).mean(dim=0)  # the critic is a fixed function here
            loss = (alpha * logp - q_pi).mean()
            if bc_weight > 0:
                bc = ((torch.tanh(mu) - demo_action).square().sum(-1) * demo).sum() / demo.sum().clamp(min=1.0)
                loss = loss + bc_weight * q_pi.abs().mean().detach() * bc
            return loss, logp

        grads, (loss, logp) = grad_and_value(actor_loss, has_aux=True)(self._actor_params)
        self.actor_opt.step(list(grads.values()))
        # L_alpha = -log_alpha * mean(log pi + H_target), so dL/dlog_alpha = -mean(log pi + H_target).
        self.alpha_opt.step([-(logp.detach() + self.target_entropy).mean()])
        return {"actor_loss": loss.detach(), "alpha": alpha, "entropy": -logp.detach().mean()}

    def _compiled(self, step: Callable) -> Callable:
        """`step` under torch.compile when cfg.compile, else as is; eager again if compiling fails."""
        if not self.cfg.compile:
            return step
        compiled = torch.compile(step, dynamic=False)

        def run(*args):
            nonlocal compiled
            try:
                return compiled(*args)
            except torch._dynamo.exc.BackendCompilerFailed as e:  # no C++ compiler, unsupported platform, ...
                warnings.warn(f"torch.compile failed ({e}); running SAC updates eagerly "
                              f"(set sac.compile=false to skip the attempt)", RuntimeWarning, stacklevel=2)
                compiled = step
                return step(*args)
        return run

    # ------------------------------------------------------------------------------ persistence
    def optimizer_state(self) -> dict:
        state = {"actor": self.actor_opt.state_dict(), "critic": self.critic_opt.state_dict(),
                 "alpha": self.alpha_opt.state_dict()}
        if self.cfg.grasp_critic:
            state["grasp"] = self.grasp_opt.state_dict()
        return state

    def load_optimizer_state(self, state: dict) -> None:
        if ("grasp" in state) != self.cfg.grasp_critic:
            raise ValueError(f"optimizer state {'has' if 'grasp' in state else 'has no'} grasp critic but this "
                             f"agent has sac.grasp_critic={str(self.cfg.grasp_critic).lower()}")
        self.actor_opt.load_state_dict(state["actor"])
        self.critic_opt.load_state_dict(state["critic"])
        self.alpha_opt.load_state_dict(state["alpha"])
        if self.cfg.grasp_critic:
            self.grasp_opt.load_state_dict(state["grasp"])
