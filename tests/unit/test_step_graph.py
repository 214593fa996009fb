import pytest

from hls_operators.core.step_graph import STEP_UPSTREAMS, step_order, steps_through


def test_every_step_comes_after_what_it_waits_for():
    order = step_order()
    assert order[0] == "probe" and order[-1] == "verify_and_flip" and sorted(order) == sorted(STEP_UPSTREAMS)
    for step, upstreams in STEP_UPSTREAMS.items():
        assert all(order.index(before) < order.index(step) for before in upstreams)


def test_the_transcode_stage_runs_without_the_thumbnails():
    assert steps_through("package") == ["probe", "encode", "audio", "package"]
    assert steps_through("verify_and_flip") == step_order()


def test_steps_that_wait_on_each_other_are_refused():
    with pytest.raises(ValueError, match="wait on each other"):
        step_order({"probe": (), "a": ("b",), "b": ("a",)})
