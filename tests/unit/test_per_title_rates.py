import pytest

from hls_operators.core.chunks import Chunk
from hls_operators.core.ladder import Rung
from hls_operators.core.per_title import (
    RungChoice,
    SamplePoint,
    choose_rate,
    drop_redundant,
    quality_at,
    rate_for,
    sample_windows,
    second_rates,
)

TOP = Rung("1080p", 1920, 1080, 5000, reason="1080p rung")
EASY = [SamplePoint(1250, 93.0), SamplePoint(2500, 96.0), SamplePoint(5000, 98.0)]
HARD = [SamplePoint(1250, 60.0), SamplePoint(2500, 72.0), SamplePoint(5000, 84.0), SamplePoint(7500, 89.0)]


def test_samples_spread_over_the_movie_and_take_a_tenth_of_it_at_most():
    assert sample_windows(0.8, 3, 2) == [Chunk(0, 0, None)]  # shorter than a second: all of it
    assert sample_windows(10.0, 3, 2) == [Chunk(0, 4, 5)]  # one second of ten
    assert sample_windows(60.0, 3, 2) == [Chunk(0, 9, 11), Chunk(1, 29, 31), Chunk(2, 49, 51)]
    assert len(sample_windows(7200.0, 3, 2)) == 3


def test_a_rung_above_the_target_is_sampled_lower_and_a_top_rung_below_it_at_its_ceiling():
    low = Rung("360p", 640, 360, 800)
    easy = {"1080p": [SamplePoint(5000, 98.0)], "360p": [SamplePoint(800, 80.0)]}
    # the lowest comes along: it may have to fall below the falling top
    assert second_rates([TOP, low], easy, target=95.0, ceiling=1.5, top=TOP) == {
        "1080p": [1250, 2500],
        "360p": [200, 400],
    }
    hard = {"1080p": [SamplePoint(5000, 84.0)], "360p": [SamplePoint(800, 60.0)]}
    assert second_rates([TOP, low], hard, target=95.0, ceiling=1.5, top=TOP) == {"1080p": [7500]}
    assert second_rates([TOP, low], hard, target=95.0, ceiling=1.5, top=None) == {}  # a copied top never rises
    near = {"1080p": [SamplePoint(5000, 95.2)], "360p": [SamplePoint(800, 60.0)]}
    assert second_rates([TOP, low], near, target=95.0, ceiling=1.5, top=TOP) == {}


def test_the_curve_is_linear_in_the_rates_logarithm_and_never_falls():
    assert quality_at(EASY, 2500) == 96.0 and quality_at(EASY, 9000) == 98.0
    assert quality_at(EASY, 2500 * 2**0.5) == pytest.approx(97.0)
    assert rate_for(EASY, 97.0) == pytest.approx(2500 * 2**0.5)
    assert rate_for(EASY, 99.0) is None and rate_for(EASY, 90.0) == 1250
    noisy = [SamplePoint(1000, 80.0), SamplePoint(2000, 79.0), SamplePoint(4000, 90.0)]
    assert quality_at(noisy, 2000) == 80.0  # more bits never score worse


def test_an_easy_title_falls_to_the_rate_of_the_target():
    choice = choose_rate(TOP, EASY, target=95.0, ceiling=1.5, top=True)
    assert 1250 < choice.rung.video_kbps < 2500 and choice.quality == pytest.approx(95.5, abs=0.01)
    assert choice.rung.reason.startswith("1080p rung; per title: reaches VMAF 95 below its 5000 kbit/s")


def test_a_hard_title_top_rung_rises_to_its_ceiling_and_a_lower_rung_keeps_its_rate():
    top = choose_rate(TOP, HARD, target=95.0, ceiling=1.5, top=True)
    assert top.rung.video_kbps == 7500 and top.quality == 89.0 and "rises to its ceiling" in top.reason
    lower = choose_rate(TOP, HARD, target=95.0, ceiling=1.5, top=False)
    assert lower.rung.video_kbps == 5000 and lower.quality == 84.0


def test_a_rung_near_the_target_keeps_its_fixed_rate():
    near = [SamplePoint(1250, 85.0), SamplePoint(2500, 91.0), SamplePoint(5000, 95.3)]
    assert choose_rate(TOP, near, target=95.0, ceiling=1.5, top=True).rung.video_kbps == 5000


def choice(name: str, kbps: int, quality: float) -> RungChoice:
    return RungChoice(Rung(name, 2, 2, kbps), quality, "")


def test_a_rung_matched_by_a_cheaper_one_below_and_a_rung_that_costs_as_much_as_a_better_one_go():
    kept, dropped = drop_redundant(
        [choice("1080p", 1100, 95.5), choice("720p", 800, 95.2), choice("480p", 900, 90.0), choice("360p", 400, 80.0)]
    )
    assert [c.rung.name for c in kept] == ["720p", "360p"]
    assert dropped["1080p"].startswith("per title: 720p scores VMAF 95.2 at 800 kbit/s, as good as its 95.5")
    assert dropped["480p"].startswith("per title: costs 900 kbit/s, no less than 720p")
    kept, dropped = drop_redundant([choice("1080p", 5000, 95.5), choice("720p", 2800, 92.0)])
    assert len(kept) == 2 and not dropped


def test_the_lowest_rung_stays_below_the_rungs_above_it():
    low = Rung("360p", 640, 360, 800)
    points = [SamplePoint(200, 70.0), SamplePoint(400, 76.0), SamplePoint(800, 80.0)]
    choice = choose_rate(low, points, target=95.0, ceiling=1.5, top=False, at_most=500)
    assert choice.rung.video_kbps == 500 and 76.0 < choice.quality < 80.0
    assert "the lowest rung, below the rungs above it: 500 kbit/s of its 800" in choice.rung.reason
