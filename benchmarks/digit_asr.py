"""Research benchmark: could the one registry speech recogniser check which digits were read?

pocketsphinx (PyPI, BSD) ships an English acoustic model and dictionary in its wheel, so it
needs no download. Restricted by a grammar to digit words, it is given exactly the stretch of
each grid_s1 clip in which its .align file says the digit is spoken, and should hear that one
digit. Mandarin, the kiosk's language, has no registry model at all.

    pip install pocketsphinx
    python benchmarks/digit_asr.py ../shared/data/videos/grid_s1

BENCHMARKS.md quotes the output; the liveness checks do not use speech recognition.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from pocketsphinx import Decoder

from liveness.video import AUDIO_RATE, read_video

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
GRAMMAR = f"#JSGF V1.0;\ngrammar digits;\npublic <digits> = <digit>+;\n<digit> = oh | {' | '.join(DIGITS)};\n"
ALIGN_UNITS_PER_S = 25000


def spoken_digit(align: Path) -> tuple[str, float, float]:
    for line in align.read_text().splitlines():
        start, end, word = line.split()
        if word in DIGITS:
            return word, int(start) / ALIGN_UNITS_PER_S, int(end) / ALIGN_UNITS_PER_S
    raise ValueError(f"{align} names no digit")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path, help="GRID clips with .align files")
    args = ap.parse_args()
    decoder = Decoder(lm=None, samprate=AUDIO_RATE, loglevel="FATAL")
    decoder.add_jsgf_string("digits", GRAMMAR)
    decoder.activate_search("digits")
    exact = contains = 0
    seconds = []
    aligns = sorted(args.folder.glob("*.align"))
    for align in aligns:
        word, start, end = spoken_digit(align)
        audio = read_video(align.with_suffix(".mpg")).audio
        if audio is None:
            raise SystemExit(f"{align.with_suffix('.mpg')} has no sound")
        pcm = (np.clip(audio[int(start * AUDIO_RATE) : int(end * AUDIO_RATE)], -1, 1) * 32767).astype("<i2")
        t0 = time.perf_counter()
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()
        seconds.append(time.perf_counter() - t0)
        heard = decoder.hyp().hypstr.split() if decoder.hyp() else []
        exact += heard == [word]
        contains += word in heard
        print(f"{align.stem}: said {word!r}, heard {' '.join(heard) or '(nothing)'}")
    print(
        f"\n{len(aligns)} digits: heard exactly {exact}, among other words {contains - exact}, "
        f"missed {len(aligns) - contains}; median {1000 * np.median(seconds):.1f} ms per digit"
    )


if __name__ == "__main__":
    main()
