"""The walkthrough video (utils/present/walkthrough/): a short one (two slides and one UI
screenshot) built from the sample datamart and measured with ffprobe: an H.264 video and an
AAC audio stream, chapters with the slides' and the UI's titles that tile the duration,
subtitles at the spoken times, a script with the run's own numbers; skipped with exit 3
and the packages to install when the tools are absent."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from utils.present import deck
from utils.present.walkthrough import EXIT_SKIPPED, main, speakable, tools
from utils.present.walkthrough.script import UI_CHAPTERS, build_script, slide_titles


def test_speakable_reads_months_ranges_and_symbols_as_words():
    assert speakable("2023-01-01..2024-06-01") == "January 2023 to June 2024"
    assert speakable("AUC 0.719 < 0.95 in 132\u00a0s") == "A U C 0.719 below 0.95 in 132 seconds"
    assert speakable("30dpd_6mob: landing \u2192 bronze (_meta)") == \
        "30 days past due month 6 on book: landing to bronze, the meta folder"


def test_a_missing_tool_skips_with_exit_3_naming_the_packages(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng, ffmpeg or pdftoppm here
    assert main(["--datamart", str(tmp_path), "--out", str(tmp_path / "w.mp4")]) == EXIT_SKIPPED
    err = capsys.readouterr().err
    assert err.startswith("skipped: ") and "apt-get install -y espeak-ng ffmpeg poppler-utils" in err
    assert not (tmp_path / "w.mp4").exists()


def test_the_script_has_every_slide_and_the_ui_chapters_after_the_model(sample_datamart):
    facts = deck.gather_facts(sample_datamart)
    chapters = build_script(facts, deck.MAX_SLIDES, ("jupyterlab", "dagster"))
    titles = [c.title for c in chapters]
    slides = [f"{i}. {t}" for i, t in enumerate(slide_titles(facts), 1)]
    assert titles == [*slides[:8], UI_CHAPTERS["jupyterlab"][0], UI_CHAPTERS["dagster"][0], *slides[8:]]
    assert [c.sentences[c.title.startswith("1.")] for c in chapters[:8]] == \
        [h if h.endswith(".") else h + "." for h in deck.headlines(facts)[:8]]


@pytest.fixture(scope="module")
def video(sample_datamart, tmp_path_factory) -> Path:
    if absent := tools.missing():
        pytest.skip(f"{', '.join(absent)} not installed (apt-get install -y espeak-ng ffmpeg poppler-utils)")
    from PIL import Image

    folder = tmp_path_factory.mktemp("walkthrough")
    (folder / "shots").mkdir()
    Image.new("RGB", (1000, 700), "white").save(folder / "shots" / "jupyterlab.png")  # not 16:9: fitted
    out = folder / "short.mp4"
    assert main(["--datamart", str(sample_datamart), "--domain", "loan_default", "--max-slides", "2",
                 "--shots", str(folder / "shots"), "--out", str(out)]) == 0
    return out


def test_the_video_has_h264_and_aac_and_chapters_that_tile_it(video):
    info = tools.probe(video)
    kinds = {s["codec_type"]: s for s in info["streams"] if s["codec_type"] in ("video", "audio")}
    assert kinds["video"]["codec_name"] == "h264" and (kinds["video"]["width"], kinds["video"]["height"]) == (1280, 720)
    assert kinds["audio"]["codec_name"] == "aac"
    chapters = info["chapters"]
    assert [c["tags"]["title"] for c in chapters] == ["1. Title", "2. Architecture", UI_CHAPTERS["jupyterlab"][0]]
    assert float(chapters[0]["start_time"]) == 0.0
    assert all(a["end_time"] == b["start_time"] for a, b in zip(chapters, chapters[1:]))
    duration = float(info["format"]["duration"])
    assert abs(duration - float(chapters[-1]["end_time"])) < 0.25
    assert 60 < duration < 300  # two slides and one screenshot, each narrated for 20 s to a minute or so


def test_the_subtitles_follow_the_speech_and_the_script_has_the_runs_numbers(video, sample_datamart):
    facts = deck.gather_facts(sample_datamart)
    srt = video.with_suffix(".srt").read_text(encoding="utf-8")
    times = re.findall(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", srt)
    seconds = [(int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000, int(h2) * 3600 + int(m2) * 60 + int(s2) + int(ms2) / 1000)
               for h, m, s, ms, h2, m2, s2, ms2 in times]
    chapters = build_script(facts, 2, ("jupyterlab",))
    assert len(seconds) == sum(len(c.sentences) for c in chapters)
    assert all(a < b for a, b in seconds) and all(b1 <= a2 for (_, b1), (a2, _) in zip(seconds, seconds[1:]))
    assert seconds[-1][1] <= float(tools.probe(video)["format"]["duration"])
    script = video.with_suffix(".md").read_text(encoding="utf-8")
    assert deck.headlines(facts)[0] in script and deck.headlines(facts)[1] in script
    assert deck.n(facts.label.total) in script and f"{len(facts.tables)} tables" in script


def test_the_walkthrough_command_is_a_sub_command_of_main(capsys):
    from utils.cli import main as cli_main

    with pytest.raises(SystemExit) as exit_:
        cli_main(["walkthrough", "--help"])
    assert exit_.value.code == 0
    assert "python main.py walkthrough" in capsys.readouterr().out


def test_the_quality_chapter_speaks_only_of_the_domains_own_tables(sample_datamart):
    facts = deck.gather_facts(sample_datamart)
    foreign = deck.ReconcileFacts("silver/not_of_this_domain", 7, 5, 2, 1, 1)
    mixed = dataclasses.replace(facts, quality=dataclasses.replace(facts.quality,
                                                                   reconcile=(foreign, *facts.quality.reconcile)))
    quality = build_script(mixed, 5)[4]
    assert quality.title == "5. Quality"
    assert not any("not_of_this_domain" in s for s in quality.sentences)
    own = facts.quality.reconcile[0]
    assert any(s.startswith(f"{own.table.split('/')[1]}: {deck.n(own.bronze_rows)} bronze rows") for s in quality.sentences)
