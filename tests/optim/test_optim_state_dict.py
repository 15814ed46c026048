"""Optimizer and scheduler checkpoints: torch's layout, plain data (safetensors + JSON), bitwise resumption."""

import json

import numpy as np
import pytest
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from lamina.nn.parameter import Parameter
from lamina.optim import ASGD, SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop, Rprop, lr_scheduler
from lamina.tensor import Tensor

CONFIGS = {
    "SGD": (lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
            lambda o: lr_scheduler.StepLR(o, step_size=20, gamma=0.5)),
    "SGD_one_cycle": (lambda p: SGD(p, lr=0.05, momentum=0.9),
                      lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.2, total_steps=100)),
    "Adam": (lambda p: Adam(p, lr=0.01, amsgrad=True, weight_decay=0.01),
             lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=1e-4)),
    "Adam_one_cycle": (lambda p: Adam(p, lr=0.01), lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.02, epochs=4,
                                                                                     steps_per_epoch=25)),
    "AdamW": (lambda p: AdamW(p, lr=0.01, weight_decay=0.1),
              lambda o: lr_scheduler.MultiStepLR(o, milestones=[30, 60, 60], gamma=0.5)),
    "RMSprop": (lambda p: RMSprop(p, lr=0.005, momentum=0.5, centered=True),
                lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=60)),
    "Adagrad": (lambda p: Adagrad(p, lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
                lambda o: lr_scheduler.ExponentialLR(o, gamma=0.99)),
    "Adadelta": (lambda p: Adadelta(p, weight_decay=0.01), lambda o: lr_scheduler.StepLR(o, step_size=30, gamma=0.5)),
    "Adamax": (lambda p: Adamax(p, lr=0.01), lambda o: lr_scheduler.ExponentialLR(o, gamma=0.99)),
    "NAdam": (lambda p: NAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
              lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=40)),
    "RAdam": (lambda p: RAdam(p, lr=0.01), lambda o: lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=70)),
    "ASGD": (lambda p: ASGD(p, lr=0.05, t0=20), lambda o: lr_scheduler.MultiStepLR(o, milestones=[40, 70])),
    "Rprop": (lambda p: Rprop(p, lr=0.005), lambda o: lr_scheduler.StepLR(o, step_size=25, gamma=0.5)),
    "Adam_plateau": (lambda p: Adam([{"params": p[:2]}, {"params": p[2:], "lr": 0.005}], lr=0.02),
                     lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=3)),
}


def to_files(state_dict):
    """Split a state dict as a checkpoint would: arrays into safetensors bytes, everything else into JSON."""
    arrays, meta = {}, {"param_groups": state_dict["param_groups"], "state": {}}
    for index, entry in state_dict["state"].items():
        meta["state"][index] = {}
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"{index}.{key}"] = value
            else:
                assert isinstance(value, (int, float)), f"state {index}.{key} is {type(value).__name__}, not plain data"
                meta["state"][index][key] = value
    return st_save(arrays), json.dumps(meta)


def from_files(blob, text):
    meta = json.loads(text)
    for name, array in st_load(blob).items():
        index, key = name.split(".", 1)
        meta["state"][index][key] = array
    return meta


def run(twin, opt, sched, steps, plateau):
    for _ in range(steps):
        opt.zero_grad()
        loss = twin.loss()
        loss.backward()
        opt.step()
        sched.step(round(loss.item(), 1)) if plateau else sched.step()  # a coarse metric that plateaus


@pytest.mark.parametrize("name", CONFIGS)
def test_resume_from_checkpoint_is_bitwise_identical(name, make_twin):
    make_opt, make_sched = CONFIGS[name]
    plateau = name.endswith("plateau")
    straight = make_twin()
    opt_straight = make_opt(straight.params)
    sched_straight = make_sched(opt_straight)
    initial_lrs = [g["lr"] for g in opt_straight.param_groups]
    run(straight, opt_straight, sched_straight, 100, plateau)

    first = make_twin()
    opt = make_opt(first.params)
    sched = make_sched(opt)
    run(first, opt, sched, 50, plateau)
    blob, text = to_files(opt.state_dict())
    sched_text = json.dumps(sched.state_dict())
    weights = first.arrays()

    resumed = make_twin()
    for p, w in zip(resumed.params, weights):
        p.array[...] = w
    opt2 = make_opt(resumed.params)
    sched2 = make_sched(opt2)  # as torch recommends: scheduler first, then load both
    opt2.load_state_dict(from_files(blob, text))
    sched2.load_state_dict(json.loads(sched_text))
    run(resumed, opt2, sched2, 50, plateau)

    for a, b in zip(resumed.arrays(), straight.arrays()):
        np.testing.assert_array_equal(a, b)
    for p, q in zip(resumed.params, straight.params):
        for key, value in opt_straight.state[q].items():
            np.testing.assert_array_equal(opt2.state[p][key], value)
    final_lrs = [g["lr"] for g in opt_straight.param_groups]
    assert [g["lr"] for g in opt2.param_groups] == final_lrs == sched2.get_last_lr() == sched_straight.get_last_lr()
    assert final_lrs != initial_lrs, "the schedule never changed the lr: resuming it tests nothing"


def test_state_dict_has_torch_layout(make_twin):
    torch = pytest.importorskip("torch")
    twin = make_twin()
    tp = twin.torch_params()
    ours = Adam([{"params": twin.params[:2]}, {"params": twin.params[2:], "lr": 0.1}], lr=0.01, amsgrad=True)
    theirs = torch.optim.Adam([{"params": tp[:2]}, {"params": tp[2:], "lr": 0.1}], lr=0.01, amsgrad=True)
    twin.loss().backward()
    twin.torch_loss().backward()
    ours.step()
    theirs.step()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert set(sd) == set(tsd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [g["params"] for g in tsd["param_groups"]] == [[0, 1], [2, 3]]
    assert set(sd["state"]) == set(tsd["state"]) == {0, 1, 2, 3}
    for i in range(4):
        assert set(sd["state"][i]) == set(tsd["state"][i])
        assert sd["state"][i]["step"] == int(tsd["state"][i]["step"])
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_allclose(sd["state"][i][key], tsd["state"][i][key].numpy(), rtol=1e-5, atol=1e-8)
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        for key in ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"):
            assert g[key] == tg[key]
    json.dumps(sd["param_groups"])  # options are plain data


@pytest.mark.parametrize("make_opt", [
    lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: RMSprop(p, momentum=0.9, centered=True),
    lambda p: Adagrad(p), lambda p: AdamW(p, amsgrad=True), lambda p: Adadelta(p), lambda p: Adamax(p),
    lambda p: NAdam(p), lambda p: RAdam(p), lambda p: ASGD(p), lambda p: Rprop(p)])
def test_state_keys_match_torch(make_opt, make_twin):
    torch = pytest.importorskip("torch")
    twin = make_twin()
    tp = twin.torch_params()
    ours = make_opt(twin.params)
    kwargs = {k: v for k, v in ours.defaults.items() if k != "decoupled_weight_decay"}
    theirs = getattr(torch.optim, type(ours).__name__)(tp, **kwargs)
    twin.loss().backward()
    twin.torch_loss().backward()
    ours.step()
    theirs.step()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert {i: set(s) for i, s in sd["state"].items()} == {i: set(s) for i, s in tsd["state"].items()}


def test_loaded_state_is_copied_not_aliased(make_twin):
    twin = make_twin()
    opt = Adam(twin.params, lr=0.01)
    twin.loss().backward()
    opt.step()
    saved = opt.state_dict()
    snapshot = {i: {k: np.copy(v) for k, v in s.items()} for i, s in saved["state"].items()}
    opt2 = Adam(twin.params, lr=0.01)
    opt2.load_state_dict(saved)
    opt2.step()
    for i, s in saved["state"].items():  # opt2's step did not write into the loaded dict
        for k, v in s.items():
            np.testing.assert_array_equal(v, snapshot[i][k])
    saved["param_groups"][0]["lr"] = 123.0
    assert opt2.param_groups[0]["lr"] == 0.01
    assert opt2.param_groups[0]["params"] == twin.params


def test_load_casts_to_the_parameter_dtype_and_accepts_json_keys():
    p = Parameter(np.zeros(3, np.float32))
    opt = Adam([p], lr=0.1)
    opt.load_state_dict({
        "state": {"0": {"step": 4, "exp_avg": [0.1, 0.2, 0.3], "exp_avg_sq": np.ones(3, np.float64)}},
        "param_groups": [{"lr": 0.5, "betas": [0.8, 0.9], "eps": 1e-8, "weight_decay": 0, "amsgrad": False,
                          "maximize": False, "decoupled_weight_decay": False, "params": [0]}],
    })
    state = opt.state[p]
    assert state["step"] == 4 and state["exp_avg"].dtype == np.float32 and state["exp_avg_sq"].dtype == np.float32
    assert opt.param_groups[0]["betas"] == (0.8, 0.9) and opt.param_groups[0]["lr"] == 0.5
    p.grad = Tensor(np.ones(3, np.float32))
    opt.step()
    assert state["step"] == 5


def test_adamw_stays_decoupled_after_loading_an_adam_dict():
    p = Parameter(np.zeros(3, np.float32))
    sd = Adam([p]).state_dict()
    opt = AdamW([p])
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_load_state_dict_errors_are_clear():
    a, b, c = (Parameter(np.zeros(s, np.float32)) for s in ((2, 3), (3,), (4,)))
    source = SGD([{"params": [a, b]}, {"params": [c]}], lr=0.1, momentum=0.9)
    for p in (a, b, c):
        p.grad = Tensor(np.ones(p.shape, np.float32))
    source.step()
    sd = source.state_dict()

    with pytest.raises(ValueError, match="has 2 parameter groups but this optimizer has 1"):
        SGD([a, b, c], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 of the loaded state dict has 2 parameters but this optimizer's "
                                         "group 0 has 1"):
        SGD([{"params": [a]}, {"params": [b, c]}], lr=0.1).load_state_dict(sd)
    other = Parameter(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: state 'momentum_buffer' of parameter 1 has shape "
                                         r"\(3,\) but the parameter has shape \(5,\)"):
        SGD([{"params": [a, other]}, {"params": [c]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="expected a dict with 'state' and 'param_groups'"):
        SGD([a], lr=0.1).load_state_dict({"weights": 1})
    with pytest.raises(ValueError, match="state for parameter 7"):
        SGD([a], lr=0.1).load_state_dict({"state": {7: {}}, "param_groups": [{"lr": 0.1, "params": [0]}]})
    target = SGD([{"params": [a, b]}, {"params": [c]}], lr=0.3)
    try:
        target.load_state_dict({**sd, "state": {1: {"momentum_buffer": np.zeros(9)}}})
    except ValueError:
        pass
    assert target.param_groups[0]["lr"] == 0.3 and not target.state  # a failed load leaves the optimizer unchanged


def test_scheduler_state_dict_is_plain_data_without_the_optimizer():
    opt = SGD([Parameter(np.zeros(2, np.float32))], lr=0.1, momentum=0.9)
    for sched in (lr_scheduler.MultiStepLR(opt, milestones=[3, 3, 5]), lr_scheduler.OneCycleLR(opt, 0.5, 10),
                  lr_scheduler.ReduceLROnPlateau(opt)):
        sd = sched.state_dict()
        assert "optimizer" not in sd
        restored = json.loads(json.dumps(sd))
        assert restored["last_epoch"] == sched.last_epoch
    assert lr_scheduler.MultiStepLR(opt, milestones=[3, 3, 5]).state_dict()["milestones"] == [3, 3, 5]
