"""Liveness over video frames: challenges, clip decoding, face tracking, the checks (blink,
read the digits, head turn, audio-visual sync, same person, presentation attacks, rendered
face), the attack builders and the liveness benchmark. Pure computation: it stores nothing."""
