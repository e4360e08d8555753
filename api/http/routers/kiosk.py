"""The kiosk page's spoken prompts (the page itself is mounted as static files by the app)."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from api.certification.errors import NO_SUCH_PROMPT, DomainError, Kind
from api.kiosk_audio import PHRASES, VOICES, audio_dir, read_index

router = APIRouter(include_in_schema=False)


@router.get("/kiosk/audio/index.json")
def kiosk_audio_index(request: Request) -> dict[str, list[str]]:
    """The spoken prompts this install has, per language (empty when never built)."""
    spoken = audio_dir(request.app.state.service.settings.home)
    return {lang: sorted(keys) for lang, keys in read_index(spoken).items()}


@router.get("/kiosk/audio/{lang}/{key}.mp3")
def kiosk_audio(request: Request, lang: str, key: str) -> FileResponse:
    path = audio_dir(request.app.state.service.settings.home) / lang / f"{key}.mp3"
    if lang not in VOICES or key not in PHRASES or not path.is_file():
        raise DomainError(Kind.NOT_FOUND, NO_SUCH_PROMPT)
    return FileResponse(path, media_type="audio/mpeg", headers={"Cache-Control": "max-age=86400"})
