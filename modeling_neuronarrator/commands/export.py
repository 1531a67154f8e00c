"""``neuronarrator export model|corpus|space OUT [--push REPO_ID [--private]]``: the Hub release.

Each kind writes the exact folder of its Hub repository:

- ``model``: safetensors weights, ``config.json`` with ``auto_map``, processor and tokenizer files,
  generation config, the code files (written now by ``save_pretrained`` after
  ``register_for_auto_class``, so ``trust_remote_code=True`` loads them where this package is not
  installed) and ``README.md`` with the Hub header and the ``model-index`` of the leaderboard results
  (``release_model.py``);
- ``corpus``: a built corpus' Parquet shards and dataset card, with licence and redistribution per
  source (``dataset_builder.export.export_hub_corpus``);
- ``space``: ``app.py``, ``requirements.txt``, the package code the app imports, the example
  recordings as plain files and the Spaces README header (``release_space.py``).

``--push REPO_ID`` then publishes the folder with ``huggingface_hub`` (``create_repo`` with the right
``repo_type``, ``upload_folder`` with a commit message naming the version). The token comes from
``HF_TOKEN`` or ``hf auth login``; without a token or network the command stops before anything is
created or uploaded.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path

__all__ = ["KINDS", "add_arguments", "push_folder", "run"]

logger = logging.getLogger(__name__)

# kind -> Hub repository type
KINDS = {"model": "model", "corpus": "dataset", "space": "space"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=sorted(KINDS), help="which Hub repository to write")
    parser.add_argument("out", type=Path, help="folder to write the repository into (must be empty or absent, see --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT when it already holds files")
    parser.add_argument("--push", metavar="REPO_ID", help="publish the folder to this Hub repository (e.g. user/neuronarrator)")
    parser.add_argument("--private", action="store_true", help="create the pushed repository private")
    model = parser.add_argument_group("model")
    model.add_argument("--model", type=Path, default=None, help="saved model folder (default: the embedded default model)")
    model.add_argument(
        "--results", type=Path, default=None,
        help="leaderboard results for the card's model-index: a folder of results JSON files (neuronarrator evaluate -o) "
             "or a model-index.yaml (default for the embedded model: the offline leaderboard)",
    )  # fmt: skip
    model.add_argument("--system", default=None, help="system of the results to report (default: the one evaluated model)")
    model.add_argument("--dataset", default=None, help="Hub id of the training corpus, for the card's `datasets` and model-index")
    model.add_argument("--base-model", default=None, help="Hub id of the pretrained language model the model starts from, if any")
    corpus = parser.add_argument_group("corpus")
    corpus.add_argument("--corpus", type=Path, default=None, help="a corpus folder written by `neuronarrator build-corpus --out`")
    corpus.add_argument(
        "--i-hold-the-rights", action="store_true", dest="holds_rights",
        help="export sources whose terms forbid redistribution (TUH, SEED): only with a signed agreement; they are "
             "still left out of a public push",
    )  # fmt: skip
    corpus.add_argument("--shard-rows", type=int, default=2000, help="at most this many rows per Parquet shard (default 2000)")
    space = parser.add_argument_group("space")
    space.add_argument(
        "--examples", default=None,
        help="comma-separated example recordings to ship in the Space (default: every one whose package is installed; "
             "`neuronarrator examples` lists them)",
    )  # fmt: skip


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.is_file():
        raise ValueError(f"{out}: is a file; give a folder to write the repository into")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f"{out}: folder is not empty; choose an empty or new folder, or pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _export(args: argparse.Namespace) -> None:
    if args.kind == "model":
        from .release_model import export_model

        export_model(
            args.out, model_path=args.model, results=args.results, system=args.system,
            dataset=args.dataset, base_model=args.base_model,
        )  # fmt: skip
    elif args.kind == "corpus":
        from dataset_builder.export import export_hub_corpus

        if args.corpus is None:
            raise ValueError("export corpus needs --corpus FOLDER (a corpus written by `neuronarrator build-corpus --out FOLDER`)")
        public = bool(args.push) and not args.private
        info = export_hub_corpus(args.corpus, args.out, holds_rights=args.holds_rights, public=public, shard_rows=args.shard_rows)
        if info.get("left_out"):
            print(f"left out of this public copy (their terms forbid redistribution): {', '.join(sorted(info['left_out']))}")
    else:
        from .release_space import export_space

        names = [n.strip() for n in args.examples.split(",") if n.strip()] if args.examples else None
        export_space(args.out, examples=names)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("neuronarrator")
    except PackageNotFoundError:
        return "unreleased"


def _is_network_error(error: BaseException) -> bool:
    # huggingface_hub's HTTP client raises its transport errors (connection refused, DNS, timeout,
    # proxy) from the httpx family, or OSError underneath.
    return isinstance(error, OSError) or type(error).__module__.split(".")[0] in {"httpx", "httpx2", "httpcore"}


def push_folder(folder: Path, repo_id: str, kind: str, *, private: bool = False) -> str:
    """Publish ``folder`` as the Hub repository ``repo_id`` of ``kind`` (model, corpus, space).

    The token and the network are checked first (``whoami``), so that a missing token, offline mode
    or no network stops the push before a repository is created or a file uploaded.

    Returns:
        the URL of the commit.
    """
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError

    repo_type = KINDS[kind]
    if constants.HF_HUB_OFFLINE:
        raise ValueError(f"--push {repo_id}: HF_HUB_OFFLINE is set; nothing was uploaded; unset it and run again (the folder {folder} is written)")
    token = get_token()
    if not token:
        raise ValueError(f"--push {repo_id}: no Hugging Face token; set HF_TOKEN or run `hf auth login`, then run again (nothing was uploaded)")
    api = HfApi(token=token)
    try:
        user = api.whoami()
    except HfHubHTTPError as error:
        raise ValueError(f"--push {repo_id}: the Hub refused the token ({error}); check HF_TOKEN or `hf auth login` (nothing was uploaded)") from error
    except Exception as error:
        if not _is_network_error(error):
            raise
        raise ValueError(
            f"--push {repo_id}: cannot reach {constants.ENDPOINT} ({type(error).__name__}: {error}); check the network "
            f"and run again (nothing was uploaded; the folder {folder} is written)"
        ) from error
    logger.info("pushing %s to %s (%s) as %s", folder, repo_id, repo_type, user.get("name"))
    api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, space_sdk="gradio" if repo_type == "space" else None)
    version = _version()
    commit = api.upload_folder(
        folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
        commit_message=f"NeuroNarrator {version}: {kind} release",
        commit_description=f"Written by `neuronarrator export {kind}` (neuronarrator {version}).",
    )  # fmt: skip
    return commit.commit_url


def run(args: argparse.Namespace) -> int:
    if args.private and not args.push:
        raise ValueError("--private applies to --push REPO_ID; give the repository to push to")
    if args.shard_rows < 1:
        raise ValueError(f"--shard-rows must be at least 1, got {args.shard_rows}")
    if args.kind == "corpus" and args.corpus is not None and args.out.resolve() == args.corpus.resolve():
        raise ValueError(f"{args.out}: the export folder must differ from the corpus folder --corpus; choose another OUT")
    _prepare_out(args.out, args.overwrite)
    _export(args)
    files = sorted(p for p in args.out.rglob("*") if p.is_file())
    size_mb = sum(p.stat().st_size for p in files) / 2**20
    print(f"{args.kind} repository written to {args.out}: {len(files)} files, {size_mb:.1f} MB")
    if args.push:
        url = push_folder(args.out, args.push, args.kind, private=args.private)
        print(f"pushed to {args.push}: {url}")
    return 0
