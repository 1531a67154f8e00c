"""WordNet for nltk's METEOR, built offline from Debian's ``wordnet-base`` + ``wordnet-sense-index``.

nltk normally downloads its ``wordnet`` corpus from the network. The Debian packages hold the same
WordNet 3.0 database under ``/usr/share/wordnet``; nltk reads it once the files sit under
``$NLTK_DATA/corpora/wordnet`` together with a ``lexnames`` file, which Debian ships only as the
man page ``lexnames.5WN``. ``ensure_wordnet()`` copies the files, writes ``lexnames`` and puts the
data folder on nltk's search path. It is idempotent and cheap when the corpus is already in place.

Run ``python -m neuronarrator_eval.wordnet`` to set it up by hand (prints the folder used).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
from pathlib import Path

__all__ = [
    "DEBIAN_WORDNET_DIR",
    "LEXNAMES_MAN_PAGE",
    "WordNetSetupError",
    "default_nltk_data_dir",
    "ensure_wordnet",
    "lexnames_from_man_page",
]

logger = logging.getLogger(__name__)

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
LEXNAMES_MAN_PAGE = Path("/usr/share/man/man5/lexnames.5WN.gz")
_INSTALL_HINT = "install them with `apt-get install wordnet-base wordnet-sense-index` (CI: scripts/install_system_deps.sh)"
# Files nltk's WordNetCorpusReader opens: the database proper plus the morphological exceptions and
# the sense index (used for lemma keys).
_COPY_PATTERNS = ("data.*", "index.*", "*.exc")
_POS_CODE = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
_N_LEXNAMES = 45


class WordNetSetupError(FileNotFoundError):
    """The Debian WordNet files are missing (the CLI shows this as a one-line error)."""


def default_nltk_data_dir() -> Path:
    """First folder of ``$NLTK_DATA`` if set, else ``~/nltk_data`` (nltk searches both)."""
    env = os.environ.get("NLTK_DATA")
    if env:
        return Path(env.split(os.pathsep)[0])
    return Path.home() / "nltk_data"


def lexnames_from_man_page(man_page: Path = LEXNAMES_MAN_PAGE) -> str:
    """The ``lexnames`` file (45 lines ``NN<TAB>name<TAB>pos``) rebuilt from Debian's lexnames(5WN) table."""
    if not man_page.is_file():
        raise WordNetSetupError(f"{man_page}: lexnames man page not found; {_INSTALL_HINT}")
    with gzip.open(man_page, "rt", encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    lines = []
    for match in re.finditer(r"^(\d\d)\t(\w+)\.(\w+)\s*\t", text, flags=re.MULTILINE):
        number, pos, name = match.groups()
        lines.append(f"{number}\t{pos}.{name}\t{_POS_CODE[pos]}")
    if len(lines) != _N_LEXNAMES:
        raise WordNetSetupError(f"{man_page}: expected {_N_LEXNAMES} lexicographer files in the table, found {len(lines)}")
    return "\n".join(lines) + "\n"


def _corpus_complete(target: Path) -> bool:
    return (target / "lexnames").is_file() and (target / "data.noun").is_file() and (target / "index.sense").is_file()


def ensure_wordnet(nltk_data_dir: str | os.PathLike | None = None, *, source_dir: Path = DEBIAN_WORDNET_DIR) -> Path:
    """Make ``nltk.corpus.wordnet`` loadable offline; return the corpus folder.

    Args:
        nltk_data_dir: where to place ``corpora/wordnet`` (default: ``default_nltk_data_dir()``).
        source_dir: the Debian WordNet database folder.

    Raises:
        WordNetSetupError: the Debian packages are missing (the message says how to install them).
    """
    import nltk

    root = Path(nltk_data_dir) if nltk_data_dir is not None else default_nltk_data_dir()
    target = root / "corpora" / "wordnet"
    if not _corpus_complete(target):
        if not (source_dir / "data.noun").is_file() or not (source_dir / "index.sense").is_file():
            raise WordNetSetupError(f"{source_dir}: WordNet database (data.noun, index.sense) not found; {_INSTALL_HINT}")
        lexnames = lexnames_from_man_page()
        # Write into a temporary sibling and rename, so a concurrent or killed setup never leaves a
        # half-copied corpus that nltk would then fail on.
        staging = target.with_name(f"wordnet.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for pattern in _COPY_PATTERNS:
            for path in sorted(source_dir.glob(pattern)):
                shutil.copy2(path, staging / path.name)
        (staging / "lexnames").write_text(lexnames, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            # Another process won the race; its copy is equivalent.
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("WordNet set up for nltk in %s", target)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return target


if __name__ == "__main__":
    print(ensure_wordnet())
