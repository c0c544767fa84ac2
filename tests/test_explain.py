"""sgdlab.explain: formulas with numbers, predictions equal to step(), describe()."""

from __future__ import annotations

import copy
import itertools

import warnings

import pytest
import torch

import sgdlab
from helpers import DEVICE_PARAMS, article_tensors
from sgdlab.explain import _format_tensor

OPTIMIZERS = [torch.optim.SGD, sgdlab.SGD]


def flag_grid():
    """Every valid combination of SGD's flags, with one setting per numeric knob."""
    for momentum, dampening, nesterov, weight_decay, maximize, foreach in itertools.product(
        [0.0, 0.9], [0.0, 0.3], [False, True], [0.0, 0.05], [False, True], [False, True]
    ):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        yield dict(lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov,
                   weight_decay=weight_decay, maximize=maximize, foreach=foreach)


def make_problem(dtype, device):
    """A scalar, a matrix and a vector left without grad, and a loss over the first two."""
    x = torch.tensor(5.0, dtype=dtype, device=device, requires_grad=True)
    w = torch.linspace(-1, 1, 6, dtype=dtype, device=device).reshape(2, 3).requires_grad_()
    idle = torch.ones(2, dtype=dtype, device=device, requires_grad=True)

    def loss():
        return torch.sin(x) * 3 + (w**3).sum() + x * w.sum()

    return {"x": x, "w": w, "idle": idle}, loss


def snapshot(optimizer):
    """A deep copy of everything step() may change: params, grads and state."""
    params = [p.detach().clone() for group in optimizer.param_groups for p in group["params"]]
    return params, copy.deepcopy(optimizer.state_dict())


@pytest.mark.parametrize("device", DEVICE_PARAMS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("optimizer_class", OPTIMIZERS, ids=["torch", "sgdlab"])
def test_prediction_equals_step_over_the_flag_grid(device, dtype, optimizer_class):
    for config in flag_grid():
        tensors, loss = make_problem(dtype, device)
        optimizer = optimizer_class(tensors.values(), **config)
        for _ in range(3):
            optimizer.zero_grad()
            loss().backward()
            explanation = sgdlab.explain_step(optimizer, tensors)
            optimizer.step()
            for name, tensor in tensors.items():
                entry = explanation[name]
                assert torch.equal(entry.new_value, tensor), (config, name)
                assert _format_tensor(entry.new_value) == _format_tensor(tensor)
                headline = entry.lines[0]
                if entry.grad is not None:
                    assert f"= {_format_tensor(tensor)}" in headline
                buffer = optimizer.state.get(tensor, {}).get("momentum_buffer")
                if buffer is not None:
                    assert torch.equal(entry.momentum_buffer, buffer)


def test_explain_step_leaves_the_optimizer_untouched():
    tensors, loss = make_problem(torch.float32, "cpu")
    optimizer = torch.optim.SGD(tensors.values(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        loss().backward()
        before_params, before_state = snapshot(optimizer)
        sgdlab.explain_step(optimizer, tensors)
        after_params, after_state = snapshot(optimizer)
        assert all(torch.equal(a, b) for a, b in zip(before_params, after_params))
        for key, entry in before_state["state"].items():
            assert torch.equal(entry["momentum_buffer"], after_state["state"][key]["momentum_buffer"])
        assert before_state["state"].keys() == after_state["state"].keys()
        optimizer.step()


def test_the_article_case_prints_the_article_numbers():
    x, c, y = article_tensors()
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    y.backward()
    text = str(sgdlab.explain_step(optimizer, {"x": x, "c": c}))
    optimizer.step()
    # the numbers the article printed, checked against what step() produced
    assert text.splitlines() == [
        f"x: 5.0000 - 1.0 x {x.grad.item():.4f} = {x.item():.4f}",
        f"c: 3.0000 - 1.0 x {c.grad.item():.4f} = {c.item():.4f}",
    ]
    assert "1337.7185" in text and "-1332.7185" in text and "-442.2395" in text


def test_stage_lines_name_each_ingredient():
    x = torch.tensor(5.0, requires_grad=True)
    optimizer = sgdlab.SGD([x], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)
    texts = []
    for _ in range(2):
        optimizer.zero_grad()
        (x**2).backward()
        texts.append(str(sgdlab.explain_step(optimizer, {"x": x})))
        optimizer.step()
    first, second = texts
    assert "g = -grad = -10.0000  [maximize" in first
    assert "g = g + 0.1 x p = -10.0000 + 0.1 x 5.0000 = -9.5000  [weight decay]" in first
    assert "b = g = -9.5000  [momentum, first step" in first
    assert "[Nesterov look-ahead]" in first
    assert "b = 0.9 x b + g = 0.9 x (-9.5000) + " in second
    assert "first step" not in second


def test_dampening_shows_in_the_buffer_line():
    x = torch.tensor(5.0, requires_grad=True)
    optimizer = sgdlab.SGD([x], lr=0.1, momentum=0.5, dampening=0.25)
    for _ in range(2):
        optimizer.zero_grad()
        (x**2).backward()
        text = str(sgdlab.explain_step(optimizer, {"x": x}))
        optimizer.step()
    assert "b = 0.5 x b + (1 - 0.25) x g" in text


def test_entries_flag_the_first_step():
    x = torch.tensor(1.0, requires_grad=True)
    optimizer = sgdlab.SGD([x], lr=0.1, momentum=0.9)
    flags = []
    for _ in range(2):
        x.grad = torch.tensor(1.0)
        flags.append(sgdlab.explain_step(optimizer)["group0.param0"].first_step)
        optimizer.step()
    assert flags == [True, False]


def test_non_scalar_shows_shape_and_first_entries():
    w = torch.arange(6.0).reshape(2, 3).requires_grad_()
    w.grad = torch.ones(2, 3)
    text = str(sgdlab.explain_step(sgdlab.SGD([w], lr=0.5), {"w": w}))
    assert text == (
        "w: [0.0000, 1.0000, 2.0000, ...] - 0.5 x [1.0000, 1.0000, 1.0000, ...]"
        " = [-0.5000, 0.5000, 1.5000, ...] (shape (2, 3), first 3 of 6 entries, elementwise)"
    )


def test_params_without_grad_are_reported_unchanged():
    x, c, _ = article_tensors()
    x.grad = torch.tensor(1.0)
    explanation = sgdlab.explain_step(torch.optim.SGD([x, c], lr=1.0), {"x": x})
    assert str(explanation["group0.param1"]) == "group0.param1: no grad, so step() leaves it at 3.0000"
    assert explanation["group0.param1"].new_value.item() == 3.0
    assert explanation.predicted["x"].item() == 4.0


def test_names_from_a_module():
    model = torch.nn.Linear(2, 1)
    for param in model.parameters():
        param.grad = torch.ones_like(param)
    explanation = sgdlab.explain_step(torch.optim.SGD(model.parameters(), lr=0.1), model)
    assert [entry.name for entry in explanation] == ["weight", "bias"]


def test_names_from_param_names_of_named_parameters():
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.named_parameters(), lr=0.1)
    assert [entry.name for entry in sgdlab.explain_step(optimizer)] == ["weight", "bias"]


def test_fused_torch_optimizer_is_predicted_exactly():
    tensors, loss = make_problem(torch.float32, "cpu")
    optimizer = torch.optim.SGD(tensors.values(), lr=0.1, momentum=0.9, fused=True)
    for _ in range(2):
        optimizer.zero_grad()
        loss().backward()
        predicted = sgdlab.explain_step(optimizer, tensors).predicted
        optimizer.step()
        assert all(torch.equal(predicted[name], tensor) for name, tensor in tensors.items())


def test_unknown_name_lookup_lists_the_names():
    x, c, y = article_tensors()
    y.backward()
    explanation = sgdlab.explain_step(torch.optim.SGD([x, c], lr=1.0), {"x": x})
    with pytest.raises(KeyError, match="no parameter named 'c'; the names are: x, group0.param1"):
        explanation["c"]


@pytest.mark.parametrize("function", [sgdlab.explain_step, sgdlab.describe])
@pytest.mark.parametrize("bad", [3, "SGD", None])
def test_non_optimizer_is_a_type_error_naming_optimizer(function, bad):
    with pytest.raises(TypeError, match=f"optimizer must be a .*, got {type(bad).__name__}"):
        function(bad)


def test_explain_step_refuses_other_optimizers():
    adam = torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.sgd.SGD or sgdlab.optim.SGD, got Adam"):
        sgdlab.explain_step(adam)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["x"], "names must be a mapping of name to tensor or a torch.nn.Module, got list"),
        ({"x": 5.0}, r"names\['x'\] must be a tensor, got float"),
        ({1: torch.zeros(1)}, "names keys must be strings, got int"),
    ],
)
def test_bad_names_are_type_errors(names, message):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match=message):
        sgdlab.explain_step(optimizer, names)


@pytest.mark.parametrize("value", [1337.7185, -442.2395, 0.1234, 3.5e-7, -2.5e9, 12.25])
def test_format_number_matches_torch_print(value):
    printed = str(torch.tensor(value)).removeprefix("tensor(").removesuffix(")")
    assert sgdlab.format_number(torch.tensor(value).item()) == printed


def test_format_number_follows_print_options():
    torch.set_printoptions(precision=2)
    try:
        assert sgdlab.format_number(1.23456) == "1.23"
    finally:
        torch.set_printoptions(profile="default")


def test_describe_lists_groups_parameters_and_state():
    x, c, y = article_tensors()
    w = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    optimizer = sgdlab.SGD([x, c], lr=1.0, momentum=0.9)
    optimizer.add_param_group({"params": [w], "lr": 0.5})
    y.backward()
    optimizer.step()
    lines = sgdlab.describe(optimizer, {"x": x, "c": c}).splitlines()
    assert lines[0] == "SGD: 2 parameter groups, 3 parameters"
    assert lines[1].startswith("group 0: lr=1.0, momentum=0.9, dampening=0")
    assert lines[2].split() == ["name", "shape", "dtype", "device", "requires_grad", "grad", "state"]
    assert lines[3].split() == ["x", "()", "float32", "cpu", "True", "yes", "momentum_buffer"]
    assert lines[5].startswith("group 1: lr=0.5")
    assert lines[7].split() == ["group1.param0", "(2,", "3)", "float64", "cpu", "True", "no", "-"]


def test_describe_works_for_any_optimizer():
    w = torch.zeros(2, requires_grad=True)
    text = sgdlab.describe(torch.optim.Adam([w], lr=0.1), {"w": w})
    assert text.startswith("Adam: 1 parameter group, 1 parameter\n")


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sparse_gradients_are_explained_and_predicted(momentum):
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(4, 2, sparse=True)
    optimizer = sgdlab.SGD(embedding.parameters(), lr=0.1, momentum=momentum)
    for indices in ([0, 2], [1, 2]):
        optimizer.zero_grad()
        embedding(torch.tensor(indices)).sum().backward()
        explanation = sgdlab.explain_step(optimizer, embedding)
        optimizer.step()
        assert torch.equal(explanation["weight"].new_value, embedding.weight)
        assert str(explanation).startswith("weight: [")


def test_sparse_gradient_with_weight_decay_is_a_value_error():
    embedding = torch.nn.Embedding(4, 2, sparse=True)
    optimizer = torch.optim.SGD(embedding.parameters(), lr=0.1, weight_decay=0.01)
    embedding(torch.tensor([0, 1])).sum().backward()
    with pytest.raises(ValueError, match=r"weight_decay=0.01 needs dense gradients"):
        sgdlab.explain_step(optimizer)


def _flag_grid():
    paths = [dict(foreach=False), dict(foreach=True), dict(differentiable=True), dict(fused=True)]
    kinds = [dict(), dict(momentum=0.9), dict(momentum=0.9, dampening=0.3), dict(momentum=0.9, nesterov=True)]
    for path, kind, maximize, weight_decay, tensor_lr in itertools.product(
            paths, kinds, (False, True), (0.0, 0.01), (False, True)):
        yield {**path, **kind, "maximize": maximize, "weight_decay": weight_decay,
               "lr": torch.tensor(0.05) if tensor_lr else 0.05}


@pytest.mark.parametrize("optimizer_class", ["torch", "sgdlab", "sgdlab fused"])
def test_the_prediction_is_the_step_that_follows_over_the_flag_grid(optimizer_class):
    """Over foreach, fused, differentiable, maximize, nesterov, dampening and tensor lr, three
    steps each: explain_step's values and buffers are those step() then gives, bit for bit."""
    generator = torch.Generator().manual_seed(3)
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sgdlab.fused.FusedCompileWarning)
        for settings in _flag_grid():
            fused = bool(settings.get("fused"))
            if optimizer_class != "torch" and fused != (optimizer_class == "sgdlab fused"):
                continue
            kind = torch.optim.SGD if optimizer_class == "torch" else sgdlab.SGD
            params = [torch.randn(5, generator=generator), torch.randn(2, 3, generator=generator).t()]
            if not settings.get("differentiable"):  # else: in-place steps on leaves would fail
                params = [param.requires_grad_() for param in params]
            optimizer = kind(params, **settings)
            for _ in range(3):
                for param in params:
                    param.grad = torch.randn(param.shape, generator=generator).reshape(param.shape)
                explanation = sgdlab.explain_step(optimizer)
                optimizer.step()
                for entry, param in zip(explanation, params):
                    assert torch.equal(entry.new_value, param.detach()), settings
                    if optimizer.param_groups[0]["momentum"]:
                        assert torch.equal(entry.momentum_buffer, optimizer.state[param]["momentum_buffer"]), settings
                    checked += 1
    assert checked == 3 * 2 * {"torch": 128, "sgdlab": 96, "sgdlab fused": 32}[optimizer_class]
