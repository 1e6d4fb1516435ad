"""First-run model downloads: checked before any model loads, resumable, cancellable, verified,
and reported (``download`` events instead of the libraries' own bars and messages).

The CLIP checkpoints come from the Hugging Face hub the way open_clip names them (``HF_ENDPOINT``,
``HF_HOME`` / ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` apply) and go to huggingface_hub's cache; the
background mask model comes from rembg's own URL (read from rembg, ``rembg_source``) into rembg's
folder (``rembg_model``). Both are fetched by ``download``: into ``<file>.incomplete`` (one stable
name per file, so a killed or failed download resumes there with an HTTP Range request on the next
run), checked against the size and checksum the source states (the hub's sha256 ETag, rembg's md5),
then moved into place. ``reporting(progress, cancel)`` routes the events of the downloads made
inside it to ``progress`` and stops them within a fraction of a second when ``cancel`` is set
(``Cancelled``; the partial file stays for the next run). ``require`` checks every model a run
needs before any is loaded and names all that can be neither found nor downloaded in one message.

What is where (this package re-exports the public names; patch a module's own attributes, e.g.
``transfer.ATTEMPTS`` or ``mask_model.rembg_source``, where they are looked up):

- ``progress``: ``reporting``, ``report`` and the cancel check (``download`` events to the run).
- ``needed``: ``Needed``, ``require`` and whether a model's server can be reached (``_reachable``).
- ``transfer``: ``download``, the resumable, verified, locked transfer of one file.
- ``hub``: OpenAI CLIP checkpoints in huggingface_hub's cache (``hub_endpoint``, ``hub_cache``,
  ``OPENAI_FILES``, ``cached_openai_checkpoint``, ``openai_checkpoint_needed``,
  ``fetch_openai_checkpoint``, ``forget_cached``).
- ``mask_model``: rembg's U^2-Net background mask model (``rembg_model``, ``rembg_source``,
  ``mask_model_needed``, ``fetch_rembg_model``).
"""
from .hub import (OPENAI_FILES, cached_openai_checkpoint, fetch_openai_checkpoint, forget_cached, hub_cache,
                  hub_endpoint, openai_checkpoint_needed)
from .mask_model import fetch_rembg_model, mask_model_needed, rembg_model, rembg_source
from .needed import Needed, require
from .progress import report, reporting
from .transfer import download

__all__ = ["OPENAI_FILES", "cached_openai_checkpoint", "fetch_openai_checkpoint", "forget_cached", "hub_cache",
           "hub_endpoint", "openai_checkpoint_needed", "fetch_rembg_model", "mask_model_needed", "rembg_model",
           "rembg_source", "Needed", "require", "report", "reporting", "download"]
