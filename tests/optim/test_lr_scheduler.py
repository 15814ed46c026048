"""Learning-rate schedulers reproduce torch.optim.lr_scheduler's sequences exactly (same float recurrences)."""

import json

import numpy as np
import pytest

from lamina.nn.parameter import Parameter
from lamina.optim import SGD, Adagrad, Adam, lr_scheduler

torch = pytest.importorskip("torch")

LRS = (0.1, 0.03)  # two parameter groups with different learning rates


def optimizers(kind="sgd", **kw):
    """The same two-group optimizer in lamina and in torch (parameters never receive gradients here)."""
    ours_cls, torch_cls = {"sgd": (SGD, torch.optim.SGD), "adam": (Adam, torch.optim.Adam)}[kind]
    ours = ours_cls([{"params": [Parameter(np.zeros(2, np.float32))], "lr": lr} for lr in LRS], **kw)
    theirs = torch_cls([{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS], **kw)
    return ours, theirs


def lr_sequences(ours, theirs, steps, metrics=None):
    """Step optimizer then scheduler ``steps`` times; return both lists of per-step learning rates."""
    seq_ours, seq_theirs = [ours.get_last_lr()], [theirs.get_last_lr()]
    for i in range(steps):
        ours.optimizer.step()
        theirs.optimizer.step()
        if metrics is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metrics[i])
            theirs.step(metrics[i])
        seq_ours.append(ours.get_last_lr())
        seq_theirs.append(theirs.get_last_lr())
        assert [g["lr"] for g in ours.optimizer.param_groups] == seq_ours[-1]
    return seq_ours, seq_theirs


SCHEDULES = {
    "StepLR": (dict(step_size=3, gamma=0.5), 20),
    "MultiStepLR": (dict(milestones=[2, 5, 5, 9], gamma=0.3), 15),
    "ExponentialLR": (dict(gamma=0.9), 25),
    "CosineAnnealingLR": (dict(T_max=10, eta_min=0.001), 47),  # more than two periods: past T_max it rises again
    "CosineAnnealingLR ": (dict(T_max=7), 30),
    "LinearLR": (dict(), 10),
    "LinearLR ": (dict(start_factor=0.5, end_factor=0.1, total_iters=4), 10),
    "PolynomialLR": (dict(), 10),
    "PolynomialLR ": (dict(total_iters=8, power=0.9), 15),
    "LambdaLR": (dict(lr_lambda=lambda epoch: 0.95**epoch), 12),
    "LambdaLR ": (dict(lr_lambda=[lambda epoch: 1 / (epoch + 1), lambda epoch: min(1.0, (epoch + 1) / 4)]), 12),
    "MultiplicativeLR": (dict(lr_lambda=lambda epoch: 0.9 if epoch % 3 else 0.5), 12),
    "CosineAnnealingWarmRestarts": (dict(T_0=5), 23),
    "CosineAnnealingWarmRestarts ": (dict(T_0=3, T_mult=2, eta_min=0.001), 40),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch_exactly(name):
    kw, steps = SCHEDULES[name]
    opt, topt = optimizers()
    ours = getattr(lr_scheduler, name.strip())(opt, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name.strip())(topt, **kw)
    seq_ours, seq_theirs = lr_sequences(ours, theirs, steps)
    assert seq_ours == seq_theirs
    assert len({tuple(lrs) for lrs in seq_ours}) > 2, "the lr hardly changed: the comparison would prove little"
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert ours.base_lrs == list(LRS) and ours.last_epoch == steps


def test_step_lr_worked_example():
    opt, _ = optimizers()
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    seq = [sched.get_last_lr()[0]]
    for _ in range(5):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr()[0])
    assert seq == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]


def test_cosine_annealing_follows_the_closed_form():
    opt, _ = optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.01)
    for t in range(1, 30):
        opt.step()
        sched.step()
        expected = 0.01 + (0.1 - 0.01) * (1 + np.cos(np.pi * t / 8)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-9, abs=1e-12)


ONE_CYCLE = {
    "sgd_momentum": ("sgd", dict(momentum=0.9), dict(max_lr=[0.5, 0.2], total_steps=20)),
    "adam_beta1": ("adam", dict(), dict(max_lr=0.01, total_steps=25, pct_start=0.4)),
    "linear_three_phase": ("sgd", dict(momentum=0.9), dict(max_lr=0.3, total_steps=30, anneal_strategy="linear",
                                                           three_phase=True, div_factor=10.0)),
    "epochs_steps": ("adam", dict(), dict(max_lr=0.01, epochs=3, steps_per_epoch=7, base_momentum=0.8,
                                          max_momentum=0.9, final_div_factor=100.0)),
    "no_momentum_cycle": ("sgd", dict(), dict(max_lr=0.2, total_steps=12, cycle_momentum=False)),
}


@pytest.mark.parametrize("name", ONE_CYCLE)
def test_one_cycle_matches_torch_exactly(name):
    kind, opt_kw, kw = ONE_CYCLE[name]
    opt, topt = optimizers(kind, **opt_kw)
    ours = lr_scheduler.OneCycleLR(opt, **kw)
    theirs = torch.optim.lr_scheduler.OneCycleLR(topt, **kw)
    key = "betas" if kind == "adam" else "momentum"
    momenta = [[g[key] for g in opt.param_groups]], [[g[key] for g in topt.param_groups]]
    total = ours.total_steps
    seq_ours, seq_theirs = [ours.get_last_lr()], [theirs.get_last_lr()]
    for _ in range(total - 1):  # the schedule has total_steps values, one per optimizer step
        for sched, opt_, seq, mom in ((ours, opt, seq_ours, momenta[0]), (theirs, topt, seq_theirs, momenta[1])):
            opt_.step()
            sched.step()
            seq.append(sched.get_last_lr())
            mom.append([g[key] for g in opt_.param_groups])
    assert seq_ours == seq_theirs
    assert momenta[0] == [[tuple(m) if key == "betas" else m for m in row] for row in momenta[1]]
    peak = max(s[0] for s in seq_ours)
    max_lr = kw["max_lr"][0] if isinstance(kw["max_lr"], list) else kw["max_lr"]
    assert peak == pytest.approx(max_lr, rel=0.05)


def test_one_cycle_raises_past_total_steps_as_torch():
    opt, topt = optimizers()
    ours = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    theirs = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=5)
    for _ in range(5):  # stepping up to total_steps is allowed ...
        opt.step()
        topt.step()
        ours.step()
        theirs.step()
    assert ours.get_last_lr() == theirs.get_last_lr()
    with pytest.raises(ValueError, match="total_steps=5"):  # ... one more is not
        ours.step()
    with pytest.raises(ValueError):
        theirs.step()


def test_one_cycle_bad_arguments():
    opt, _ = optimizers()
    with pytest.raises(ValueError, match="total_steps or both epochs"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="max_lr has 3 values but the optimizer has 2"):
        lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    adagrad = Adagrad([Parameter(np.zeros(2, np.float32))])
    with pytest.raises(ValueError, match="Adagrad has neither"):
        lr_scheduler.OneCycleLR(adagrad, max_lr=0.1, total_steps=10)


METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.88, 0.9, 0.9, 0.9, 0.9, 0.9,
           0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
PLATEAU = {
    "min_rel": dict(patience=2),
    "min_abs_cooldown": dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2, factor=0.5),
    "min_lr_floor": dict(patience=0, factor=0.2, min_lr=0.002),
    "min_lr_per_group": dict(patience=1, factor=0.5, min_lr=[0.05, 0.0], cooldown=1),
    "max_mode": dict(mode="max", patience=2, factor=0.5),
    "max_abs": dict(mode="max", patience=1, threshold=0.02, threshold_mode="abs"),
    "eps_stops_tiny_changes": dict(patience=0, factor=0.5, eps=0.02),
}


@pytest.mark.parametrize("name", PLATEAU)
def test_reduce_on_plateau_matches_torch_exactly(name):
    kw = PLATEAU[name]
    opt, topt = optimizers()
    ours = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    seq_ours, seq_theirs = lr_sequences(ours, theirs, len(METRICS), metrics=METRICS)
    assert seq_ours == seq_theirs
    assert len({tuple(s) for s in seq_ours}) > 1, "the lr never changed: the scripted metrics test nothing"
    assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (theirs.best, theirs.num_bad_epochs,
                                                                         theirs.cooldown_counter)


def test_reduce_on_plateau_accepts_a_tensor_metric_and_checks_arguments():
    import lamina

    opt, _ = optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(lamina.tensor(1.0))
    sched.step(lamina.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.003])
    with pytest.raises(ValueError, match="factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="min_lr has 3 values"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)


CHAINED = {
    "sgd_step_lr": (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                    "StepLR", dict(step_size=10, gamma=0.5)),
    "adam_cosine": (lambda p: Adam(p, lr=0.02), lambda p: torch.optim.Adam(p, lr=0.02),
                    "CosineAnnealingLR", dict(T_max=15, eta_min=1e-4)),
    "adam_one_cycle": (lambda p: Adam(p, lr=0.02), lambda p: torch.optim.Adam(p, lr=0.02),
                       "OneCycleLR", dict(max_lr=0.05, total_steps=40)),
    "sgd_one_cycle": (lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                      lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                      "OneCycleLR", dict(max_lr=0.3, total_steps=40)),
    "sgd_linear": (lambda p: SGD(p, lr=0.2), lambda p: torch.optim.SGD(p, lr=0.2), "LinearLR", dict(total_iters=10)),
}


@pytest.mark.parametrize("name", CHAINED)
def test_scheduled_training_matches_torch(name, make_twin):
    make_ours, make_torch, sched_name, kw = CHAINED[name]
    twin = make_twin()
    opt, topt = make_ours(twin.params), make_torch(twin.torch_params())
    sched = getattr(lr_scheduler, sched_name)(opt, **kw)
    tsched = getattr(torch.optim.lr_scheduler, sched_name)(topt, **kw)
    for _ in range(40):
        for o, s, loss_fn in ((opt, sched, twin.loss), (topt, tsched, twin.torch_loss)):
            o.zero_grad()
            loss_fn().backward()
            o.step()
            s.step()
        assert sched.get_last_lr() == tsched.get_last_lr()
    for a, b in zip(twin.arrays(), twin.torch_arrays()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau"])
def test_scheduler_state_dict_round_trip_through_json(name):
    """Save after 6 steps, restore into a fresh scheduler (through JSON), and the next 10 lrs are identical."""
    kw = {"StepLR": dict(step_size=3), "MultiStepLR": dict(milestones=[4, 8, 8]), "CosineAnnealingLR": dict(T_max=5),
          "OneCycleLR": dict(max_lr=0.5, total_steps=20), "ReduceLROnPlateau": dict(patience=1, cooldown=1)}[name]
    metrics = [1.0, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]

    def make():
        opt, _ = optimizers("sgd", momentum=0.9)
        return opt, getattr(lr_scheduler, name)(opt, **kw)

    def advance(opt, sched, steps, start):
        out = []
        for i in range(start, start + steps):
            opt.step()
            sched.step(metrics[i]) if name == "ReduceLROnPlateau" else sched.step()
            out.append((sched.get_last_lr(), [g.get("momentum") for g in opt.param_groups]))
        return out

    opt, sched = make()
    advance(opt, sched, 6, 0)
    saved_opt = json.loads(json.dumps(opt.state_dict()))
    saved_sched = json.loads(json.dumps(sched.state_dict()))
    expected = advance(opt, sched, 10, 6)

    opt2, sched2 = make()  # build the scheduler first, then load both, as torch recommends
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    assert advance(opt2, sched2, 10, 6) == expected


def test_two_schedulers_on_one_optimizer_compose_as_torch():
    """The recursive forms make schedulers chainable: both multiply the current lr (torch's docs example)."""
    opt, topt = optimizers()
    ours = [lr_scheduler.ExponentialLR(opt, gamma=0.9), lr_scheduler.MultiStepLR(opt, milestones=[3, 6], gamma=0.1)]
    theirs = [torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.9),
              torch.optim.lr_scheduler.MultiStepLR(topt, milestones=[3, 6], gamma=0.1)]
    for _ in range(10):
        opt.step()
        topt.step()
        for s in ours + theirs:
            s.step()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.9**10 * 0.01)


@pytest.mark.parametrize("name, kw", [("StepLR", dict(step_size=3)), ("CosineAnnealingLR", dict(T_max=6)),
                                      ("ExponentialLR", dict(gamma=0.8)), ("LinearLR", dict(total_iters=8)),
                                      ("PolynomialLR", dict(total_iters=9, power=2.0)),
                                      ("LambdaLR", dict(lr_lambda=lambda e: 1 / (e + 1))),
                                      ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9)),
                                      ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2))])
def test_resuming_with_last_epoch_matches_torch(name, kw):
    opt, topt = optimizers()
    for groups in (opt.param_groups, topt.param_groups):
        for g in groups:
            g["initial_lr"] = g["lr"]
            g["lr"] = g["lr"] / 2
    ours = getattr(lr_scheduler, name)(opt, last_epoch=4, **kw)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, last_epoch=4, **kw)
    seq_ours, seq_theirs = lr_sequences(ours, theirs, 12)
    assert seq_ours == seq_theirs and ours.last_epoch == 4 + 1 + 12  # the constructor steps once too


def test_resuming_without_initial_lr_is_refused():
    opt, _ = optimizers()
    with pytest.raises(KeyError, match=r"'initial_lr' is not specified in param_groups\[0\]"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


CYCLIC = {
    "triangular": ("sgd", dict(momentum=0.9), dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "triangular2_asymmetric": ("sgd", dict(momentum=0.9), dict(base_lr=[0.01, 0.002], max_lr=[0.1, 0.05],
                                                                 step_size_up=3, step_size_down=5,
                                                                 mode="triangular2")),
    "exp_range_adam": ("adam", dict(), dict(base_lr=0.001, max_lr=0.01, step_size_up=5, mode="exp_range",
                                            gamma=0.97, base_momentum=0.85, max_momentum=0.95)),
    "scale_fn_cycle": ("sgd", dict(momentum=0.9), dict(base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                       scale_fn=lambda x: 1 / x)),
    "scale_fn_iterations": ("sgd", dict(momentum=0.9), dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                            scale_fn=lambda x: 0.99**x, scale_mode="iterations")),
    "no_momentum_cycle": ("sgd", dict(), dict(base_lr=0.02, max_lr=0.2, step_size_up=4, cycle_momentum=False)),
}


@pytest.mark.parametrize("name", CYCLIC)
def test_cyclic_lr_matches_torch_exactly(name):
    kind, opt_kw, kw = CYCLIC[name]
    opt, topt = optimizers(kind, **opt_kw)
    ours = lr_scheduler.CyclicLR(opt, **kw)
    theirs = torch.optim.lr_scheduler.CyclicLR(topt, **kw)
    key = "betas" if kind == "adam" else "momentum"
    seq_ours, seq_theirs = [ours.get_last_lr()], [theirs.get_last_lr()]
    momenta_ours, momenta_theirs = [[g[key] for g in opt.param_groups]], [[g[key] for g in topt.param_groups]]
    for _ in range(30):
        for o, sched, seq, mom in ((opt, ours, seq_ours, momenta_ours), (topt, theirs, seq_theirs, momenta_theirs)):
            o.step()
            sched.step()
            seq.append(sched.get_last_lr())
            mom.append([g[key] for g in o.param_groups])
    assert seq_ours == seq_theirs
    assert momenta_ours == [[tuple(m) if key == "betas" else m for m in row] for row in momenta_theirs]
    assert max(s[0] for s in seq_ours) > 2 * min(s[0] for s in seq_ours)
    assert ours.interval == "batch"


def test_cyclic_lr_bad_arguments():
    opt, _ = optimizers()
    with pytest.raises(ValueError, match="mode must be"):
        lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, mode="sine", cycle_momentum=False)
    with pytest.raises(ValueError, match="base_lr has 3 values but the optimizer has 2"):
        lr_scheduler.CyclicLR(opt, base_lr=[0.1, 0.2, 0.3], max_lr=0.1, cycle_momentum=False)
    adagrad = Adagrad([Parameter(np.zeros(2, np.float32))])
    with pytest.raises(ValueError, match="Adagrad has neither"):
        lr_scheduler.CyclicLR(adagrad, base_lr=0.01, max_lr=0.1)


@pytest.mark.parametrize("T_0, T_mult", [(4, 1), (3, 2), (2, 3)])
def test_warm_restarts_with_fractional_epochs_match_torch(T_0, T_mult):
    """torch's documented use: step(epoch + i / iters) after every batch, step() never called."""
    opt, topt = optimizers()
    ours = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=0.001)
    theirs = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=T_0, T_mult=T_mult, eta_min=0.001)
    iters = 5
    for epoch in range(20):
        for i in range(iters):
            opt.step()
            topt.step()
            ours.step(epoch + i / iters)
            theirs.step(epoch + i / iters)
            assert ours.get_last_lr() == theirs.get_last_lr()
            assert (ours.T_cur, ours.T_i, ours.last_epoch) == (theirs.T_cur, theirs.T_i, theirs.last_epoch)
    with pytest.raises(ValueError, match="non-negative epoch"):
        ours.step(-1)
    with pytest.raises(ValueError, match="positive integer T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="T_mult >= 1"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=1.5)


# composites, built by the same function from either module (L is lamina's lr_scheduler or torch's)
COMPOSITES = {
    "warmup_then_exponential": lambda L, o: L.SequentialLR(
        o, [L.LinearLR(o, start_factor=0.1, total_iters=3), L.ExponentialLR(o, gamma=0.9)], milestones=[3]),
    "three_phases": lambda L, o: L.SequentialLR(
        o, [L.LambdaLR(o, lambda e: (e + 1) / 3), L.StepLR(o, step_size=2, gamma=0.5),
            L.CosineAnnealingLR(o, T_max=6, eta_min=0.001)], milestones=[2, 7]),
    "restart_into_polynomial_and_multistep": lambda L, o: L.SequentialLR(
        o, [L.PolynomialLR(o, total_iters=4, power=2.0), L.MultiStepLR(o, milestones=[1, 3], gamma=0.3),
            L.MultiplicativeLR(o, lambda e: 0.8)], milestones=[5, 9]),
    "sequential_warm_restarts": lambda L, o: L.SequentialLR(
        o, [L.ExponentialLR(o, gamma=0.7), L.CosineAnnealingWarmRestarts(o, T_0=3)], milestones=[4]),
    "chained": lambda L, o: L.ChainedScheduler([L.ExponentialLR(o, gamma=0.9),
                                                L.MultiStepLR(o, milestones=[3, 6], gamma=0.1)]),
    "chained_with_optimizer": lambda L, o: L.ChainedScheduler(
        [L.LinearLR(o, start_factor=0.2, total_iters=4), L.ExponentialLR(o, gamma=0.95)], optimizer=o),
    "sequence_into_cyclic": lambda L, o: L.SequentialLR(
        o, [L.ExponentialLR(o, gamma=0.8), L.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                                     cycle_momentum=False)], milestones=[3]),
}


@pytest.mark.parametrize("name", COMPOSITES)
def test_composite_schedulers_match_torch_exactly(name):
    opt, topt = optimizers()
    ours = COMPOSITES[name](lr_scheduler, opt)
    theirs = COMPOSITES[name](torch.optim.lr_scheduler, topt)
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    seq_ours, seq_theirs = lr_sequences(ours, theirs, 20)
    assert seq_ours == seq_theirs
    assert len({tuple(lrs) for lrs in seq_ours}) > 5
    assert ours.interval == ("batch" if "cyclic" in name else "epoch")


def test_composite_schedulers_check_their_parts():
    opt, _ = optimizers()
    other, _ = optimizers()
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="index 1 \\(StepLR\\) belongs to another optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(other, 2)])
    with pytest.raises(ValueError, match="at least one scheduler"):
        lr_scheduler.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda must be a function"):
        lr_scheduler.MultiplicativeLR(opt, 0.9)
    one_cycle = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    assert lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(opt, 0.9), one_cycle]).interval == "batch"


class Warmup:
    """A callable object with state: torch's LambdaLR saves its __dict__ (a plain function saves nothing)."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


STATEFUL = {
    "LambdaLR": lambda o: lr_scheduler.LambdaLR(o, [Warmup(4), lambda e: 0.9**e]),
    "MultiplicativeLR": lambda o: lr_scheduler.MultiplicativeLR(o, Warmup(20)),
    "PolynomialLR": lambda o: lr_scheduler.PolynomialLR(o, total_iters=12, power=1.5),
    "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"),
    "CyclicLR_scale_fn": lambda o: lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3,
                                                         scale_fn=Warmup(3)),
    "CosineAnnealingWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    "SequentialLR": lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=4), lr_scheduler.CosineAnnealingLR(o, T_max=8)],
        milestones=[4]),
    "ChainedScheduler": lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.LambdaLR(o, Warmup(20)), lr_scheduler.StepLR(o, step_size=3, gamma=0.5)]),
}


@pytest.mark.parametrize("name", STATEFUL)
def test_new_scheduler_state_dict_round_trip_through_json(name):
    """Save after 6 steps, restore into fresh objects through JSON: the next 10 lrs and momenta are identical."""

    def make():
        opt, _ = optimizers("sgd", momentum=0.9)
        return opt, STATEFUL[name](opt)

    def advance(opt, sched, steps):
        out = []
        for _ in range(steps):
            opt.step()
            sched.step()
            out.append((sched.get_last_lr(), [g["momentum"] for g in opt.param_groups]))
        return out

    opt, sched = make()
    advance(opt, sched, 6)
    saved_opt = json.loads(json.dumps(opt.state_dict()))
    saved = json.loads(json.dumps(sched.state_dict()))
    expected = advance(opt, sched, 10)
    assert len({tuple(lrs) for lrs, _ in expected}) > 2

    opt2, sched2 = make()
    for fn in getattr(sched2, "lr_lambdas", []):  # the saved state, not the constructor's, must win
        if isinstance(fn, Warmup):
            fn.steps = 99
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert advance(opt2, sched2, 10) == expected
