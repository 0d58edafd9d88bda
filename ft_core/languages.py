"""The language of a data set: an ISO 639-1 code, checked once, that every metric follows.

`check_language("pt")` returns the code; a tag with a region or script (`pt-BR`, `zh_Hant`) is reduced to its
language (`pt`, `zh`), because tokenizers and stemmers differ by language, not by region. Anything else is a
`ConfigError` naming the bad value. No torch, no metric libraries: the configs import this module.
"""

from __future__ import annotations

from ft_core.errors import ConfigError

DEFAULT_LANGUAGE = "en"

# ISO 639-1, the 183 two-letter codes in force (Library of Congress, ISO 639-2 Registration Authority list).
ISO_639_1 = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv
    dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie
    ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv
    mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm
    rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts
    tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    """.split()
)


def check_language(language: str | None) -> str:
    """The ISO 639-1 code of `language` (`"pt-BR"` -> `"pt"`); ConfigError when it is not one."""
    if language is None or not isinstance(language, str) or not language.strip():
        raise ConfigError(f"language must be an ISO 639-1 code such as 'en', 'pt' or 'zh'; got {language!r}")
    primary = language.strip().replace("_", "-").split("-")[0].lower()
    if primary not in ISO_639_1:
        hint = " (ISO 639-1 codes have two letters)" if len(primary) != 2 else ""
        raise ConfigError(
            f"language {language!r} is not an ISO 639-1 code{hint}; use e.g. 'en', 'pt', 'es', 'de', 'zh', "
            "'ar'"
        )
    return primary
