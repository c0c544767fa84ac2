"""sgdlab.binding: finding broken links between variables and optimizer, and safe changes."""

from __future__ import annotations

import pytest
import torch

import sgdlab
from helpers import article_tensors
from sgdlab.binding import FINDING_KINDS


def kinds(report):
    return [finding.kind for finding in report.findings]


def text(report):
    """The report's text with its line wrapping undone."""
    return " ".join(str(report).split())


def test_intact_binding_is_ok():
    x, c, _ = article_tensors()
    report = sgdlab.check_binding(torch.optim.SGD([x, c], lr=1.0), x=x, c=c)
    assert report.ok and str(report) == "binding ok: x, c are tensors the optimizer updates"


def test_article_first_case_tensor_replaced_inside_param_groups():
    x, c, y = article_tensors()
    optimizer = torch.optim.SGD([x, c], lr=0.1)
    optimizer.param_groups[0]["params"][0] = torch.tensor(10.0, requires_grad=True)
    report = sgdlab.check_binding(optimizer, x=x, c=c)
    assert kinds(report) == ["not_held", "not_given"]
    assert "x = tensor(5.0000) is not a tensor the optimizer holds" in report.findings[0].message
    assert "group0.param0 = tensor(10.0000)" in report.findings[1].message


def test_article_second_case_variable_rebound():
    x, c, y = article_tensors()
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    x = torch.tensor(10.0, requires_grad=True)
    report = sgdlab.check_binding(optimizer, {"x": x, "c": c})
    assert kinds(report) == ["not_held", "not_given"]
    assert "group0.param0 = tensor(5.0000)" in text(report)
    assert str(report).startswith("binding: 2 problems\n  - not_held: x = tensor(10.0000)")


def test_nothing_given_reports_only_tensor_problems():
    x, c, _ = article_tensors()
    assert sgdlab.check_binding(torch.optim.SGD([x, c], lr=1.0)).ok


def test_module_names_its_parameters():
    model = torch.nn.Linear(2, 1)
    assert sgdlab.check_binding(torch.optim.SGD(model.parameters(), lr=0.1), model).ok


def test_non_leaf_and_no_requires_grad_tensors():
    leaf = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([leaf], lr=0.1)
    computed, frozen = leaf * 2, torch.ones(2)
    optimizer.param_groups[0]["params"] = [computed, frozen]
    report = sgdlab.check_binding(optimizer, computed=computed, frozen=frozen)
    assert kinds(report) == ["non_leaf", "no_requires_grad"]
    assert "computed is not a leaf tensor (it has grad_fn MulBackward0)" in text(report)


def test_grad_of_another_dtype():
    w = torch.ones(2, requires_grad=True)
    w.grad_dtype = None  # torch refuses a grad of another dtype unless told to allow it
    w.grad = torch.ones(2, dtype=torch.float64)
    report = sgdlab.check_binding(torch.optim.SGD([w], lr=0.1), w=w)
    assert kinds(report) == ["grad_mismatch"]
    assert "w is torch.float32 on cpu but its .grad is torch.float64 on cpu" in text(report)


def test_same_tensor_twice_held_and_given():
    w = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    optimizer.param_groups[0]["params"].append(w)
    report = sgdlab.check_binding(optimizer, w=w, also_w=w)
    assert kinds(report) == ["duplicate", "duplicate"]
    assert "group0.param1 is the same tensor as group0.param0" in text(report)
    assert "also_w and w are the same tensor" in text(report)


def test_every_kind_is_documented():
    assert set(FINDING_KINDS) == {
        "not_held", "not_given", "non_leaf", "no_requires_grad", "grad_mismatch", "duplicate",
        "missing", "no_grad", "state_mismatch",
    }


def test_a_parameter_left_out_of_the_optimizer_is_missing():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    report = sgdlab.check_binding(torch.optim.SGD(model[1].parameters(), lr=0.1), model)
    assert kinds(report) == ["missing", "missing"]
    assert "0.weight = a float32 tensor of shape (2, 2) was never given to the optimizer" in text(report)


def test_missing_is_told_from_rebound_by_what_the_optimizer_holds_instead():
    """A lost place (some held tensor unnamed) means rebound; no lost place means never given."""
    x, c = torch.ones(1, requires_grad=True), torch.ones(1, requires_grad=True)
    assert kinds(sgdlab.check_binding(torch.optim.SGD([c], lr=0.1), x=x, c=c)) == ["missing"]
    optimizer = torch.optim.SGD([torch.ones(1, requires_grad=True), c], lr=0.1)
    assert kinds(sgdlab.check_binding(optimizer, x=x, c=c)) == ["not_held", "not_given"]


def test_a_none_grad_after_backward_is_reported_when_told_backward_ran():
    """Without after_backward, a None grad may just be a tensor swapped in since the last pass."""
    p, q = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([p, q], lr=0.1)
    (p.detach() + q).sum().backward()
    assert sgdlab.check_binding(optimizer, p=p, q=q).ok
    report = sgdlab.check_binding(optimizer, p=p, q=q, after_backward=True)
    assert kinds(report) == ["no_grad"]
    assert "p.grad is None after backward(), so step() skips p" in text(report)


def test_after_backward_reports_a_lone_none_grad():
    p = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1)
    assert sgdlab.check_binding(optimizer, p=p).ok
    assert kinds(sgdlab.check_binding(optimizer, p=p, after_backward=True)) == ["no_grad"]
    p.grad = torch.ones(2)
    assert sgdlab.check_binding(optimizer, p=p, after_backward=True).ok


def test_a_frozen_tensor_is_not_also_reported_for_its_missing_grad():
    frozen, live = torch.ones(2), torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([frozen, live], lr=0.1)
    (frozen * live).sum().backward()
    report = sgdlab.check_binding(optimizer, frozen=frozen, live=live, after_backward=True)
    assert kinds(report) == ["no_requires_grad"]


def test_after_backward_must_be_a_bool():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="after_backward must be True or False, got int: 1"):
        sgdlab.check_binding(torch.optim.SGD([w], lr=0.1), w=w, after_backward=1)


def test_a_copy_made_by_to_is_a_non_leaf_not_a_rebinding():
    w = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    report = sgdlab.check_binding(optimizer, w=w.to(torch.float64))
    assert kinds(report) == ["not_given", "non_leaf"]
    assert "w is not a leaf tensor (it has grad_fn ToCopyBackward0): it is computed" in text(report)


@pytest.mark.parametrize("change", ["dtype", "device"])
def test_a_momentum_buffer_of_another_dtype_or_device(change):
    w = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = torch.ones(2)
    optimizer.step()
    assert sgdlab.check_binding(optimizer, w=w).ok
    w.grad = None
    if change == "dtype":
        w.data = w.data.double()
        expected = "w is torch.float64 on cpu but its momentum_buffer is torch.float32 on cpu"
    else:  # a buffer left on another device (meta stands in for a GPU on any machine)
        optimizer.state[w]["momentum_buffer"] = optimizer.state[w]["momentum_buffer"].to("meta")
        expected = "w is torch.float32 on cpu but its momentum_buffer is torch.float32 on meta"
    report = sgdlab.check_binding(optimizer, w=w)
    assert kinds(report) == ["state_mismatch"]
    assert expected in text(report)


def test_report_lines_fit_a_code_box():
    x = torch.tensor(5.0, requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.1)
    x = torch.tensor(10.0, requires_grad=True)
    lines = str(sgdlab.check_binding(optimizer, x=x)).splitlines()
    assert len(lines) > 3 and max(map(len, lines)) <= sgdlab.binding.REPORT_WIDTH


def test_a_name_given_twice_is_a_value_error():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="names and the keyword arguments both name w"):
        sgdlab.check_binding(torch.optim.SGD([w], lr=0.1), {"w": w}, w=w)


def test_non_tensor_keyword_is_a_type_error():
    w = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"named tensor\['w'\] must be a tensor, got float"):
        sgdlab.check_binding(torch.optim.SGD([w], lr=0.1), w=1.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda bad: sgdlab.check_binding(bad),
        lambda bad: sgdlab.replace_param(bad, torch.ones(1), torch.ones(1)),
        lambda bad: sgdlab.set_lr(bad, 0.1),
    ],
    ids=["check_binding", "replace_param", "set_lr"],
)
@pytest.mark.parametrize("bad", [3, "optimizer"])
def test_non_optimizer_is_a_type_error(call, bad):
    with pytest.raises(TypeError, match=f"optimizer must be a torch.optim.optimizer.Optimizer, got {type(bad).__name__}"):
        call(bad)


# --- assign_ -----------------------------------------------------------------


def test_assign_keeps_the_link_and_the_next_step_uses_the_new_value():
    x, c, _ = article_tensors()
    optimizer = torch.optim.SGD([x, c], lr=1.0)
    sgdlab.assign_(x, 10.0)
    (x * 2).backward()
    optimizer.step()
    assert x.item() == 8.0 and x.requires_grad and x.is_leaf


def test_assign_tensor_of_the_same_shape_and_a_broadcast_number():
    w = torch.zeros(2, 2, requires_grad=True)
    sgdlab.assign_(w, torch.ones(2, 2, dtype=torch.float64))
    assert torch.equal(w, torch.ones(2, 2)) and w.dtype == torch.float32
    sgdlab.assign_(w, 3)
    assert torch.equal(w, torch.full((2, 2), 3.0))


def test_assign_wrong_shape_is_a_value_error_and_changes_nothing():
    w = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"value has shape \(3,\) but tensor has shape \(2,\)"):
        sgdlab.assign_(w, [1.0, 2.0, 3.0])
    assert torch.equal(w, torch.zeros(2))


def test_assign_float_into_integer_tensor_is_a_type_error():
    counts = torch.zeros(2, dtype=torch.int64)
    with pytest.raises(TypeError, match="value of dtype torch.float32 cannot be written into tensor of dtype torch.int64"):
        sgdlab.assign_(counts, 1.5)


@pytest.mark.parametrize(("tensor", "value", "message"), [
    (5.0, 1.0, "tensor must be a tensor, got float"),
    (torch.zeros(1), "a", "value must be a tensor or numbers, got str"),
    (torch.zeros(1), True, "value must be a tensor or numbers, got bool"),
])
def test_assign_bad_arguments_are_type_errors(tensor, value, message):
    with pytest.raises(TypeError, match=message):
        sgdlab.assign_(tensor, value)


# --- replace_param -------------------------------------------------------------


def test_replace_param_carries_momentum_and_matches_an_unbroken_run():
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(3, generator=generator) for _ in range(4)]
    old = torch.ones(3, requires_grad=True)
    reference = torch.ones(3, requires_grad=True)
    optimizer = torch.optim.SGD([old], lr=0.1, momentum=0.9)
    unbroken = torch.optim.SGD([reference], lr=0.1, momentum=0.9)
    for step, grad in enumerate(grads):
        if step == 2:
            new = old.detach().clone().requires_grad_()
            sgdlab.replace_param(optimizer, old, new)
            old = new
        old.grad, reference.grad = grad.clone(), grad.clone()
        optimizer.step()
        unbroken.step()
    assert torch.equal(old, reference)
    assert len(optimizer.state) == 1


def test_replace_param_moves_state_to_the_new_dtype():
    old = torch.ones(2, requires_grad=True)
    optimizer = sgdlab.SGD([old], lr=0.1, momentum=0.9)
    old.grad = torch.ones(2)
    optimizer.step()
    new = torch.ones(2, dtype=torch.float64, requires_grad=True)
    sgdlab.replace_param(optimizer, old, new)
    assert optimizer.state[new]["momentum_buffer"].dtype == torch.float64
    assert old not in optimizer.state


@pytest.mark.parametrize(("make_new", "message"), [
    (lambda old: torch.ones(3, requires_grad=True), r"new has shape \(3,\) but old has shape \(2,\)"),
    (lambda old: torch.ones(2, requires_grad=True) * 2, "new must be a leaf tensor"),
    (lambda old: torch.ones(2), "new does not require grad"),
])
def test_replace_param_bad_new_is_a_value_error_and_changes_nothing(make_new, message):
    old = torch.ones(2, requires_grad=True)
    optimizer = torch.optim.SGD([old], lr=0.1)
    with pytest.raises(ValueError, match=message):
        sgdlab.replace_param(optimizer, old, make_new(old))
    assert optimizer.param_groups[0]["params"][0] is old


def test_replace_param_old_not_held_is_a_value_error():
    optimizer = torch.optim.SGD([torch.ones(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"old \(a float32 tensor of shape \(2,\)\) is not a tensor this optimizer holds"):
        sgdlab.replace_param(optimizer, torch.ones(2), torch.ones(2, requires_grad=True))


def test_replace_param_new_already_held_is_a_value_error():
    a, b = torch.ones(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="new is already held"):
        sgdlab.replace_param(optimizer, a, b)
    assert optimizer.param_groups[0]["params"] == [a, b]


def test_replace_param_non_tensor_is_a_type_error():
    a = torch.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="new must be a tensor, got list"):
        sgdlab.replace_param(torch.optim.SGD([a], lr=0.1), a, [1.0, 2.0])


# --- set_lr ------------------------------------------------------------------------


def two_group_optimizer():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    optimizer.add_param_group({"params": [torch.zeros(1, requires_grad=True)], "lr": 2.0})
    return optimizer


def lrs(optimizer):
    return [group["lr"] for group in optimizer.param_groups]


def test_set_lr_all_groups_and_one_group():
    optimizer = two_group_optimizer()
    sgdlab.set_lr(optimizer, 0.1)
    assert lrs(optimizer) == [0.1, 0.1]
    sgdlab.set_lr(optimizer, 0.5, group=1)
    assert lrs(optimizer) == [0.1, 0.5]


def test_set_lr_refills_a_tensor_lr():
    lr = torch.tensor(1.0)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sgdlab.set_lr(optimizer, 0.25)
    assert optimizer.param_groups[0]["lr"] is lr and lr.item() == 0.25


@pytest.mark.parametrize(("lr", "group", "error", "message"), [
    (-0.1, None, ValueError, "lr must be >= 0, got -0.1"),
    (float("nan"), None, ValueError, "lr must be finite, got nan"),
    ("0.1", None, TypeError, "lr must be a real number, got str"),
    (0.1, 2, ValueError, "group must be between 0 and 1, got 2"),
    (0.1, -1, ValueError, "group must be between 0 and 1, got -1"),
    (0.1, "0", TypeError, "group must be an int or None, got str"),
])
def test_set_lr_bad_input_leaves_optimizer_unchanged(lr, group, error, message):
    optimizer = two_group_optimizer()
    with pytest.raises(error, match=message):
        sgdlab.set_lr(optimizer, lr, group=group)
    assert lrs(optimizer) == [1.0, 2.0]
