"""The video from its chapters: every sentence spoken into its own WAV (exact subtitle times),
joined into one narration track with pauses; every image fitted to the frame; one ffmpeg
call shows each image for its chapter, draws the progress bar, muxes H.264 + AAC and
writes the chapter markers (ffmetadata)."""

from __future__ import annotations

import logging
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import tools
from .script import Chapter

logger = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS = 1280, 720, 10
LEAD_S, GAP_S, TAIL_S = 0.6, 0.35, 1.2  # silence before a chapter, between sentences, after a chapter
BAR_PX, BAR_COLOR, TRACK_COLOR, PAD_COLOR = 8, "0x1F3A5F", "0xD9DEE5", "white"


@dataclass(frozen=True)
class Timeline:
    """Where everything is in the video: per chapter (start, end) and per sentence (start, end), seconds."""

    chapters: tuple[tuple[float, float], ...]
    sentences: tuple[tuple[tuple[float, float], ...], ...]

    @property
    def duration(self) -> float:
        return self.chapters[-1][1] if self.chapters else 0.0


def narrate(chapters: Sequence[Chapter], work: Path, out_wav: Path, **voice) -> Timeline:
    """Speak every sentence (espeak-ng) and join them into `out_wav` with the pauses; the timeline."""
    work.mkdir(parents=True, exist_ok=True)
    spoken = [[tools.speak(s, work / f"c{c:02d}-s{i:02d}.wav", **voice) for i, s in enumerate(ch.spoken)]
              for c, ch in enumerate(chapters)]
    first = next((w for ws in spoken for w in ws), None)
    if first is None:
        raise tools.WalkthroughError("nothing to say: the walkthrough has no sentences")
    with wave.open(str(first), "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
    frames: list[bytes] = []
    samples = 0

    def add(data: bytes) -> None:
        nonlocal samples
        frames.append(data)
        samples += len(data) // (width * channels)

    def silence(seconds: float) -> None:
        add(b"\0" * int(round(seconds * rate)) * width * channels)

    chapter_times, sentence_times = [], []
    for wavs in spoken:
        start = samples / rate
        silence(LEAD_S)
        times = []
        for wav in wavs:
            with wave.open(str(wav), "rb") as w:
                if (w.getframerate(), w.getsampwidth(), w.getnchannels()) != (rate, width, channels):
                    raise tools.WalkthroughError(f"espeak-ng changed its output format at {wav.name}")
                begin = samples / rate
                add(w.readframes(w.getnframes()))
            times.append((round(begin, 3), round(samples / rate, 3)))
            silence(GAP_S)
        silence(TAIL_S)
        chapter_times.append((round(start, 3), round(samples / rate, 3)))
        sentence_times.append(tuple(times))
    with wave.open(str(out_wav), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"".join(frames))
    return Timeline(tuple(chapter_times), tuple(sentence_times))


def fit_image(src: Path, dst: Path) -> Path:
    """`src` scaled to fit the frame, centred on white, as an RGB PNG of WIDTH x HEIGHT."""
    from PIL import Image  # Pillow: a dependency of matplotlib

    with Image.open(src) as im:
        im = im.convert("RGB")
        im.thumbnail((WIDTH, HEIGHT))
        frame = Image.new("RGB", (WIDTH, HEIGHT), PAD_COLOR)
        frame.paste(im, ((WIDTH - im.width) // 2, (HEIGHT - im.height) // 2))
        frame.save(dst)
    return dst


def _escape(text: str) -> str:
    """A value for an ffmetadata file ('=', ';', '#', '\\' and newlines escaped)."""
    for ch in ("\\", "=", ";", "#", "\n"):
        text = text.replace(ch, "\\" + ch)
    return text


def chapters_metadata(chapters: Sequence[Chapter], timeline: Timeline, title: str) -> str:
    """The ffmetadata text: the video's title and one [CHAPTER] per chapter (milliseconds)."""
    lines = [";FFMETADATA1", f"title={_escape(title)}"]
    for chapter, (start, end) in zip(chapters, timeline.chapters):
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(start * 1000)}", f"END={int(end * 1000)}",
                  f"title={_escape(chapter.title)}"]
    return "\n".join(lines) + "\n"


def _concat_list(images: Sequence[Path], timeline: Timeline) -> str:
    """An ffconcat list showing image i for chapter i's duration (the last one repeated, as the
    concat demuxer needs)."""
    lines = ["ffconcat version 1.0"]
    for image, (start, end) in zip(images, timeline.chapters):
        lines += [f"file '{image.name}'", f"duration {end - start:.3f}"]
    lines.append(f"file '{images[-1].name}'")
    return "\n".join(lines) + "\n"


def render_video(chapters: Sequence[Chapter], images: Sequence[Path], narration: Path, timeline: Timeline,
                 out: Path, work: Path, title: str) -> Path:
    """The MP4: each chapter's image for its time, a progress bar along the bottom edge,
    the narration (AAC), the chapters; H.264 at WIDTH x HEIGHT."""
    if len(images) != len(chapters):
        raise tools.WalkthroughError(f"{len(images)} images for {len(chapters)} chapters")
    frames = [fit_image(img, work / f"frame-{i:02d}.png") for i, img in enumerate(images)]
    (work / "frames.ffconcat").write_text(_concat_list(frames, timeline), encoding="utf-8")
    (work / "chapters.ffmeta").write_text(chapters_metadata(chapters, timeline, title), encoding="utf-8")
    total = timeline.duration
    graph = (f"[0:v]fps={FPS},format=yuv420p[base];"
             f"color=c={TRACK_COLOR}:s={WIDTH}x{BAR_PX}:r={FPS}[track];"
             f"color=c={BAR_COLOR}:s={WIDTH}x{BAR_PX}:r={FPS}[bar];"
             f"[base][track]overlay=x=0:y=H-h:shortest=1[tracked];"
             f"[tracked][bar]overlay=x='-w+w*t/{total:.3f}':y=H-h:eval=frame:shortest=1,format=yuv420p[v]")
    out.parent.mkdir(parents=True, exist_ok=True)
    tools.run(["ffmpeg", "-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(work / "frames.ffconcat"),
               "-i", str(narration), "-f", "ffmetadata", "-i", str(work / "chapters.ffmeta"),
               "-filter_complex", graph, "-map", "[v]", "-map", "1:a", "-map_metadata", "2", "-map_chapters", "2",
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "30",
               "-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-t", f"{total:.3f}", "-movflags", "+faststart",
               str(out)])
    logger.info("wrote %s: %d chapters, %.0f s, %.1f MB", out, len(chapters), total, out.stat().st_size / 1e6)
    return out
